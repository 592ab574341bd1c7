import Foundation
import Testing
import TestSupport

/// The reliability suite (`make reliability`; also part of the normal test run): crashes at
/// random moments, a full disk, load with malformed clients. Every loop is bounded.
@Suite(.serialized) struct ReliabilityTests {
    /// sqlite3 on a database, trimmed output.
    func query(_ database: String, _ sql: String) throws -> String {
        try shell("sqlite3 \(database) \"\(sql)\"").output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What must be identical between a crashed and a clean run.
    func state(_ root: String) throws -> String {
        let db = root + "/.demo/mirror.sqlite"
        let observations = try query(db, "SELECT feed_id, indicator, period, measure, value FROM observation ORDER BY 1, 2, 3, 4")
        let revisions = try query(db, "SELECT feed_id, indicator, period, old_value, new_value FROM revision ORDER BY id")
        let verdicts = try query(db, "SELECT indicator, year, status, actual FROM verdict ORDER BY 1, 2")
        let alerts = try query(db, "SELECT key, state FROM alert ORDER BY key")
        let events = lines(root + "/.demo/alerts.jsonl").map { line -> String in
            // Drop the time: everything else must match.
            line.replacingOccurrences(of: #""time":"[^"]*","#, with: "", options: .regularExpression)
        }
        return [observations, revisions, verdicts, alerts, events.joined(separator: "\n")].joined(separator: "\n--\n")
    }

    @Test func thirtyRoundsOfSIGKILLAtRandomMomentsLeaveTheSameMirrorAsACleanReplay() throws {
        let crashed = try demoCopy(), clean = try demoCopy()
        var generator = SystemRandomNumberGenerator()
        for round in 0..<30 {
            let growth = round % 2 == 0 ? "6.5" : "3.0"  // flips gdp between met and missed
            for root in [crashed.root, clean.root] {
                let annex = root + "/Config/feeds/futian-2022-annex.csv"
                let text = try String(contentsOfFile: annex, encoding: .utf8)
                    .replacingOccurrences(of: #"gdp,2022,growth,[0-9.]+"#, with: "gdp,2022,growth,\(growth)", options: .regularExpression)
                try text.write(toFile: annex, atomically: true, encoding: .utf8)
            }
            // The crashed side: start a sync, SIGKILL it after 0–250 ms, then sync again.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: PlansyncProcess.binary)
            process.arguments = ["sync", "--config", crashed.config]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: 0...250_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(try PlansyncProcess.run(["sync", "--config", crashed.config]).status == 0, "round \(round)")
            #expect(try PlansyncProcess.run(["sync", "--config", clean.config]).status == 0, "round \(round)")
        }
        #expect(try query(crashed.root + "/.demo/mirror.sqlite", "PRAGMA integrity_check") == "ok")
        let log = lines(crashed.root + "/.demo/alerts.jsonl")
        #expect(log.count > 30)
        #expect(log.enumerated().allSatisfy { $1.contains("\"seq\":\($0 + 1),") }, "seq values not consecutive")
        let a = try state(crashed.root), b = try state(clean.root)
        #expect(a == b)
    }

    /// A daemon delivering to a webhook is killed at random moments while its events change:
    /// the receiver ends up with every event of the alert log, the first copy of each in `seq`
    /// order, and every copy of an event (redelivered after a kill) the same bytes with the
    /// same `Idempotency-Key` — so a receiver that dedupes by key sees each exactly once.
    @Test func thirtyRoundsOfSIGKILLLoseNoEventOfAWebhookSink() throws {
        let receiver = try Receiver()
        let state = try scratchFolder()
        let sink = "\n[[sink]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"\(receiver.url("/e"))\"\nfrom_start = true\n"
        var generator = SystemRandomNumberGenerator()
        for round in 0..<30 {
            let d = try RunningDaemon(interval: "1s", extraFeeds: sink, stateFolder: state)
            #expect(d.ready(), "round \(round)")
            let annex = d.root + "/Config/feeds/futian-2022-annex.csv"
            let growth = round % 2 == 0 ? "6.5" : "3.0"
            let logged = lines(state + "/alerts.jsonl").count
            try String(contentsOfFile: annex, encoding: .utf8).replacingOccurrences(of: "gdp,2022,growth,3.0", with: "gdp,2022,growth,\(growth)")
                .write(toFile: annex, atomically: true, encoding: .utf8)
            // Killed while the round's events are being delivered: once the cycle has logged
            // them, after 0–300 ms more.
            _ = d.eventually(10) { lines(state + "/alerts.jsonl").count > logged }
            usleep(UInt32.random(in: 0...300_000, using: &generator))
            _ = d.stop(SIGKILL)
        }
        // A last daemon delivers whatever is left.
        let last = try RunningDaemon(interval: "1h", extraFeeds: sink, stateFolder: state)
        #expect(last.ready())
        #expect(
            try last.eventually(60) {
                let sinks = (try last.json("/v1/sinks")["sinks"] as? [[String: Any]]) ?? []
                return sinks.first?["lag_events"] as? Int == 0
            })
        _ = last.stop()
        let log = lines(state + "/alerts.jsonl")
        #expect(log.count > 30)
        #expect(log.enumerated().allSatisfy { $1.contains("\"seq\":\($0 + 1),") }, "seq values not consecutive")
        var firstSeen: [Int] = []
        var bodies: [Int: Set<String>] = [:]
        for request in receiver.requests {
            guard let key = request.headers["idempotency-key"].flatMap({ Int($0) }) else { continue }
            if bodies[key] == nil { firstSeen.append(key) }
            bodies[key, default: []].insert(request.body)
        }
        #expect(firstSeen == Array(1...log.count), "every event, first copies in seq order")
        #expect(bodies.allSatisfy { key, copies in copies == [log[key - 1]] }, "each copy of an event is that event")
        #expect(receiver.requests.count < log.count * 2, "redeliveries are the exception: \(receiver.requests.count) for \(log.count)")
    }

    /// A crash between appending a very long last line and marking it written: the next run
    /// finds that line's seq however long it is (the check once read only the last 64 KiB and
    /// wrote the event a second time).
    @Test func aCrashAfterAppendingALongLineWritesItOnceWhateverItsLength() throws {
        let demo = try demoCopy()
        let plan = demo.root + "/Config/plans/futian-2023.toml"
        // The retail sales 2022 target's text (carried in its alert line, the last of the run: seq 7) made 200 KB long.
        let long = String(repeating: "长", count: 70_000)
        let text = try String(contentsOfFile: plan, encoding: .utf8)
            .replacingOccurrences(of: "社会消费品零售总额 2022年增长目标 6.0%", with: long)
        try text.write(toFile: plan, atomically: true, encoding: .utf8)
        let crashed = try PlansyncProcess.run(["sync", "--config", demo.config], environment: ["PLANSYNC_FAULT": "crash-after-alert-log"])
        #expect(crashed.status != 0)
        let written = lines(demo.root + "/.demo/alerts.jsonl")
        #expect(written.count == 7)
        #expect((written.last?.utf8.count ?? 0) > 200_000)
        #expect(try PlansyncProcess.run(["sync", "--config", demo.config]).status == 0)
        let after = lines(demo.root + "/.demo/alerts.jsonl")
        #expect(after.count == 7, "no event written twice")
        #expect(after.enumerated().allSatisfy { $1.contains("\"seq\":\($0 + 1),") })
        #expect(try query(demo.root + "/.demo/mirror.sqlite", "SELECT delivered_seq FROM sink_cursor WHERE sink = 'alert_log'") == "7")
    }

    @Test func aFullDiskFailsTheSyncClearlyAndTheDaemonRecoversByItself() throws {
        guard getuid() == 0 else { return }  // mounting a small tmpfs needs root (CI runs as root)
        let d = try RunningDaemonOnTmpfs()
        defer { d.cleanUp() }
        #expect(d.daemon.ready())
        #expect(d.daemon.notify.wait(for: "STATUS=last sync"))
        // Fill the disk, then publish a bigger feed: the sync fails, the daemon keeps answering.
        _ = try shell("dd if=/dev/zero of=\(d.mount)/filler bs=64k count=1000 2>/dev/null")
        try d.writeBigFeed()
        let mark = d.daemon.notify.messages.count
        #expect(try d.daemon.curl("/v1/sync", method: "POST").status == 202)
        #expect(d.daemon.notify.wait(for: "STATUS=", after: mark))
        #expect(try d.daemon.curl("/v1/health").status == 200)
        let feeds = try d.daemon.json("/v1/feeds")["feeds"] as? [[String: Any]] ?? []
        let error = feeds.compactMap { $0["last_error"] as? String }.joined()
        let stderr = String(decoding: d.daemon.stderr.fileHandleForReading.availableData, as: UTF8.self)
        #expect(stderr.contains("disk is full") || stderr.contains("No space left") || error.contains("full"), "\(stderr)")
        // Free the space: the next scheduled cycle succeeds without help.
        try FileManager.default.removeItem(atPath: d.mount + "/filler")
        let recovered = try d.daemon.eventually(20) {
            let f = try d.daemon.json("/v1/feeds")["feeds"] as? [[String: Any]] ?? []
            let ok = f.first { $0["id"] as? String == "futian-annex" }?["last_outcome"] as? String == "ok"
            let events = try d.daemon.json("/v1/status")["alert_events"] as? Int ?? 0
            return ok && events >= 7
        }
        #expect(recovered)
        #expect(d.daemon.stop().1 == 0)
    }

    @Test func tenThousandRequestsFromAHundredConnectionsWithMalformedClientsAllAnswer() throws {
        let d = try RunningDaemon(interval: "1s")
        #expect(d.ready())
        let urls = d.root + "/urls.txt"
        try (0..<10_000).map { i in "url = \"http://localhost/v1/\(i % 2 == 0 ? "status" : "indicators")\"\noutput = \"/dev/null\"" }
            .joined(separator: "\n").write(toFile: urls, atomically: true, encoding: .utf8)
        // Malformed clients in the background while the load runs.
        let stop = Guarded(false)
        let abuse = Thread {
            while !stop.current {
                if let c = try? UnixClient(path: d.socket) { c.send(Array("\u{0}\u{ff}garbage\r\n\r\n".utf8)) }
                if let c = try? UnixClient(path: d.socket) {
                    c.send(Array("GET /v1/status HTTP/1.1\r\nX: \(String(repeating: "y", count: 100_000))\r\n\r\n".utf8))
                }
                usleep(20_000)
            }
        }
        abuse.start()
        let load = try shell(
            "curl -s --no-progress-meter --parallel --parallel-max 100 --unix-socket \(d.socket) -K \(urls) -w '%{http_code}\\n' 2>/dev/null | sort | uniq -c")
        stop.set(true)
        #expect(load.output.trimmingCharacters(in: .whitespacesAndNewlines) == "10000 200", "\(load.output)")
        #expect(try d.curl("/v1/health").status == 200)
        #expect(d.stop().1 == 0)
    }
}

/// A daemon whose state and alert log live on a 4 MiB tmpfs.
final class RunningDaemonOnTmpfs {
    let mount: String
    let daemon: RunningDaemon

    init() throws {
        mount = try scratchFolder() + "-tmpfs"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        _ = try shell("mount -t tmpfs -o size=4m tmpfs \(mount)")
        daemon = try RunningDaemon(interval: "2s", stateFolder: mount)
    }

    /// A larger annex: 20,000 extra monthly rows for the plan's indicators.
    func writeBigFeed() throws {
        let annex = daemon.root + "/Config/feeds/futian-2022-annex.csv"
        var text = try String(contentsOfFile: annex, encoding: .utf8)
        for i in 0..<20_000 { text += "gdp,\(1900 + i / 12)-\(String(format: "%02d", i % 12 + 1)),level,\(i).5,亿元,,,note \(i)\n" }
        try text.write(toFile: annex, atomically: true, encoding: .utf8)
    }

    func cleanUp() {
        _ = daemon.stop(SIGKILL)
        _ = try? shell("umount -l \(mount)")
    }
}

@Suite(.serialized) struct BrokenServerTests {
    @Test func aHangingAndAFlappingFeedLeaveTheOthersOnScheduleAndFeedFailingFiresAndResolves() throws {
        let fault = try FaultServer()
        defer { fault.stop() }
        let hanging = """

            [[feed]]
            id = "hanging"
            plan = "futian-2023"
            url = "\(fault.url("/slow-headers"))"
            format = "csv"
            timeout = "20s"
            retries = 0

            [[feed]]
            id = "flapping"
            plan = "futian-2023"
            url = "\(fault.url("/flaky/2"))"
            format = "csv"
            failing_after = 2
            retries = 0
            interval = "1s"
            """
        let d = try RunningDaemon(interval: "1s", extraFeeds: hanging)
        #expect(d.ready())
        // The flapping feed fails twice (503), raising feed_failing, then answers and resolves it.
        let fired = try d.eventually(30) {
            (try d.json("/v1/alerts")["alerts"] as? [[String: Any]] ?? []).contains {
                $0["key"] as? String == "feed/flapping/feed_failing"
            }
        }
        #expect(fired)
        let resolved = try d.eventually(30) {
            (try d.json("/v1/alerts?state=resolved")["alerts"] as? [[String: Any]] ?? []).contains {
                $0["key"] as? String == "feed/flapping/feed_failing"
            }
        }
        #expect(resolved)
        // Meanwhile the file feeds kept their 1 s schedule although "hanging" never answered.
        let feeds = try d.json("/v1/feeds")["feeds"] as? [[String: Any]] ?? []
        let annex = try #require(feeds.first { $0["id"] as? String == "futian-annex" })
        #expect(annex["last_outcome"] as? String == "not_modified" || annex["last_outcome"] as? String == "ok")
        // The hanging feed holds its request for 8 s; within that time the file feed runs again and again.
        let onSchedule = try d.eventually(7) {
            let fetches = try shell("sqlite3 \(d.root)/.demo/mirror.sqlite \"SELECT COUNT(*) FROM fetch WHERE feed_id = 'futian-annex'\"")
            return (Int(fetches.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 4
        }
        let hangingDone = try shell("sqlite3 \(d.root)/.demo/mirror.sqlite \"SELECT COUNT(*) FROM fetch WHERE feed_id = 'hanging'\"").output
        #expect(onSchedule)
        #expect(hangingDone.trimmingCharacters(in: .whitespacesAndNewlines) == "0")  // still hanging meanwhile
        let log = lines(d.root + "/.demo/alerts.jsonl")
        #expect(log.contains { $0.contains(#""event":"firing","alert":"feed_failing""#) })
        #expect(log.contains { $0.contains(#""event":"resolved","alert":"feed_failing""#) })
        #expect(d.stop().1 == 0)
    }
}

@Suite struct FuzzCorpusTests {
    @Test func everyFixtureAndFuzzRegressionReplaysThroughEveryParserWithoutCrashing() throws {
        let fuzz = URL(fileURLWithPath: PlansyncProcess.binary).deletingLastPathComponent().appendingPathComponent("plansync-fuzz").path
        let fixtures = PlansyncProcess.root.appendingPathComponent("Tests/FeedFormatsTests/Fixtures")
        var files = try FileManager.default.contentsOfDirectory(atPath: fixtures.path).filter { $0.contains(".") }.map { fixtures.path + "/" + $0 }
        let regressions = fixtures.appendingPathComponent("fuzz-regressions").path
        files += ((try? FileManager.default.contentsOfDirectory(atPath: regressions)) ?? []).map { regressions + "/" + $0 }
        files += ["Config/plans/futian-2023.toml", "Config/demo/plansync.toml", "Config/plansync.toml"].map { PlansyncProcess.root.path + "/" + $0 }
        let r = try shell("\(fuzz) " + files.map { "'\($0)'" }.joined(separator: " "))
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("replayed \(files.count) file(s)"))
    }
}
