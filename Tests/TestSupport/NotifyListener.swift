import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A stand-in for systemd's notification socket: binds a Unix datagram socket and records
/// every message a daemon sends to `NOTIFY_SOCKET`.
public final class NotifyListener: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private var closed = false

    public init() throws {
        path = NSTemporaryDirectory() + "notify-\(UUID().uuidString.prefix(8)).sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread { [self] in receive() }.start()
    }

    deinit { stop() }

    public func stop() {
        lock.lock()
        let was = closed
        closed = true
        lock.unlock()
        if !was { unlink(path) }
    }

    private func receive() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !lock.withLock({ closed }) {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { lock.withLock { received.append(String(decoding: buffer[0..<n], as: UTF8.self)) } }
        }
        close(fd)
    }

    /// Every message so far.
    public var messages: [String] { lock.withLock { received } }

    /// Waits up to `seconds` for a message containing `text`; true when one came.
    public func wait(for text: String, seconds: Double = 10, after index: Int = 0) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if messages.dropFirst(index).contains(where: { $0.contains(text) }) { return true }
            usleep(20_000)
        }
        return false
    }
}
