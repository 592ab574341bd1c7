import Foundation
import Testing

/// A copy of Config/ in a scratch folder, so the demo's relative state paths stay inside it.
func demoCopy() throws -> (root: String, config: String) {
    let dir = try scratchFolder()
    let source = PlansyncProcess.root.appendingPathComponent("Config").path
    try FileManager.default.createDirectory(atPath: dir + "/checkout", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: source, toPath: dir + "/checkout/Config")
    return (dir + "/checkout", dir + "/checkout/Config/demo/plansync.toml")
}

func lines(_ path: String) -> [String] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

@Suite struct SyncCommandTests {
    @Test func theDemoShowsTheSixMissesAndTheConflict() throws {
        let demo = try demoCopy()
        let r = try PlansyncProcess.run(["sync", "--config", demo.config, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let feeds = try #require(json["feeds"] as? [[String: Any]])
        #expect(feeds.map { $0["outcome"] as? String } == ["ok", "ok"])
        #expect(feeds.map { $0["inserted"] as? Int } == [11, 18])
        let verdicts = try #require(json["verdicts"] as? [[String: Any]])
        let missed = Set(verdicts.filter { $0["year"] as? Int == 2022 && $0["status"] as? String == "missed" }.compactMap { $0["indicator"] as? String })
        #expect(missed == ["gdp", "modern_services", "retail_sales", "foreign_trade", "budget_revenue", "land_per_gdp"])
        let events = try #require(json["events"] as? [[String: Any]])
        #expect(events.count == 7)
        #expect(events.filter { $0["alert"] as? String == "target_missed" }.count == 6)
        let conflict = try #require(events.first { $0["alert"] as? String == "source_conflict" })
        #expect(conflict["indicator"] as? String == "modern_services")
        #expect(conflict["feed"] as? String == "futian-annex")
        // The alert log holds the same seven events, seq 1...7.
        let log = lines(demo.root + "/.demo/alerts.jsonl")
        #expect(log.count == 7)
        #expect(log.enumerated().allSatisfy { $1.contains("\"seq\":\($0 + 1),") })
        // A second run finds both files unchanged and writes nothing new.
        let again = try PlansyncProcess.run(["sync", "--config", demo.config])
        #expect(again.status == 0)
        #expect(again.stdout.contains("not_modified") && again.stdout.contains("No new alert events."))
        #expect(lines(demo.root + "/.demo/alerts.jsonl").count == 7)
    }

    @Test func afterASyncTheDatabaseFileAloneHoldsEverything() throws {
        let demo = try demoCopy()
        #expect(try PlansyncProcess.run(["sync", "--config", demo.config]).status == 0)
        // The mirror was closed cleanly: its WAL was checkpointed and emptied, so copying the
        // .sqlite file alone (a naive backup) loses nothing.
        let database = demo.root + "/.demo/mirror.sqlite"
        let wal = (try? FileManager.default.attributesOfItem(atPath: database + "-wal"))?[.size] as? Int ?? 0
        #expect(wal == 0)
        let copy = try scratchFolder() + "/copy.sqlite"
        try FileManager.default.copyItem(atPath: database, toPath: copy)
        let count = try shell("sqlite3 \(copy) 'SELECT COUNT(*) FROM observation'")
        #expect(count.output.trimmingCharacters(in: .whitespacesAndNewlines) == "29")
    }

    @Test(arguments: ["crash-before-alert-log", "crash-after-alert-log"])
    func aCrashAroundTheLogWriteNeitherLosesNorRepeatsALine(fault: String) throws {
        let demo = try demoCopy()
        let crashed = try PlansyncProcess.run(["sync", "--config", demo.config], environment: ["PLANSYNC_FAULT": fault])
        #expect(crashed.status == 9)  // killed by SIGKILL
        let log = demo.root + "/.demo/alerts.jsonl"
        #expect(lines(log).count == (fault == "crash-before-alert-log" ? 0 : 7))
        let rerun = try PlansyncProcess.run(["sync", "--config", demo.config])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let written = lines(log)
        #expect(written.count == 7)
        #expect(written.enumerated().allSatisfy { $1.contains("\"seq\":\($0 + 1),") })
        #expect(try PlansyncProcess.run(["sync", "--config", demo.config]).status == 0)
        #expect(lines(log).count == 7)
    }

    @Test func aFailingFeedExitsOneAndAConfigErrorTwo() throws {
        let demo = try demoCopy()
        try FileManager.default.removeItem(atPath: demo.root + "/Config/feeds/futian-2022-report.csv")
        let r = try PlansyncProcess.run(["sync", "--config", demo.config])
        #expect(r.status == 1)
        #expect(r.stdout.contains("futian-report") && r.stdout.contains("No such file"))
        let unknown = try PlansyncProcess.run(["sync", "--config", demo.config, "--feed", "nope"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("--feed: no feed 'nope'"))
        let missing = try PlansyncProcess.run(["sync", "--config", demo.root + "/none.toml"])
        #expect(missing.status == 2)
    }

    @Test func oneFeedCanBeSyncedAlone() throws {
        let demo = try demoCopy()
        let r = try PlansyncProcess.run(["sync", "--config", demo.config, "--feed", "futian-report", "--json"])
        #expect(r.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect((json["feeds"] as? [[String: Any]])?.map { $0["id"] as? String } == ["futian-report"])
    }

    @Test func historyShowsValuesAndRevisionsReadOnly() throws {
        let demo = try demoCopy()
        #expect(try PlansyncProcess.run(["sync", "--config", demo.config]).status == 0)
        let annex = demo.root + "/Config/feeds/futian-2022-annex.csv"
        let revised = try String(contentsOfFile: annex, encoding: .utf8).replacingOccurrences(of: "gdp,2022,growth,3.0", with: "gdp,2022,growth,3.2")
        try revised.write(toFile: annex, atomically: true, encoding: .utf8)
        #expect(try PlansyncProcess.run(["sync", "--config", demo.config]).status == 0)
        let r = try PlansyncProcess.run(["history", "gdp", "--config", demo.config, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let observations = try #require(json["observations"] as? [[String: Any]])
        let annexGrowth = try #require(observations.first { $0["feed"] as? String == "futian-annex" && $0["measure"] as? String == "growth" })
        #expect(annexGrowth["value"] as? Double == 3.2)
        #expect((annexGrowth["revisions"] as? [[String: Any]])?.first?["value"] as? Double == 3.0)
        let table = try PlansyncProcess.run(["history", "gdp", "--config", demo.config])
        #expect(table.stdout.contains("3.0 (until"))
        let unknown = try PlansyncProcess.run(["history", "steel", "--config", demo.config])
        #expect(unknown.status == 2)
    }
}
