import Configuration
import Foundation
import Logging
import Mirror
import Testing
import TestSupport
@testable import Daemon
@testable import Fetch
@testable import PlanCore

/// A config folder with the seed plan, feeds written by the test, and its own state.
struct Workspace {
    let path: String
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    init() throws {
        path = NSTemporaryDirectory() + "plansync-sync-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path + "/plans", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path + "/feeds", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Workspace.root.appendingPathComponent("Config/plans/futian-2023.toml").path,
            toPath: path + "/plans/futian-2023.toml")
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
    }

    /// Writes plansync.toml with the given feed sections and loads it.
    func config(feeds: String, defaults: String = "") throws -> DaemonConfig {
        try write(
            "plansync.toml",
            """
            database = "state/mirror.sqlite"
            socket = "state/status.sock"
            alert_log = "state/alerts.jsonl"
            plans = ["plans/*.toml"]
            [defaults]
            retries = 0
            timeout = "5s"
            \(defaults)
            \(feeds)
            """)
        return try DaemonConfig.load(path: path + "/plansync.toml", environment: [:])
    }

    func syncer(_ config: DaemonConfig) throws -> Syncer {
        Syncer(
            config: config, mirror: try Mirror(path: config.database), engine: FetchEngine(maxConcurrent: 4),
            logger: Logger(label: "test"))
    }

    func alertLines() -> [String] {
        ((try? String(contentsOfFile: path + "/state/alerts.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

let header = "indicator,period,measure,value,unit,cumulative,base_year,note\n"

func feedSection(_ id: String, _ url: String, priority: Int = 0, extra: String = "") -> String {
    "[[feed]]\nid = \"\(id)\"\nplan = \"futian-2023\"\nurl = \"\(url)\"\nformat = \"csv\"\npriority = \(priority)\n\(extra)\n"
}

@Suite struct SyncerTests {
    @Test func aBodyThatFailsHalfwayLeavesTheMirrorAsItWas() async throws {
        let ws = try Workspace()
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,3.0,%,,,\n")
        let config = try ws.config(feeds: feedSection("a", "file:feeds/a.csv"))
        let syncer = try ws.syncer(config)
        let first = try await syncer.run()
        #expect(first.feeds.first?.counts.inserted == 1)
        // Nine good rows, then a bad one: nothing of it may land.
        let rows = (1...9).map { "retail_sales,2022-0\($0),growth,\($0).0,%,true,,\n" }.joined()
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,9.9,%,,,\n" + rows + "gdp,2024-13,growth,1.0,%,,,\n")
        let second = try await syncer.run()
        let feed = try #require(second.feeds.first)
        #expect(feed.outcome == .parseError)
        #expect(feed.message.contains("line 12, column 2: invalid period '2024-13'"))
        #expect(!second.allSucceeded)
        let counts = try await syncer.mirror.counts()
        #expect(counts["observation"] == 1)
        #expect(counts["revision"] == 0)
        #expect(try await syncer.mirror.history(indicator: "gdp", limit: 1000).entries.first?.value == "3.0")
        #expect(try await syncer.mirror.feedStates()["a"]?.consecutiveFailures == 1)
    }

    /// Bodies of 1 MiB and more are parsed and stored on threads of their own at the daemon's
    /// lowered priority; the result must be exactly what the writer's own thread would store.
    @Test func midSizedBodiesParsedOffTheFetchQueueStoreAndFailLikeSmallOnes() async throws {
        // 2,400 rows, about 90 KB: above the size parsed inline on the engine's queue, below
        // the size streamed on threads of their own. Many feeds at once, one of them broken.
        let ws = try Workspace()
        func body(_ offset: Double) -> String {
            header + (0..<2400).map { i in "retail_sales,\(1900 + i / 12)-\(String(format: "%02d", i % 12 + 1)),level,\(Double(i) + offset),亿元,,,\n" }.joined()
        }
        for i in 0..<6 { try ws.write("feeds/m\(i).csv", body(Double(i))) }
        try ws.write("feeds/bad.csv", body(0) + "retail_sales,2024-13,level,1.0,亿元,,,\n")
        #expect(try String(contentsOfFile: ws.path + "/feeds/m0.csv", encoding: .utf8).utf8.count > Syncer.inlineParseLimit)
        let config = try ws.config(
            feeds: (0..<6).map { feedSection("m\($0)", "file:feeds/m\($0).csv") }.joined()
                + feedSection("bad", "file:feeds/bad.csv"))
        let syncer = try ws.syncer(config)
        let report = try await syncer.run()
        let byID = Dictionary(uniqueKeysWithValues: report.feeds.map { ($0.id, $0) })
        for i in 0..<6 {
            #expect(byID["m\(i)"]?.outcome == .ok)
            #expect(byID["m\(i)"]?.counts.inserted == 2400)
        }
        #expect(byID["bad"]?.outcome == .parseError)
        #expect(byID["bad"]?.message.contains("line 2402, column 2: invalid period '2024-13'") == true)
        #expect(try await syncer.mirror.counts()["observation"] == 6 * 2400)
        #expect(try await syncer.mirror.feedStates()["bad"]?.consecutiveFailures == 1)
    }

    @Test func largeBodiesStoredOnLowPriorityThreadsGiveTheSameMirror() async throws {
        let ws = try Workspace()
        let codes = ["gdp", "retail_sales", "foreign_trade", "budget_revenue", "rd_spending"]
        func body(changed: Bool, broken: Bool = false) -> String {
            var text = header
            for (c, code) in codes.enumerated() {
                for month in 0..<6000 {
                    let value = changed && month % 100 == 0 ? "\(month).75" : "\(month + c).5"
                    text += "\(code),\(1990 + month / 12)-\(String(format: "%02d", month % 12 + 1)),level,\(value),亿元,,,\n"
                }
            }
            return text + (broken ? "gdp,2024-13,level,1.0,,,,\n" : "")
        }
        let big = body(changed: false)
        #expect(big.utf8.count >= 1 << 20)
        try ws.write("feeds/a.csv", big)
        let config = try ws.config(feeds: feedSection("a", "file:feeds/a.csv"))
        let syncer = Syncer(
            config: config, mirror: try Mirror(path: config.database), engine: FetchEngine(maxConcurrent: 4),
            logger: Logger(label: "test"), parseNiceness: 19)
        let first = try #require(try await syncer.run().feeds.first)
        #expect(first.counts == ReconcileCounts(inserted: 30_000, revised: 0, unchanged: 0, skipped: 0))
        try ws.write("feeds/a.csv", body(changed: true))
        let second = try #require(try await syncer.run().feeds.first)
        #expect(second.counts == ReconcileCounts(inserted: 0, revised: 300, unchanged: 29_700, skipped: 0))
        // A large body broken at its very end changes nothing, and says where it broke.
        try ws.write("feeds/a.csv", body(changed: false, broken: true))
        let third = try #require(try await syncer.run().feeds.first)
        #expect(third.outcome == .parseError)
        #expect(third.message.contains("line 30002, column 2: invalid period '2024-13'"))
        let counts = try await syncer.mirror.counts()
        #expect(counts["observation"] == 30_000)
        #expect(counts["revision"] == 300)
        #expect(try await syncer.mirror.integrityCheck() == "ok")
    }

    @Test func aRevisedFigureKeepsItsOldValueAndFlipsTheVerdict() async throws {
        let ws = try Workspace()
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,3.0,%,,,\n")
        let syncer = try ws.syncer(try ws.config(feeds: feedSection("a", "file:feeds/a.csv")))
        let first = try await syncer.run()
        #expect(try await syncer.mirror.eventKeys(in: first.eventSeqs).map(\.1) == ["futian-2023/gdp/2022/target_missed"])
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,6.1,%,,,revised\n")
        let second = try await syncer.run()
        #expect(second.feeds.first?.counts == ReconcileCounts(inserted: 0, revised: 1, unchanged: 0, skipped: 0))
        #expect(
            try await syncer.mirror.eventKeys(in: second.eventSeqs).map { "\($0.2) \($0.1)" }
                == ["resolved futian-2023/gdp/2022/target_missed"])
        let history = try await syncer.mirror.history(indicator: "gdp", limit: 1000).entries
        #expect(history.first?.value == "6.1" && history.first?.revisions.first?.value == "3.0")
        let lines = ws.alertLines()
        #expect(lines.count == 2)
        #expect(lines[1].contains(#""seq":2,"event":"resolved""#))
    }

    @Test func unchangedFeedsAreRecognisedBeforeParsing() async throws {
        let nginx = try NginxServer()
        defer { nginx.stop() }
        try nginx.write("feed.csv", header + "gdp,2022,growth,3.0,%,,,\n")
        let fault = try FaultServer()
        defer { fault.stop() }
        let ws = try Workspace()
        let syncer = try ws.syncer(
            try ws.config(
                feeds: feedSection("web", nginx.url("/feed.csv"))
                    + feedSection("noval", fault.url("/ok"))))
        let first = try await syncer.run()
        #expect(first.feeds.map(\.outcome.rawValue) == ["ok", "ok"])
        let second = try await syncer.run()
        #expect(second.feeds.map(\.outcome.rawValue) == ["not_modified", "not_modified"])
        #expect(second.feeds[0].httpStatus == 304)
        #expect(second.feeds[1].message.contains("same SHA-256"))
        #expect(second.allSucceeded)
        let statuses = nginx.accessLog(atLeast: 2).map { $0.components(separatedBy: "\" ")[1].prefix(3) }
        #expect(statuses == ["200", "304"])
    }

    @Test func aFailingFeedRaisesFeedFailingAfterItsThresholdAndResolves() async throws {
        let ws = try Workspace()
        let syncer = try ws.syncer(try ws.config(feeds: feedSection("a", "file:feeds/missing.csv", extra: "failing_after = 2")))
        let first = try await syncer.run()
        #expect(first.feeds.first?.outcome == .protocolError)
        #expect(first.eventSeqs.isEmpty)
        let second = try await syncer.run()
        #expect(try await syncer.mirror.eventKeys(in: second.eventSeqs).map(\.1) == ["feed/a/feed_failing"])
        try ws.write("feeds/missing.csv", header)
        let third = try await syncer.run()
        #expect(try await syncer.mirror.eventKeys(in: third.eventSeqs).map { "\($0.2) \($0.1)" } == ["resolved feed/a/feed_failing"])
    }

    @Test func aFeedWithoutSuccessForStaleAfterIsStale() async throws {
        let ws = try Workspace()
        try ws.write("feeds/a.csv", header)
        let syncer = try ws.syncer(try ws.config(feeds: feedSection("a", "file:feeds/a.csv", extra: "stale_after = \"1h\"")))
        _ = try await syncer.run()
        try FileManager.default.removeItem(atPath: ws.path + "/feeds/a.csv")
        let later = Date().addingTimeInterval(2 * 3600)
        let report = try await syncer.run(now: { later })
        #expect(try await syncer.mirror.eventKeys(in: report.eventSeqs).map(\.1).allSatisfy { $0.hasSuffix("/feed_stale") })
        #expect(!report.eventSeqs.isEmpty)
    }

    @Test func theAlertLogSkipsLinesItAlreadyHas() async throws {
        let ws = try Workspace()
        try ws.write("feeds/a.csv", header + "gdp,2022,growth,3.0,%,,,\nretail_sales,2022,growth,1.0,%,,,\n")
        let config = try ws.config(feeds: feedSection("a", "file:feeds/a.csv"))
        let mirror = try Mirror(path: config.database)
        let syncer = Syncer(config: config, mirror: mirror, engine: FetchEngine(), logger: Logger(label: "t"))
        // Judge without delivering, as if the process died after writing the first line.
        _ = try await syncer.run()
        let lines = ws.alertLines()
        #expect(lines.count == 2)
        try await mirrorMarkUnwritten(config.database)
        try lines[0].appending("\n").write(toFile: config.alertLog, atomically: true, encoding: .utf8)
        #expect(try await AlertLog(path: config.alertLog, fault: nil).deliver(from: mirror) == 2)
        #expect(ws.alertLines() == lines)
        #expect(try await mirror.sinkCursor("alert_log") == 2)
    }

    @Test func aLineCutShortIsEndedBeforeTheNextOne() async throws {
        let ws = try Workspace()
        try FileManager.default.createDirectory(atPath: ws.path + "/state", withIntermediateDirectories: true)
        let log = AlertLog(path: ws.path + "/state/alerts.jsonl")
        try "{\"seq\":1,\"partial".write(toFile: log.path, atomically: true, encoding: .utf8)
        try log.append(["{\"seq\":2}"])
        #expect(ws.alertLines() == ["{\"seq\":1,\"partial", "{\"seq\":2}"])
        #expect(AlertLog.lastSeq(in: log.path) == 2)
    }
}

/// Moves the alert log's cursor back to the start, as after a crash between the log write and the cursor update.
func mirrorMarkUnwritten(_ path: String) async throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    process.arguments = [path, "UPDATE sink_cursor SET delivered_seq = 0 WHERE sink = 'alert_log';"]
    try process.run()
    process.waitUntilExit()
}

@Suite struct LogFormatTests {
    @Test func linesCarryTimeLevelLabelSortedMetadataAndStayOneLine() {
        let line = StderrLogHandler.render(
            level: .warning, label: "plansync.sync", message: "feed body rejected\nsecond line",
            metadata: ["feed.id": "a", "error": "bad"], journal: false,
            now: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(line == #"2023-11-14T22:13:20Z warning plansync.sync: feed body rejected\nsecond line error=bad feed.id=a"#)
        let journal = StderrLogHandler.render(level: .error, label: "l", message: "m", metadata: [:], journal: true, now: Date())
        #expect(journal == "<3>l: m")
    }
}
