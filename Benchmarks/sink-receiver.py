#!/usr/bin/env python3
"""A webhook receiver for bench-sinks.sh: records when each event (Idempotency-Key) arrives,
and when each line appears in the alert log it tails, then prints both as TSV on SIGTERM.
Listens on 127.0.0.1 only; HTTP/1.1 keep-alive."""
import http.server, json, os, signal, socket, sys, threading, time

port_file, log_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
arrivals = {}
appeared = {}
lock = threading.Lock()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        key = self.headers.get("Idempotency-Key")
        now = time.time()
        with lock:
            if key is not None and key not in arrivals:
                arrivals[key] = now
        body = b'{"status":"ok"}'
        # One write for the whole answer: headers and body written apart meet Nagle's
        # algorithm and the client's delayed ACK (40 ms an event).
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    def log_message(self, *args):
        pass

def tail():
    offset = 0
    pending = b""
    while True:
        try:
            with open(log_path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        if data:
            now = time.time()
            offset += len(data)
            pending += data
            *lines, pending = pending.split(b"\n")
            with lock:
                for line in lines:
                    try:
                        appeared[str(json.loads(line)["seq"])] = now
                    except Exception:
                        pass
        time.sleep(0.005)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file, "w") as f:
    f.write(str(server.server_address[1]))
threading.Thread(target=tail, daemon=True).start()

def stop(*_):
    with lock, open(out_path, "w") as out:
        for key, at in arrivals.items():
            out.write(f"{key}\t{at:.6f}\t{appeared.get(key, 0):.6f}\n")
    os._exit(0)

signal.signal(signal.SIGTERM, stop)
server.serve_forever()
