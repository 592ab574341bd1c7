import Foundation
import Testing
import TestSupport

/// A small province from the scale benchmark's generator: county plans from one template
/// (shared indicator codes), one feed each. What holds for 2,800 plans is tested here on 8.
@Suite(.serialized) struct ScaleTests {
    static let plans = 8

    /// Generates the province into a scratch folder; returns the folder.
    static func province() throws -> String {
        let dir = try scratchFolder() + "/province"
        let r = try shell("PLANS=\(plans) Benchmarks/generate-scale.sh \(dir)")
        #expect(r.status == 0, "\(r.output)")
        return dir
    }

    static func sqlite(_ database: String, _ sql: String) throws -> String {
        try shell("sqlite3 \(database) \"\(sql)\"").output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func syncJudgesOnlyThePlansWhoseFeedsChanged() throws {
        let dir = try Self.province()
        let config = dir + "/plansync.toml", database = dir + "/state/mirror.sqlite"
        let first = try PlansyncProcess.run(["sync", "--config", config], timeout: 300)
        #expect(first.status == 0, "\(first.stderr)")
        // The first sync judges every plan and prints every table.
        #expect(first.stdout.split(separator: "\n").filter { $0.hasPrefix("ind00 ") }.count == Self.plans * 5)
        let judged = try Self.sqlite(database, "SELECT plan_id || ' ' || judged_at FROM judged_plan ORDER BY 1")
        // Nothing changed: no plan judged again, one summary line per plan, no verdict rewritten.
        Thread.sleep(forTimeInterval: 1.1)
        let again = try PlansyncProcess.run(["sync", "--config", config], timeout: 120)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stdout.contains("ind00  指标00"))
        #expect(again.stdout.components(separatedBy: ": unchanged since").count - 1 == Self.plans)
        #expect(try Self.sqlite(database, "SELECT plan_id || ' ' || judged_at FROM judged_plan ORDER BY 1") == judged)
        // --json still lists every plan's verdicts; --all prints every table.
        let json = try PlansyncProcess.run(["sync", "--config", config, "--json"], timeout: 120)
        let verdicts = try #require(
            (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["verdicts"] as? [[String: Any]])
        #expect(verdicts.count == Self.plans * 150)
        let all = try PlansyncProcess.run(["sync", "--config", config, "--all"], timeout: 120)
        #expect(all.stdout.split(separator: "\n").filter { $0.hasPrefix("ind00 ") }.count == Self.plans * 5)
        // One feed changed: only its plan is judged again.
        #expect(try shell("CHANGE_PLAN=3 PLANS=\(Self.plans) Benchmarks/generate-scale.sh \(dir)").status == 0)
        let changed = try PlansyncProcess.run(["sync", "--config", config], timeout: 120)
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.stdout.split(separator: "\n").filter { $0.hasPrefix("ind00 ") }.count == 5)
        #expect(changed.stdout.contains("county-0003 — 县区 0003\n"))
        let after = try Self.sqlite(database, "SELECT plan_id FROM judged_plan WHERE judged_at <> (SELECT MIN(judged_at) FROM judged_plan)")
        #expect(after == "county-0003")
        // The same verdicts as judging every plan again from scratch.
        let before = try Self.sqlite(database, "SELECT plan_id, indicator, year, json FROM verdict ORDER BY 1, 2, 3")
        let rejudge = try PlansyncProcess.run(["sync", "--config", config, "--rejudge"], timeout: 120)
        #expect(rejudge.status == 0)
        #expect(rejudge.stdout.split(separator: "\n").filter { $0.hasPrefix("ind00 ") }.count == Self.plans * 5)
        #expect(rejudge.stdout.contains("No new alert events."))
        #expect(try Self.sqlite(database, "SELECT plan_id, indicator, year, json FROM verdict ORDER BY 1, 2, 3") == before)
    }

    @Test func theDaemonStreamsEveryVerdictAndReloadsJudgeOnlyTheEditedPlan() throws {
        let dir = try Self.province()
        let config = dir + "/plansync.toml", database = dir + "/state/mirror.sqlite", socket = dir + "/state/status.sock"
        #expect(try PlansyncProcess.run(["sync", "--config", config], timeout: 300).status == 0)
        let expected = try PlansyncProcess.run(["sync", "--config", config, "--json"], timeout: 120).stdout
        let verdicts = try #require(
            (try JSONSerialization.jsonObject(with: Data(expected.utf8)) as? [String: Any])?["verdicts"] as? [[String: Any]])
        let notify = try NotifyListener()
        defer { notify.stop() }
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: PlansyncProcess.binary)
        daemon.arguments = ["daemon", "--config", config]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        daemon.environment = environment
        daemon.standardOutput = FileHandle.nullDevice
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        #expect(notify.wait(for: "READY=1", seconds: 30))

        // Everything: streamed (chunked), the same verdicts as the mirror holds.
        let all = try shell("curl -s -D - --max-time 20 --unix-socket \(socket) http://localhost/v1/indicators")
        let parts = all.output.components(separatedBy: "\r\n\r\n")
        #expect(parts[0].lowercased().contains("transfer-encoding: chunked"), "\(parts[0])")
        let streamed = try #require(
            (try JSONSerialization.jsonObject(with: Data(parts.dropFirst().joined(separator: "\r\n\r\n").utf8)) as? [String: Any])?["verdicts"]
                as? [[String: Any]])
        #expect(streamed.count == verdicts.count)
        #expect(
            Set(streamed.map { "\($0["plan"]!)/\($0["indicator"]!)/\($0["year"]!)/\($0["status"]!)" })
                == Set(verdicts.map { "\($0["plan"]!)/\($0["indicator"]!)/\($0["year"]!)/\($0["status"]!)" }))
        // HTTP/1.0 gets the same answer, closed at its end.
        let old = try shell("curl -s -0 --max-time 20 --unix-socket \(socket) 'http://localhost/v1/indicators?year=2025'")
        let year = try #require((try JSONSerialization.jsonObject(with: Data(old.output.utf8)) as? [String: Any])?["verdicts"] as? [[String: Any]])
        #expect(year.count == Self.plans * 30)
        // One plan, and an unknown one (the answer names a few plans, not all of them).
        let one = try shell("curl -s --max-time 10 --unix-socket \(socket) 'http://localhost/v1/indicators?plan=county-0003'")
        #expect(((try JSONSerialization.jsonObject(with: Data(one.output.utf8)) as? [String: Any])?["verdicts"] as? [Any])?.count == 150)
        let unknown = try shell("curl -s --max-time 10 --unix-socket \(socket) 'http://localhost/v1/indicators?plan=nowhere'")
        #expect(unknown.output.contains("no plan 'nowhere'"))

        // A reload after one plan file changed judges that plan alone.
        let judged = try Self.sqlite(database, "SELECT plan_id || ' ' || judged_at FROM judged_plan WHERE plan_id <> 'county-0005' ORDER BY 1")
        let file = dir + "/plans/county-0005.toml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "title = \"县区 0005\"", with: "title = \"县区 0005（修订）\"")
            .write(toFile: file, atomically: true, encoding: .utf8)
        Thread.sleep(forTimeInterval: 1.1)
        let reload = try shell("curl -s -X POST --max-time 20 --unix-socket \(socket) http://localhost/v1/reload").output
        #expect(reload.contains("reloaded"), "\(reload)")
        #expect(try shell("curl -s -X POST --max-time 10 --unix-socket \(socket) http://localhost/v1/sync").status == 0)
        var rejudged = ""
        for _ in 0..<100 {
            rejudged = try Self.sqlite(database, "SELECT plan_id FROM judged_plan WHERE judged_at > (SELECT MIN(judged_at) FROM judged_plan)")
            if !rejudged.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(rejudged == "county-0005")
        #expect(try Self.sqlite(database, "SELECT plan_id || ' ' || judged_at FROM judged_plan WHERE plan_id <> 'county-0005' ORDER BY 1") == judged)

        // Clients find the socket without reading plan files: a broken plan does not stop them.
        try "id = ".write(toFile: dir + "/plans/county-0006.toml", atomically: true, encoding: .utf8)
        let status = try PlansyncProcess.run(["status", "--config", config, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        // /metrics counts fetches by feed from their counters.
        let metrics = try shell("curl -s --max-time 10 --unix-socket \(socket) http://localhost/metrics").output
        #expect(metrics.contains(#"plansync_feed_fetches_total{feed="county-0003",outcome="ok"} 1"#), "\(metrics.prefix(2000))")
        #expect(metrics.contains(#"plansync_verdicts{plan="county-0003",status="#))
        kill(daemon.processIdentifier, SIGKILL)
    }
}
