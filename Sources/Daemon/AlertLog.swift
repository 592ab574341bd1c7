import Foundation
import Configuration
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

/// The JSON-lines alert log, the first `AlertSink`. Events are committed to the mirror
/// first; delivery appends every event after the log's cursor, skipping those the log
/// already ends with, so a crash at any point neither loses nor repeats a line. The file is
/// opened for each delivery (so a rotated log is picked up by itself) and never truncated.
public struct AlertLog: AlertSink {
    public let path: String
    /// A deliberate crash point for the exactly-once tests (`PLANSYNC_FAULT`).
    let fault: FaultPoint?
    public let id = "alert_log"
    public let startsAtBeginning = true

    public init(path: String, fault: FaultPoint? = FaultPoint.fromEnvironment) {
        self.path = path
        self.fault = fault
    }

    /// Appends the events the log does not end with yet; returns the last event's seq.
    public func deliver(_ events: [StoredEvent]) async throws -> Int? {
        guard let last = events.last else { return nil }
        let alreadyLogged = AlertLog.lastSeq(in: path) ?? 0
        try append(events.filter { $0.seq > alreadyLogged }.map(\.line))
        fault?.trigger(.afterAlertLog)
        return last.seq
    }

    /// Writes the mirror's events not yet in the log and moves its cursor; returns how many
    /// events it confirmed.
    @discardableResult
    public func deliver(from mirror: Mirror) async throws -> Int {
        try await SinkDelivery.run(self, mirror: mirror)
    }

    /// Appends lines with one write(2) each, then fsyncs. The log must be a regular file
    /// named directly (see `AlertLogOpen.open`), so no write waits on a reader or a device.
    func append(_ lines: [String]) throws(AlertLogError) {
        guard !lines.isEmpty else { return }
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let fd = try AlertLogOpen.open(path, flags: O_RDWR | O_APPEND | O_CREAT)
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

    /// The `seq` of the last complete line of the log, if any. Reads backwards in 64 KiB
    /// chunks, so a last line of any length is found with bounded memory (an earlier version
    /// read only the last 64 KiB and missed a longer line, writing its event twice after a
    /// crash), and only a regular file is read (a device such as /dev/full never ends).
    static func lastSeq(in path: String) -> Int? {
        guard let fd = try? AlertLogOpen.open(path, flags: O_RDONLY) else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let chunk = 65536
        var buffer = [UInt8](repeating: 0, count: chunk)
        /// Reads `count` bytes at `offset` into `buffer` (fewer at the end of the file).
        func read(at offset: Int, count: Int) -> ArraySlice<UInt8>? {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n < 0 ? nil : buffer[0..<n]
        }
        // Walk lines from the end: `end` is the offset just past a line's last byte (its
        // newline excluded). A line counts when it ends with '}' and starts with our fields.
        var end = Int(info.st_size)
        if end > 0, let last = read(at: end - 1, count: 1), last.first == 0x0A { end -= 1 }
        var linesSeen = 0
        while end > 0, linesSeen < 1000 {
            // Find the start of the line ending at `end`.
            var start = 0
            var cursor = end
            search: while cursor > 0 {
                let from = max(0, cursor - chunk)
                guard let bytes = read(at: from, count: cursor - from) else { return nil }
                if let newline = bytes.lastIndex(of: 0x0A) {
                    start = from + newline + 1
                    break search
                }
                cursor = from
            }
            linesSeen += 1
            if end > start, let lastByte = read(at: end - 1, count: 1), lastByte.first == UInt8(ascii: "}"),
                let head = read(at: start, count: min(256, end - start)), let seq = seqField(head)
            {
                return seq
            }
            end = start - 1
        }
        return nil
    }

    /// The number after the first `"seq":` of a line's start (`{"time":"...","seq":N,...`).
    static func seqField(_ head: ArraySlice<UInt8>) -> Int? {
        let key = Array(#""seq":"#.utf8)
        guard head.first == UInt8(ascii: "{"), head.count >= key.count else { return nil }
        var i = head.startIndex
        while i + key.count <= head.endIndex {
            if head[i..<(i + key.count)].elementsEqual(key) {
                var value = 0, digits = 0
                var j = i + key.count
                while j < head.endIndex, (0x30...0x39).contains(head[j]), digits < 18 {
                    value = value * 10 + Int(head[j] - 0x30)
                    digits += 1
                    j += 1
                }
                return digits > 0 ? value : nil
            }
            i += 1
        }
        return nil
    }
}

/// Opening the alert log safely (what may be the log is `AlertLogFile`'s rule).
enum AlertLogOpen {
    /// Opens the log without following a symbolic link and without blocking (a FIFO opens at
    /// once instead of waiting for a reader), then refuses anything but a regular file.
    static func open(_ path: String, flags: Int32) throws(AlertLogError) -> Int32 {
        let fd = Glibc.open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0o640)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP { throw AlertLogError(path: path, message: AlertLogFile.kindProblem(S_IFLNK) ?? "") }
            if code == ENXIO { throw AlertLogError(path: path, message: AlertLogFile.kindProblem(S_IFIFO) ?? "") }
            throw AlertLogError(path: path, message: String(cString: strerror(code)))
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw AlertLogError(path: path, message: message)
        }
        if let problem = AlertLogFile.kindProblem(info.st_mode) {
            close(fd)
            throw AlertLogError(path: path, message: problem)
        }
        // Regular files never block; clear the flag so writes behave as usual.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }
}

/// Deliberate crash points for the exactly-once tests (`PLANSYNC_FAULT=...`).
public struct FaultPoint: Sendable {
    public enum Point: String, Sendable {
        /// Events committed to the mirror, nothing written to the log.
        case beforeAlertLog = "crash-before-alert-log"
        /// Lines appended to the log, not yet marked written in the mirror.
        case afterAlertLog = "crash-after-alert-log"
        /// The cycle blocks for good where the alert log is written (as a write to a FIFO
        /// nobody reads did), for the watchdog's stall test.
        case hangBeforeAlertLog = "hang-before-alert-log"
    }

    let point: Point

    /// The fault named by `PLANSYNC_FAULT`, if any.
    public static var fromEnvironment: FaultPoint? {
        ProcessInfo.processInfo.environment["PLANSYNC_FAULT"].flatMap(Point.init(rawValue:)).map(FaultPoint.init)
    }

    /// Kills this process with SIGKILL when `here` is the configured point.
    public func trigger(_ here: Point) {
        if here == point { kill(getpid(), SIGKILL) }
        if here == .beforeAlertLog, point == .hangBeforeAlertLog {
            while true { sleep(3600) }
        }
    }
}
