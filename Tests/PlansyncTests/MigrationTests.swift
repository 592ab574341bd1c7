import Foundation
import Testing
import TestSupport

/// A mirror written by the release before this schema opens and upgrades in place, and its
/// alert log continues where it stood: no event delivered twice, none skipped.
@Suite struct MigrationTests {
    @Test func aSchema1MirrorUpgradesAndItsAlertLogPositionIsKept() throws {
        let demo = try demoCopy()
        let fixture = PlansyncProcess.root.appendingPathComponent("Tests/PlansyncTests/Fixtures/v1-mirror").path
        try FileManager.default.createDirectory(atPath: demo.root + "/.demo", withIntermediateDirectories: true)
        for file in ["mirror.sqlite", "alerts.jsonl"] {
            try FileManager.default.copyItem(atPath: fixture + "/" + file, toPath: demo.root + "/.demo/" + file)
        }
        // The feed as it was when the fixture was made (gdp 2022 at 6.5).
        let annex = demo.root + "/Config/feeds/futian-2022-annex.csv"
        let text = try String(contentsOfFile: annex, encoding: .utf8)
            .replacingOccurrences(of: "gdp,2022,growth,3.0", with: "gdp,2022,growth,6.5")
        try text.write(toFile: annex, atomically: true, encoding: .utf8)
        let database = demo.root + "/.demo/mirror.sqlite"
        #expect(try shell("sqlite3 \(database) 'PRAGMA user_version; SELECT COUNT(*) FROM alert_event WHERE written = 0'").output == "1\n2\n")

        let sync = try PlansyncProcess.run(["sync", "--config", demo.config, "--json"])
        #expect(sync.status == 0, "\(sync.stderr)")
        let log = lines(demo.root + "/.demo/alerts.jsonl")
        #expect(log.count == 9)
        #expect(log.enumerated().allSatisfy { $1.contains("\"seq\":\($0 + 1),") }, "each seq once, in order")
        let state = try shell(
            "sqlite3 \(database) 'PRAGMA user_version; SELECT delivered_seq FROM sink_cursor WHERE sink = \"alert_log\"; PRAGMA integrity_check'"
        ).output
        #expect(state == "8\n9\nok\n")
        // Schema 5 keeps alert counts by state and severity, equal to counting the alerts.
        let counted = "SELECT state, severity, COUNT(*) FROM alert GROUP BY 1, 2"
        let kept = "SELECT state, severity, n FROM alert_count WHERE n > 0 ORDER BY 1, 2"
        #expect(try shell("sqlite3 \(database) \"\(counted)\"").output == shell("sqlite3 \(database) \"\(kept)\"").output)
        #expect(try shell("sqlite3 \(database) \"\(counted)\"").output != "")
        // Schema 4 re-keyed the observations by feed and kept every one of them.
        #expect(try shell("sqlite3 \(database) 'SELECT COUNT(*) FROM observation'").output == "29\n")
        // Upgraded once: a second sync changes nothing.
        #expect(try PlansyncProcess.run(["sync", "--config", demo.config]).status == 0)
        #expect(lines(demo.root + "/.demo/alerts.jsonl").count == 9)
    }
}
