import Configuration
import Foundation
import Logging
import Mirror
import PlanCore
import Testing
@testable import Daemon
@testable import Fetch
#if canImport(Glibc)
    import Glibc
#endif

/// A sink for tests: records what it was given, and fails while told to.
final class RecordingSink: AlertSink, @unchecked Sendable {
    let id: String
    let startsAtBeginning: Bool
    private let lock = NSLock()
    private var seqs: [Int] = []
    private var broken = false

    init(id: String = "recording", startsAtBeginning: Bool = true) {
        self.id = id
        self.startsAtBeginning = startsAtBeginning
    }

    var received: [Int] { lock.withLock { seqs } }
    func setBroken(_ value: Bool) { lock.withLock { broken = value } }

    func deliver(_ events: [StoredEvent]) async throws -> Int? {
        try lock.withLock {
            if broken { throw POSIXError(.ECONNREFUSED) }
            seqs += events.map(\.seq)
        }
        return events.last?.seq
    }
}

/// A second destination of alert events needs no change to judging or to the alert log:
/// each sink keeps its own cursor and one failing holds up no other.
@Suite struct AlertSinkTests {
    @Test func aSecondSinkGetsEveryEventOnceAndNeitherSinkHoldsUpTheOther() async throws {
        let ws = try Workspace()
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,3.0,%,,,\nretail_sales,2022,growth,1.0,%,,,\n")
        let config = try ws.config(feeds: feedSection("a", "file:feeds/a.csv"))
        let mirror = try Mirror(path: config.database)
        let sink = RecordingSink()
        func syncer() -> Syncer {
            Syncer(config: config, mirror: mirror, engine: FetchEngine(), logger: Logger(label: "t"), sinks: [sink])
        }
        _ = try await syncer().run()
        #expect(sink.received == [1, 2])
        #expect(ws.alertLines().count == 2)

        // The alert log breaks (a FIFO took its place): the other sink still gets the new event.
        try FileManager.default.removeItem(atPath: config.alertLog)
        #expect(mkfifo(config.alertLog, 0o600) == 0)
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,6.5,%,,,\nretail_sales,2022,growth,1.0,%,,,\n")
        let broken = try await syncer().run()
        #expect(broken.alertLogError != nil)
        #expect(sink.received == [1, 2, 3])
        #expect(try await mirror.sinkCursor("alert_log") == 2)
        #expect(try await mirror.sinkCursor("recording") == 3)

        // The other sink breaks and the log is a file again: the log catches up, once.
        sink.setBroken(true)
        try FileManager.default.removeItem(atPath: config.alertLog)
        try (ws.alertLinesText(of: [])).write(toFile: config.alertLog, atomically: true, encoding: .utf8)
        let logOnly = try await syncer().run()
        #expect(logOnly.alertLogError == nil)
        #expect(ws.alertLines().map { $0.contains("\"seq\":3,") } == [true])
        #expect(sink.received == [1, 2, 3])
        // ...and the sink catches up when it works again: nothing was lost meanwhile.
        sink.setBroken(false)
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,3.0,%,,,\nretail_sales,2022,growth,1.0,%,,,\n")
        _ = try await syncer().run()
        #expect(sink.received == [1, 2, 3, 4])
        #expect(ws.alertLines().count == 2)
    }

    @Test func aNewSinkCanStartAtTheEndOfTheStream() async throws {
        let ws = try Workspace()
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,3.0,%,,,\n")
        let config = try ws.config(feeds: feedSection("a", "file:feeds/a.csv"))
        let mirror = try Mirror(path: config.database)
        _ = try await Syncer(config: config, mirror: mirror, engine: FetchEngine(), logger: Logger(label: "t")).run()
        let late = RecordingSink(id: "late", startsAtBeginning: false)
        try await SinkDelivery.run(late, mirror: mirror)
        #expect(late.received.isEmpty)
        #expect(try await mirror.sinkCursor("late") == 1)
        let early = RecordingSink(id: "early")
        try await SinkDelivery.run(early, mirror: mirror)
        #expect(early.received == [1])
    }
}

extension Workspace {
    /// Alert log text made of these lines (empty: an empty file).
    func alertLinesText(of lines: [String]) -> String { lines.map { $0 + "\n" }.joined() }
}

/// How notification sinks show acknowledgement events.
@Suite struct AcknowledgementMessageTests {
    static func event(_ kind: String, muted: String? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("time", .string("2026-12-01T00:00:00Z")), ("seq", .int(9)), ("event", .string(kind)), ("alert", .string("target_missed")),
            ("severity", .string("warning")), ("key", .string("p/gdp/2022/target_missed")), ("plan", .string("p")),
            ("actual", .number("3.0")), ("threshold", .number("6.0")), ("unit", .string("%")),
        ]
        if let muted { members.append(("muted", .string(muted))) }
        members.append(("message", .string("acknowledged by 张三: 情况说明")))
        return .object(members)
    }

    @Test func alertmanagerEndsAnAcknowledgedAlertAndFiresItAgainWhenTheAcknowledgementEnds() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let acknowledged = SinkWorker.alertmanagerAlert(Self.event("acknowledged"), resendInterval: 60, now: now)
        #expect(acknowledged["endsAt"]?.stringValue == "2026-12-01T00:00:00Z", "ended at the event's time")
        #expect(acknowledged["annotations"]?["summary"]?.stringValue == "acknowledged by 张三: 情况说明")
        for kind in ["unacknowledged", "ack_expired", "ack_broken", "silence_ended", "firing"] {
            let again = SinkWorker.alertmanagerAlert(Self.event(kind), resendInterval: 60, now: now)
            #expect(again["endsAt"]?.stringValue == "2027-01-15T08:04:00Z", "\(kind): firing, 4 re-send intervals ahead")
        }
    }

    @Test func robotsListTheEventWithItsMessageInTheirLanguage() {
        let zh = SinkMessages.line(Self.event("acknowledged"), lang: "zh")
        #expect(zh == "- **已确认** 目标未完成 · p：acknowledged by 张三: 情况说明", "\(zh)")
        let digest = SinkMessages.digest([Self.event("firing"), Self.event("ack_broken")], lang: "en")
        #expect(digest.title == "plansync: 1 firing, 0 resolved, 1 acknowledgement or silence changes")
    }
}
