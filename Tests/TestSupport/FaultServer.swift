import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A deliberately misbehaving HTTP/1.1 server on 127.0.0.1 for fetch tests. Each path is
/// one behaviour (see `respond`). Every behaviour ends by itself within 30 s.
public final class FaultServer: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var stopped = false
    /// A gzip body served at `/bomb` with `Content-Encoding: gzip`.
    private let bomb: [UInt8]

    public init(bomb: [UInt8] = []) throws {
        self.bomb = bomb
        (listener, port) = try loopbackListener(backlog: 512)
        start()
    }

    private func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// The URL of a path on this server.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// How many requests a path has received.
    public func requests(_ path: String) -> Int { lock.withLock { counts[path] ?? 0 } }

    public func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        lock.unlock()
        guard !wasStopped else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if lock.withLock({ stopped }) { return }
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let thread = Thread { [self] in
                handle(client)
                close(client)
            }
            thread.start()
        }
    }

    private func handle(_ fd: Int32) {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !head.containsTerminator() {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0, head.count < 65536 else { return }
            head += buffer[0..<n]
        }
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2 else { return }
        let path = String(parts[1])
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let count = lock.withLock { () -> Int in
            counts[path, default: 0] += 1
            return counts[path]!
        }
        respond(fd, path: path, headers: headers, count: count)
    }

    private func send(_ fd: Int32, _ text: String) -> Bool { send(fd, Array(text.utf8)) }

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    private func simple(_ fd: Int32, status: String, body: String, extra: String = "", type: String = "text/plain") {
        _ = send(fd, "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\(extra)\r\n\(body)")
    }

    /// The body `/ok` and `/flaky` answer with.
    public static let csv = "indicator,period,measure,value\ngdp,2023,growth,5.4\n"

    private func respond(_ fd: Int32, path: String, headers: [String: String], count: Int) {
        let parts = path.split(separator: "/").map(String.init)
        switch parts.first ?? "" {
        case "ok":
            simple(fd, status: "200 OK", body: FaultServer.csv, type: "text/csv")
        case "status":
            simple(fd, status: "\(parts.count > 1 ? parts[1] : "500") Oops", body: "error \(parts.count > 1 ? parts[1] : "")\n")
        case "retry-after":
            simple(fd, status: "503 Service Unavailable", body: "busy\n", extra: "Retry-After: \(parts.count > 1 ? parts[1] : "1")\r\n")
        case "retry-after-date":
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "GMT")
            f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let when = f.string(from: Date().addingTimeInterval(2))
            simple(fd, status: "503 Service Unavailable", body: "busy\n", extra: "Retry-After: \(when)\r\n")
        case "too-many":
            simple(fd, status: "429 Too Many Requests", body: "slow down\n", extra: "Retry-After: 0\r\n")
        case "flaky":
            // The first N requests fail with 503, then the feed answers.
            let failures = Int(parts.count > 1 ? parts[1] : "1") ?? 1
            if count <= failures {
                simple(fd, status: "503 Service Unavailable", body: "down\n")
            } else {
                simple(fd, status: "200 OK", body: FaultServer.csv, type: "text/csv")
            }
        case "validators":
            if headers["if-none-match"] == "\"v1\"" {
                _ = send(fd, "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n")
            } else {
                simple(fd, status: "200 OK", body: FaultServer.csv, extra: "ETag: \"v1\"\r\n", type: "text/csv")
            }
        case "truncated":
            _ = send(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nindicator,")
        case "endless":
            // No length: bytes until the client gives up (bounded at 1 GiB and 30 s).
            guard send(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\n") else { return }
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 65536)
            let deadline = Date().addingTimeInterval(30)
            for _ in 0..<16384 where Date() < deadline {
                if !send(fd, chunk) { return }
            }
        case "trickle":
            guard send(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n") else { return }
            for _ in 0..<150 {
                if !send(fd, "x") { return }
                usleep(200_000)
            }
        case "bomb":
            guard send(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Encoding: gzip\r\nContent-Length: \(bomb.count)\r\nConnection: close\r\n\r\n")
            else { return }
            _ = send(fd, bomb)
        case "loop":
            simple(fd, status: "302 Found", body: "", extra: "Location: /loop/\(count)\r\n")
        case "to-file":
            simple(fd, status: "302 Found", body: "", extra: "Location: file:///etc/passwd\r\n")
        case "to-ftp":
            simple(fd, status: "302 Found", body: "", extra: "Location: ftp://127.0.0.1:\(port)/data.csv\r\n")
        case "html":
            simple(fd, status: "200 OK", body: "<html><body><h1>Site maintenance</h1></body></html>\n", type: "text/html; charset=utf-8")
        case "sleep":
            // Answers after N seconds (at most 30).
            usleep(UInt32(min(30, Int(parts.count > 1 ? parts[1] : "1") ?? 1)) * 1_000_000)
            simple(fd, status: "200 OK", body: FaultServer.csv, type: "text/csv")
        case "slow-headers":
            usleep(8_000_000)
            simple(fd, status: "200 OK", body: FaultServer.csv)
        case "garbage":
            _ = send(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n")
        default:
            simple(fd, status: "404 Not Found", body: "no such path\n")
        }
    }
}

extension Array where Element == UInt8 {
    func containsTerminator() -> Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 { return true }
        return false
    }
}

/// A TCP socket listening on 127.0.0.1 at a port the kernel picked: the descriptor and port.
func loopbackListener(backlog: Int32) throws -> (Int32, Int) {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var yes: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(listener, backlog) == 0 else {
        close(listener)
        throw POSIXError(.EADDRINUSE)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
    }
    return (listener, Int(UInt16(bigEndian: address.sin_port)))
}
