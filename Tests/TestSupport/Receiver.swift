import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 server on 127.0.0.1 that records every request (method, path, headers, body)
/// and answers each with the next scripted status (200 once the script is used up): the
/// receiving end of notification sink tests. Connections are closed after each answer.
public final class Receiver: @unchecked Sendable {
    /// One request as received.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        /// Lower-case names.
        public var headers: [String: String]
        public var body: String
    }

    public let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var received: [Request] = []
    private var script: [(status: Int, headers: String)]
    private var bodies: [String]
    private let okBody: String
    private var stopped = false

    /// - Parameters:
    ///   - script: the statuses of the first answers, with extra header lines
    ///     (e.g. `"Retry-After: 1\r\n"`).
    ///   - bodies: the bodies of the first answers (then `okBody` for 2xx, an error otherwise).
    public init(script: [(Int, String)] = [], bodies: [String] = [], okBody: String = #"{"status":"ok"}"#) throws {
        self.script = script.map { (status: $0.0, headers: $0.1) }
        self.bodies = bodies
        self.okBody = okBody
        (listener, port) = try loopbackListener(backlog: 128)
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    /// The URL of a path on this server.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Every request so far, in arrival order.
    public var requests: [Request] { lock.withLock { received } }

    /// Waits until at least `count` requests arrived (or `seconds` passed); returns them.
    public func wait(for count: Int, seconds: Double = 60) -> [Request] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let now = requests
            if now.count >= count { return now }
            usleep(20_000)
        }
        return requests
    }

    /// Drops what is left of the script: every answer from now on is 200 with `okBody`.
    public func answerOK() {
        lock.withLock {
            script.removeAll()
            bodies.removeAll()
        }
    }

    public func stop() {
        let wasStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            return stopped
        }
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
            Thread { [self] in
                handle(client)
                close(client)
            }.start()
        }
    }

    private func handle(_ fd: Int32) {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var headEnd: Int?
        var request: Request?
        var contentLength = 0
        while true {
            if headEnd == nil, let end = data.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
                headEnd = end
                let lines = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
                let parts = lines[0].split(separator: " ")
                guard parts.count >= 2 else { return }
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                contentLength = Int(headers["content-length"] ?? "0") ?? 0
                request = Request(method: String(parts[0]), path: String(parts[1]), headers: headers, body: "")
            }
            if let end = headEnd, data.count - end >= contentLength { break }
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0, data.count < 16 << 20 else { return }
            data += buffer[0..<n]
        }
        guard var request, let end = headEnd else { return }
        request.body = String(decoding: data[end..<(end + contentLength)], as: UTF8.self)
        let (answer, scripted) = lock.withLock { () -> ((status: Int, headers: String), String?) in
            received.append(request)
            return (script.isEmpty ? (200, "") : script.removeFirst(), bodies.isEmpty ? nil : bodies.removeFirst())
        }
        let body = scripted ?? (answer.status < 300 ? okBody : #"{"error":"scripted"}"#)
        let text =
            "HTTP/1.1 \(answer.status) Scripted\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\(answer.headers)\r\n\(body)"
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
