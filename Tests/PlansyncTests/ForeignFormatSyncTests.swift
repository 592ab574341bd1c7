import Foundation
import Testing

@Suite struct ForeignFormatSyncTests {
    @Test func oneFeedOfEveryFormatSyncsThroughTheBinary() throws {
        let dir = try scratchFolder()
        let fixtures = PlansyncProcess.root.appendingPathComponent("Tests/FeedFormatsTests/Fixtures").path
        try FileManager.default.createDirectory(atPath: dir + "/plans", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: PlansyncProcess.root.appendingPathComponent("Config/plans/futian-2023.toml").path,
            toPath: dir + "/plans/futian-2023.toml")
        // The bureau table as a GBK/GB18030 file, as Chinese bureaus publish it.
        let table = try String(contentsOfFile: fixtures + "/bureau-table.csv", encoding: .utf8)
        try table.data(using: String.Encoding(rawValue: 0x8000_0632))!.write(to: URL(fileURLWithPath: dir + "/bureau.csv"))
        try """
        database = "state/mirror.sqlite"
        socket = "state/status.sock"
        alert_log = "state/alerts.jsonl"
        plans = ["plans/*.toml"]
        [defaults]
        retries = 0

        [[feed]]
        id = "native-csv"
        plan = "futian-2023"
        url = "file:\(PlansyncProcess.root.path)/Config/feeds/futian-2022-annex.csv"
        format = "csv"
        priority = 50

        [[feed]]
        id = "native-json"
        plan = "futian-2023"
        url = "file:native.json"
        format = "json"

        [[feed]]
        id = "bureau"
        plan = "futian-2023"
        url = "file:bureau.csv"
        format = "table-csv"
        charset = "gb18030"
        columns = { period = "时间", value = "数值" }
        [[feed.map]]
        match = { "地区" = "福田区", "指标" = "社会消费品零售总额增速" }
        indicator = "retail_sales"
        measure = "growth"

        [[feed]]
        id = "oecd"
        plan = "futian-2023"
        url = "file:\(fixtures)/sdmx-csv-1.0.csv"
        format = "sdmx-csv"
        [[feed.map]]
        match = { REF_AREA = "CN", INDICATOR = "GDP_YOY" }
        indicator = "gdp"
        measure = "growth"

        [[feed]]
        id = "ecb"
        plan = "futian-2023"
        url = "file:\(fixtures)/sdmx-json-1.0-series.json"
        format = "sdmx-json"
        [[feed.map]]
        match = { INDICATOR = "GDP_LVL" }
        indicator = "gdp"
        measure = "level"

        [[feed]]
        id = "nbs"
        plan = "futian-2023"
        url = "file:\(fixtures)/nbs-easyquery.json"
        format = "nbs-json"
        [[feed.map]]
        match = { zb = "A0801" }
        indicator = "unemployment_rate"
        measure = "level"
        """.write(toFile: dir + "/plansync.toml", atomically: true, encoding: .utf8)
        try #"{"observations": [{"indicator": "pm25", "period": "2023", "measure": "level", "value": 15.2}]}"#
            .write(toFile: dir + "/native.json", atomically: true, encoding: .utf8)

        let check = try PlansyncProcess.run(["check", "--config", dir + "/plansync.toml"])
        #expect(check.status == 0, "\(check.stderr)")
        let r = try PlansyncProcess.run(["sync", "--config", dir + "/plansync.toml", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let feeds = try #require(json["feeds"] as? [[String: Any]])
        #expect(feeds.map { $0["id"] as? String } == ["native-csv", "native-json", "bureau", "oecd", "ecb", "nbs"])
        for feed in feeds {
            #expect(feed["outcome"] as? String == "ok", "\(feed)")
            #expect((feed["inserted"] as? Int ?? 0) > 0, "\(feed)")
        }
        let verdicts = try #require(json["verdicts"] as? [[String: Any]])
        let pm25 = try #require(verdicts.first { $0["indicator"] as? String == "pm25" })
        #expect(pm25["status"] as? String == "no_data")  // 2022 level is in the report feed, not configured here
        let retail2023 = try #require(verdicts.first { $0["indicator"] as? String == "retail_sales" && $0["year"] as? Int == 2023 })
        // The bureau's "2023年1-6月" is year to date: 2.1% against 3.0% is at risk.
        #expect(retail2023["status"] as? String == "at_risk")
        #expect(retail2023["period"] as? String == "2023-06")
        #expect(retail2023["cumulative"] as? Bool == true)
        let gdp2023 = try #require(verdicts.first { $0["indicator"] as? String == "gdp" && $0["year"] as? Int == 2023 })
        #expect(gdp2023["status"] as? String == "missed")  // OECD-style feed: 5.2 < 6.5
        #expect(gdp2023["feed"] as? String == "oecd")
    }
}
