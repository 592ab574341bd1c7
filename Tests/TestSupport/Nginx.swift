import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A real nginx serving a folder on 127.0.0.1, started for a test and stopped with it.
/// ETag/Last-Modified, 304s and gzip come from nginx itself.
public final class NginxServer: @unchecked Sendable {
    public let port: Int
    /// Files served at `/NAME`.
    public let root: String
    public let prefix: String
    private let process = Process()

    /// Starts nginx; `/moved.csv` redirects (301) to `/feed.csv`.
    public init() throws {
        prefix = NSTemporaryDirectory() + "plansync-nginx-\(UUID().uuidString)"
        root = prefix + "/html"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        port = try freeTCPPort()
        let config = """
            daemon off;
            master_process off;
            worker_processes 1;
            error_log \(prefix)/error.log warn;
            pid \(prefix)/nginx.pid;
            events { worker_connections 2048; }
            http {
                access_log \(prefix)/access.log;
                client_body_temp_path \(prefix)/tmp-body;
                proxy_temp_path \(prefix)/tmp-proxy;
                fastcgi_temp_path \(prefix)/tmp-fastcgi;
                uwsgi_temp_path \(prefix)/tmp-uwsgi;
                scgi_temp_path \(prefix)/tmp-scgi;
                types { text/csv csv; application/json json; text/plain txt; }
                keepalive_requests 100000;
                gzip on;
                gzip_types text/csv application/json;
                gzip_min_length 256;
                server {
                    listen 127.0.0.1:\(port);
                    root \(root);
                    location = /moved.csv { return 301 /feed.csv; }
                }
            }
            """
        try config.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
        let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let binary else {
            throw NSError(domain: "NginxServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "nginx is not installed (run .ci/install-deps)"])
        }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-p", prefix, "-c", prefix + "/nginx.conf", "-e", prefix + "/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard waitForTCP(port: port, seconds: 10) else {
            let log = (try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? ""
            process.terminate()
            throw NSError(domain: "NginxServer", code: 2, userInfo: [NSLocalizedDescriptionKey: "nginx did not start: \(log)"])
        }
    }

    deinit { stop() }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Writes a file to be served.
    public func write(_ name: String, _ text: String) throws {
        try text.write(toFile: root + "/" + name, atomically: true, encoding: .utf8)
    }

    /// The access log lines (status and bytes per request), waiting up to 2 s for at least
    /// `count` lines: nginx writes a line just after the response has gone out.
    public func accessLog(atLeast count: Int = 0) -> [String] {
        let deadline = Date().addingTimeInterval(2)
        while true {
            let lines = ((try? String(contentsOfFile: prefix + "/access.log", encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init)
            if lines.count >= count || Date() > deadline { return lines }
            usleep(10_000)
        }
    }

    public func stop() {
        // SIGKILL: a process started by Foundation inherits a blocked signal mask, and nginx in
        // single-process mode never unblocks SIGTERM. Not waiting keeps test threads free.
        let pid = process.processIdentifier
        if pid > 0 { kill(pid, SIGKILL) }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// True once something accepts connections on 127.0.0.1:port.
public func waitForTCP(port: Int, seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let ok =
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
        close(fd)
        if ok { return true }
        usleep(20_000)
    }
    return false
}

/// Peak resident memory of this process so far, in bytes.
public func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// Threads of this process right now.
public func threadCount() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") } ?? ""
    return Int(line.split(separator: "\t").last.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
}
