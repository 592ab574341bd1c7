import Configuration
import Foundation
import Logging
import Mirror
import Testing
@testable import Daemon
@testable import Fetch
import PlanCore
#if canImport(Glibc)
    import Glibc
#endif

/// The alert log is a regular file, its tail is read with bounded memory whatever the file
/// is, and the last `seq` is found whatever the length of the last line.
@Suite struct AlertLogTests {
    /// A folder of its own with `state/` in it.
    private func folder() throws -> String {
        let path = NSTemporaryDirectory() + "plansync-alertlog-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path + "/state", withIntermediateDirectories: true)
        return path
    }

    private func line(_ seq: Int, message: String = "m") -> String {
        #"{"time":"2026-12-01T00:00:00Z","seq":\#(seq),"event":"firing","message":\#(JSONValue.string(message).text)}"#
    }

    @Test func theLastSeqIsFoundWhateverTheLengthOfTheLastLine() throws {
        let dir = try folder()
        let path = dir + "/state/alerts.jsonl"
        // 400 KB: the old reader looked at the last 64 KiB only and found no seq there.
        let long = line(8, message: String(repeating: "x", count: 400_000))
        try (line(7) + "\n" + long + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(AlertLog.lastSeq(in: path) == 8)
        // A long last line cut short (no closing brace) does not count; the one before does.
        try (line(7) + "\n" + String(long.dropLast(5))).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(AlertLog.lastSeq(in: path) == 7)
        // Lines longer than a read chunk before the last one are walked over too.
        try (line(6) + "\n" + String(long.dropLast(5)) + "\n" + String(long.dropLast(9)) + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(AlertLog.lastSeq(in: path) == 6)
        // Empty, missing and seq-less files.
        try "".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(AlertLog.lastSeq(in: path) == nil)
        #expect(AlertLog.lastSeq(in: dir + "/nothing") == nil)
        try "{\"no\":1}\n\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(AlertLog.lastSeq(in: path) == nil)
    }

    @Test func devicesAreNeverReadOrWritten() throws {
        // /dev/zero and /dev/full never end when read: the tail reader refuses them at once.
        let started = Date()
        #expect(AlertLog.lastSeq(in: "/dev/zero") == nil)
        #expect(AlertLog.lastSeq(in: "/dev/full") == nil)
        #expect(Date().timeIntervalSince(started) < 5)
        let error = #expect(throws: AlertLogError.self) { try AlertLog(path: "/dev/full").append([line(1)]) }
        #expect(error?.message.contains("a character device") == true)
        #expect(AlertLogFile.problem("/dev/full")?.contains("character device") == true)
        #expect(AlertLogFile.problem("/dev/null")?.contains("character device") == true)
    }

    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let dir = try folder()
        let fifo = dir + "/state/alerts.jsonl"
        #expect(mkfifo(fifo, 0o600) == 0)
        // Nobody reads the FIFO: opening it for writing used to block for good.
        let started = Date()
        let error = #expect(throws: AlertLogError.self) { try AlertLog(path: fifo).append([line(1)]) }
        #expect(error?.message.contains("FIFO") == true)
        #expect(AlertLog.lastSeq(in: fifo) == nil)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(AlertLogFile.problem(fifo)?.contains("FIFO") == true)
    }

    @Test func aSymbolicLinkIsNotFollowed() throws {
        let dir = try folder()
        let target = dir + "/state/other.file"
        try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
        let link = dir + "/state/alerts.jsonl"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let error = #expect(throws: AlertLogError.self) { try AlertLog(path: link).append([line(1)]) }
        #expect(error?.message.contains("symbolic link") == true)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        #expect(AlertLogFile.problem(link)?.contains("symbolic link") == true)
        #expect(AlertLogFile.problem(target) == nil)
        #expect(AlertLogFile.problem(dir + "/state/missing") == nil)
    }

    @Test func theConfigurationRefusesAnAlertLogThatIsNotARegularFile() throws {
        let ws = try Workspace()
        try FileManager.default.createDirectory(atPath: ws.path + "/state", withIntermediateDirectories: true)
        #expect(mkfifo(ws.path + "/state/alerts.jsonl", 0o600) == 0)
        let error = #expect(throws: ConfigError.self) { try ws.config(feeds: "") }
        #expect(error?.keyPath == "alert_log")
        #expect(error?.description.contains("FIFO") == true)
    }

    @Test func echoedValuesAreBoundedSoLinesStaySmall() async throws {
        // A 200 KB bad field: the error (and so last_error and the feed_failing alert line) stays small.
        let ws = try Workspace()
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,\(String(repeating: "9x", count: 100_000)),%,,,\n")
        let config = try ws.config(feeds: feedSection("a", "file:feeds/a.csv", extra: "failing_after = 1"))
        let report = try await ws.syncer(config).run()
        let message = try #require(report.feeds.first?.message)
        #expect(message.utf8.count < 2 * DisplayText.messageLimit)
        #expect(message.contains("…("))
        for line in ws.alertLines() { #expect(line.utf8.count < 8192) }
        #expect(ws.alertLines().contains { $0.contains("feed_failing") })
    }
}
