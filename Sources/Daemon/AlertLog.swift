import Foundation
import Mirror
#if canImport(Glibc)
import Glibc
#endif

/// The alert log could not be written; the events stay in the mirror and are written next time.
public struct AlertLogError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "alert log \(path): \(message)" }
}

/// The JSON-lines alert log (DESIGN §6). Events are committed to the mirror first; delivery
/// appends every event not yet confirmed, skipping those the log already ends with, so a
/// crash at any point neither loses nor repeats a line. The file is opened for each
/// delivery (so a rotated log is picked up by itself) and never truncated.
public struct AlertLog: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Writes the mirror's unwritten events and marks them written; returns how many lines were appended.
    @discardableResult
    public func deliver(from mirror: Mirror, fault: FaultPoint? = FaultPoint.fromEnvironment) async throws -> Int {
        let pending = try await mirror.unwrittenEvents()
        guard let last = pending.last else { return 0 }
        let alreadyLogged = AlertLog.lastSeq(in: path) ?? 0
        let toWrite = pending.filter { $0.seq > alreadyLogged }
        try append(toWrite.map(\.line))
        fault?.trigger(.afterAlertLog)
        try await mirror.markWritten(through: last.seq)
        return toWrite.count
    }

    /// Appends lines with one write(2) each, then fsyncs.
    func append(_ lines: [String]) throws(AlertLogError) {
        guard !lines.isEmpty else { return }
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw AlertLogError(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        // A line cut short by a full disk is ended before anything new is appended.
        var prefix = ""
        var info = stat()
        if fstat(fd, &info) == 0, info.st_size > 0 {
            var lastByte: UInt8 = 0
            if pread(fd, &lastByte, 1, info.st_size - 1) == 1, lastByte != 0x0A { prefix = "\n" }
        }
        for (i, line) in lines.enumerated() {
            let bytes = Array(((i == 0 ? prefix : "") + line + "\n").utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw AlertLogError(path: path, message: String(cString: strerror(errno)))
                }
                offset += n
            }
        }
        if fsync(fd) != 0 { throw AlertLogError(path: path, message: "fsync: \(String(cString: strerror(errno)))") }
    }

    /// The `seq` of the last complete line of the log, if any.
    static func lastSeq(in path: String) -> Int? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let window: UInt64 = min(size, 65536)
        try? handle.seek(toOffset: size - window)
        guard let data = try? handle.readToEnd() else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        for line in lines.reversed() {
            guard let range = line.range(of: "\"seq\":") else { continue }
            let digits = line[range.upperBound...].prefix { $0.isNumber }
            if let seq = Int(digits), line.hasSuffix("}") { return seq }
        }
        return nil
    }
}

/// Deliberate crash points for the exactly-once tests (`PLANSYNC_FAULT=...`).
public struct FaultPoint: Sendable {
    public enum Point: String, Sendable {
        /// Events committed to the mirror, nothing written to the log.
        case beforeAlertLog = "crash-before-alert-log"
        /// Lines appended to the log, not yet marked written in the mirror.
        case afterAlertLog = "crash-after-alert-log"
    }

    let point: Point

    /// The fault named by `PLANSYNC_FAULT`, if any.
    public static var fromEnvironment: FaultPoint? {
        ProcessInfo.processInfo.environment["PLANSYNC_FAULT"].flatMap(Point.init(rawValue:)).map(FaultPoint.init)
    }

    /// Kills this process with SIGKILL when `here` is the configured point.
    public func trigger(_ here: Point) {
        if here == point { kill(getpid(), SIGKILL) }
    }
}
