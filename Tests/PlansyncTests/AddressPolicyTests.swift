import Foundation
import Testing
import TestSupport

/// Redirects to private addresses (issue 14, item 8), tested inside a network namespace this
/// test creates (`unshare -rn`): its own loopback carries a "public" address (203.0.113.10),
/// a private one (10.1.2.3) and the cloud metadata address (169.254.169.254), all served by
/// the test's own server. Nothing leaves the namespace, which has no other interface.
@Suite(.serialized) struct AddressPolicyTests {
    static let server = #"""
        import http.server, socketserver, sys
        port = int(sys.argv[1]); log = open(sys.argv[2], "a", buffering=1)
        targets = {"/to-metadata": "169.254.169.254", "/to-private": "10.1.2.3", "/to-loopback": "127.0.0.1",
                   "/to-localhost": "localhost", "/to-public": "203.0.113.10"}
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                log.write(self.headers.get("Host", "") + " " + self.path + "\n")
                if self.path in targets:
                    self.send_response(302); self.send_header("Location", "http://%s:%d/feed.csv" % (targets[self.path], port))
                    self.send_header("Content-Length", "0"); self.end_headers(); return
                body = b"indicator,period,measure,value\ngdp,2022,growth,3.0\n"
                self.send_response(200); self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        with socketserver.ThreadingTCPServer(("0.0.0.0", port), H) as s:
            s.timeout = 1
            import time; end = time.time() + 60
            while time.time() < end: s.handle_request()
        """#

    @Test func redirectsToLoopbackPrivateAndLinkLocalAddressesAreRefusedBeforeConnecting() throws {
        let dir = try scratchFolder()
        try AddressPolicyTests.server.write(toFile: dir + "/server.py", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/plans", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: PlansyncProcess.root.appendingPathComponent("Config/plans/futian-2023.toml").path,
            toPath: dir + "/plans/futian-2023.toml")
        let port = 18_080
        let feeds: [(String, String, String)] = [
            ("public", "203.0.113.10", "/feed.csv"), ("redirect-metadata", "203.0.113.10", "/to-metadata"),
            ("redirect-private", "203.0.113.10", "/to-private"), ("redirect-loopback", "203.0.113.10", "/to-loopback"),
            ("redirect-localhost", "203.0.113.10", "/to-localhost"), ("redirect-public", "10.1.2.3", "/to-public"),
            ("private", "10.1.2.3", "/feed.csv"), ("private-same-host", "10.1.2.3", "/to-private"),
            ("loopback", "127.0.0.1", "/feed.csv"), ("metadata", "169.254.169.254", "/feed.csv"),
            ("metadata-allowed", "169.254.169.254", "/feed.csv"),
        ]
        var config = """
            database = "state/mirror.sqlite"
            socket = "state/status.sock"
            alert_log = "state/alerts.jsonl"
            plans = ["plans/*.toml"]
            [defaults]
            retries = 0
            timeout = "5s"

            """
        for (id, host, path) in feeds {
            config += "[[feed]]\nid = \"\(id)\"\nplan = \"futian-2023\"\nurl = \"http://\(host):\(port)\(path)\"\nformat = \"csv\"\n"
            if id == "metadata-allowed" { config += "allow_link_local = true\n" }
        }
        try config.write(toFile: dir + "/plansync.toml", atomically: true, encoding: .utf8)
        let script = """
            set -e
            ip link set lo up
            ip addr add 203.0.113.10/32 dev lo
            ip addr add 10.1.2.3/32 dev lo
            ip addr add 169.254.169.254/32 dev lo
            /usr/bin/python3 '\(dir)/server.py' \(port) '\(dir)/requests.log' &
            server=$!
            for i in $(seq 50); do (echo > /dev/tcp/127.0.0.1/\(port)) 2>/dev/null && break; sleep 0.1; done
            env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
                '\(PlansyncProcess.binary)' sync --config '\(dir)/plansync.toml' --json > '\(dir)/out.json' 2> '\(dir)/err.log' || true
            kill -9 $server
            """
        try script.write(toFile: dir + "/run.sh", atomically: true, encoding: .utf8)
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        shell.arguments = ["-rn", "/bin/bash", dir + "/run.sh"]
        try shell.run()
        let deadline = Date().addingTimeInterval(90)
        while shell.isRunning, Date() < deadline { usleep(50_000) }
        if shell.isRunning { shell.terminate() }
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0, "the namespace could not be set up")
        let output = try Data(contentsOf: URL(fileURLWithPath: dir + "/out.json"))
        let json = try #require(
            try JSONSerialization.jsonObject(with: output) as? [String: Any],
            "\((try? String(contentsOfFile: dir + "/err.log", encoding: .utf8)) ?? "")")
        let reports = (json["feeds"] as? [[String: Any]]) ?? []
        var outcome: [String: String] = [:]
        var message: [String: String] = [:]
        for r in reports {
            outcome[r["id"] as? String ?? ""] = r["outcome"] as? String
            message[r["id"] as? String ?? ""] = r["message"] as? String
        }
        let expected: [String: String] = [
            "public": "ok", "redirect-metadata": "refused_address", "redirect-private": "refused_address",
            "redirect-loopback": "refused_address", "redirect-localhost": "refused_address", "redirect-public": "ok",
            "private": "ok", "private-same-host": "ok", "loopback": "ok", "metadata": "refused_address", "metadata-allowed": "ok",
        ]
        for (id, want) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(outcome[id] == want, "\(id): \(outcome[id] ?? "-") \(message[id] ?? "")")
        }
        #expect(message["redirect-metadata"]?.contains("169.254.169.254") == true)
        #expect(message["redirect-metadata"]?.contains("allow_link_local") == true)
        #expect(
            message["redirect-localhost"].map { $0.contains("127.0.0.1") || $0.contains("::1") } == true,
            "the resolved address is checked, not the URL text: \(message["redirect-localhost"] ?? "")")
        // The refused targets never got a request: only the allowed feeds reached them.
        let requests = (try String(contentsOfFile: dir + "/requests.log", encoding: .utf8)).split(separator: "\n")
        #expect(requests.filter { $0.hasPrefix("169.254.169.254") }.count == 1, "only metadata-allowed: \(requests)")
        #expect(requests.filter { $0.hasPrefix("127.0.0.1") }.count == 1, "only loopback: \(requests)")
        #expect(requests.filter { $0.hasPrefix("localhost") }.isEmpty)
        #expect(requests.filter { $0.hasPrefix("10.1.2.3") }.count == 4, "private, private-same-host twice, redirect-public: \(requests)")
    }
}
