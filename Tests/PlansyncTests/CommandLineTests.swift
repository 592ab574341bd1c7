import Foundation
import Testing
import TestSupport

/// Runs the built `plansync` binary as a user would and captures what it prints.
struct PlansyncProcess {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The binary: `$PLANSYNC_BIN`, else next to the test bundle, else `.build/debug/plansync`.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["PLANSYNC_BIN"] { return path }
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("plansync").path,
            Bundle.main.bundleURL.appendingPathComponent("plansync").path,
            root.appendingPathComponent(".build/debug/plansync").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs plansync with arguments from the repository root, with a time limit.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 60) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = root
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        // Read both pipes concurrently so a large output cannot block the child.
        let outData = Guarded(Data()), errData = Guarded(Data())
        let group = DispatchGroup()
        for (pipe, sink) in [(out, outData), (err, errData)] {
            group.enter()
            DispatchQueue.global().async {
                sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
                group.leave()
            }
        }
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        group.wait()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: outData.current, as: UTF8.self),
            stderr: String(decoding: errData.current, as: UTF8.self))
    }
}

/// A scratch folder for files a test writes.
func scratchFolder() throws -> String {
    let path = NSTemporaryDirectory() + "plansync-e2e-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct EvaluateCommandTests {
    @Test func theSeedAnnexGivesSixMissesAndFourMets() throws {
        let r = try PlansyncProcess.run([
            "evaluate", "--plan", "Config/plans/futian-2023.toml",
            "--observations", "Config/feeds/futian-2022-annex.csv", "--year", "2022", "--json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let verdicts = try #require(json?["verdicts"] as? [[String: Any]])
        var status: [String: String] = [:]
        for v in verdicts { status[v["indicator"] as! String] = v["status"] as? String }
        #expect(
            status == [
                "gdp": "missed", "modern_services": "missed", "retail_sales": "missed", "foreign_trade": "missed",
                "budget_revenue": "missed", "land_per_gdp": "missed",
                "fixed_asset_investment": "met", "unemployment_rate": "met", "water_per_gdp": "met", "energy_per_gdp": "met",
            ])
        let gdp = try #require(verdicts.first { $0["indicator"] as? String == "gdp" })
        #expect(gdp["actual"] as? Double == 3.0)
        #expect(gdp["threshold"] as? Double == 6.0)
        #expect(gdp["shortfall"] as? Double == 3.0)
        #expect(gdp["severity"] as? String == "warning")
        #expect(gdp["feed"] as? String == "futian-2022-annex")
        #expect(r.stdout.contains(#""actual":3.0,"threshold":6.0,"shortfall":3.0,"unit":"%""#))
    }

    @Test func theTableShowsChineseNamesAlignedWithStatusAndShortfall() throws {
        let r = try PlansyncProcess.run([
            "evaluate", "--plan", "Config/plans/futian-2023.toml",
            "--observations", "Config/feeds/futian-2022-annex.csv",
            "Config/feeds/futian-2022-report.csv", "--year", "2022",
        ])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let gdp = try #require(lines.first { $0.hasPrefix("gdp ") })
        #expect(gdp.contains("地区生产总值") && gdp.contains("MISSED") && gdp.contains("3.0 pp"))
        let land = try #require(lines.first { $0.hasPrefix("land_per_gdp") })
        #expect(land.contains("MISSED (critical)"))
        let services = try #require(lines.first { $0.hasPrefix("modern_services") })
        #expect(services.contains("conflict: futian-2022-report 5.3"))
        // Columns line up: "year" starts at the same display column in every row.
        let yearColumns = lines.prefix(11).map { line -> Int in
            let prefix = line.components(separatedBy: "  20")[0]
            return prefix.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x4E00 && $1.value <= 0x9FFF ? 2 : 1) }
        }
        #expect(Set(yearColumns.dropFirst()).count == 1)
    }

    /// Plan arithmetic end to end: 序时进度, the pace still needed (from levels and even), a
    /// five-year path and average growth, as `evaluate` prints them in JSON and in the table.
    @Test func paceArithmeticThroughEvaluate() throws {
        let dir = try scratchFolder()
        try """
        id = "pace"
        title = "某区2023年计划"
        pace_tolerance_pp = 0.5

        [[indicator]]
        code = "revenue"
        name = "一般公共预算收入"
        category = "expected"
        unit = "亿元"
        targets = [ { year = 2023, rule = "at_least", value = 100 } ]

        [[indicator]]
        code = "gdp"
        name = "地区生产总值"
        category = "expected"
        unit = "亿元"
        targets = [ { year = 2023, rule = "growth_at_least", value = 6.5 } ]

        [[indicator]]
        code = "retail"
        name = "社会消费品零售总额"
        category = "expected"
        unit = "亿元"
        targets = [ { year = 2023, rule = "growth_at_least", value = 6.5 } ]

        [[indicator]]
        code = "energy"
        name = "单位GDP能耗"
        category = "binding"
        unit = "吨标准煤/万元"
        targets = [ { year = 2025, rule = "decline_vs_base_at_least", value = 13.5, base_year = 2020 } ]

        [[indicator]]
        code = "income"
        name = "居民人均可支配收入"
        category = "expected"
        unit = "元"
        targets = [ { year = 2025, rule = "average_growth_at_least", value = 6.0, base_year = 2020 } ]
        """.write(toFile: dir + "/plan.toml", atomically: true, encoding: .utf8)
        try """
        indicator,period,measure,value,unit,cumulative,base_year,note
        revenue,2023-11,level,60,亿元,true,,
        gdp,2023-06,growth,5.0,%,true,,
        retail,2023-06,growth,5.0,%,true,,
        retail,2022,level,1000,亿元,,,
        retail,2022-06,level,480,亿元,true,,
        retail,2023-06,level,504,亿元,true,,
        energy,2023,change_vs_base,-7.0,%,,2020,
        income,2020,level,40000,元,,,
        income,2023,level,47640,元,,,
        """.write(toFile: dir + "/obs.csv", atomically: true, encoding: .utf8)
        let r = try PlansyncProcess.run(["evaluate", "--plan", dir + "/plan.toml", "--observations", dir + "/obs.csv", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let verdicts = try #require(json?["verdicts"] as? [[String: Any]])
        func verdict(_ code: String) throws -> [String: Any] { try #require(verdicts.first { $0["indicator"] as? String == code }) }
        let revenue = try verdict("revenue")
        #expect(revenue["status"] as? String == "at_risk")
        #expect(revenue["progress"] as? Double == 60 && revenue["expected_progress"] as? Double == 91.67 && revenue["gap_pp"] as? Double == -31.67)
        let gdp = try verdict("gdp")
        #expect(gdp["status"] as? String == "at_risk")
        #expect(gdp["required_rest"] as? Double == 8 && gdp["required_basis"] as? String == "even")
        let retail = try verdict("retail")
        #expect(retail["required_rest"] as? Double == 7.88 && retail["required_basis"] as? String == "levels")
        #expect(retail["status"] as? String == "at_risk", "7.88 needed is 1.38 pp over 6.5, beyond the 0.5 pp tolerance")
        let energy = try verdict("energy")
        #expect(energy["status"] as? String == "at_risk" && energy["period"] as? String == "2023")
        #expect(energy["expected_to_date"] as? Double == -8.33 && energy["required_per_year"] as? Double == -3.56)
        #expect(energy["severity"] as? String == "critical")
        // 47640 ÷ 40000 = 1.191 by 2023 against 1.06³ = 1.191016: 0.0016 pp behind, within the
        // plan's 0.5 pp; the rest needs 6.0% a year.
        let income = try verdict("income")
        #expect(income["status"] as? String == "on_track" && income["expected_to_date"] as? Double == 19.1)
        #expect(income["required_per_year"] as? Double == 6 && income["rule"] as? String == "average_growth_at_least")
        // Fields that do not apply are absent, not null.
        #expect(revenue["required_rest"] == nil && gdp["progress"] == nil && energy["gap_pp"] == nil)
        // The table says it in the plan's language.
        let table = try PlansyncProcess.run(["evaluate", "--plan", dir + "/plan.toml", "--observations", dir + "/obs.csv"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("落后序时进度 31.7 个百分点（完成 60.0%，序时 91.7%）"))
        #expect(table.stdout.contains("其余时间需增长 8.0%") && table.stdout.contains("其余时间需增长 7.9%"))
        #expect(table.stdout.contains("按匀速路径 2023 年应达 -8.3%，此后每年需 -3.6%"))
    }

    /// Releases through `evaluate`: `--at` sets the clock, `--json` lists what is overdue and
    /// what each watched indicator awaits next.
    @Test func overdueReleasesThroughEvaluateAt() throws {
        let dir = try scratchFolder()
        try """
        id = "rel"
        title = "某区2024年计划"
        timezone = "Asia/Shanghai"
        release = { frequency = "monthly", lag_days = 15, grace = "3d", skip = ["01"] }

        [[indicator]]
        code = "industry"
        name = "规上工业增加值"
        category = "expected"
        unit = "%"
        targets = [ { year = 2024, rule = "growth_at_least", value = 5.0 } ]
        """.write(toFile: dir + "/plan.toml", atomically: true, encoding: .utf8)
        try "indicator,period,measure,value,unit,cumulative\nindustry,2024-02,growth,5.5,%,true\n".write(
            toFile: dir + "/obs.csv", atomically: true, encoding: .utf8)
        func run(_ at: String, json: Bool = true) throws -> PlansyncProcess.Result {
            try PlansyncProcess.run(
                ["evaluate", "--plan", dir + "/plan.toml", "--observations", dir + "/obs.csv", "--at", at] + (json ? ["--json"] : []))
        }
        let late = try run("2024-04-20T00:00:00+08:00")
        #expect(late.status == 0, "\(late.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(late.stdout.utf8)) as? [String: Any]
        let overdue = try #require(json?["overdue"] as? [[String: Any]])
        #expect(overdue.count == 1)
        #expect(overdue.first?["period"] as? String == "2024-03" && overdue.first?["due"] as? String == "2024-04-15T16:00:00Z")
        let releases = try #require(json?["releases"] as? [[String: Any]])
        #expect(releases.first?["next_period"] as? String == "2024-03" && releases.first?["overdue"] as? Int == 1)
        // Within the grace: nothing overdue.
        let early = try run("2024-04-18T23:59:59+08:00")
        #expect(early.stdout.contains(#""overdue":[]"#))
        // The table lists it in the plan's time zone.
        let table = try run("2024-04-20T00:00:00+08:00", json: false)
        #expect(table.stdout.contains("overdue: industry 规上工业增加值 2024-03, due 2024-04-16 00:00 Asia/Shanghai"))
        // A malformed time is refused, naming the option.
        let bad = try run("20 April")
        #expect(bad.status == 2 && bad.stderr.contains("--at: '20 April' is not an RFC 3339 time"))
    }

    @Test func allYearsIncludeAwaitingAndNoDataTargets() throws {
        let r = try PlansyncProcess.run([
            "evaluate", "--plan", "Config/plans/futian-2023.toml",
            "--observations", "Config/feeds/futian-2022-report.csv", "--json",
        ])
        #expect(r.status == 0)
        #expect(r.stdout.contains(#""indicator":"water_per_gdp","year":2023,"status":"awaiting_target""#))
        #expect(r.stdout.contains(#""indicator":"gdp","year":2023,"status":"no_data""#))
    }

    @Test func aMalformedObservationsFileExitsTwoNamingFileLineAndReason() throws {
        let dir = try scratchFolder()
        let file = dir + "/bad.csv"
        try "indicator,period,measure,value\ngdp,2022,growth,3.0\ngdp,2024-13,growth,1.0\n".write(toFile: file, atomically: true, encoding: .utf8)
        let r = try PlansyncProcess.run(["evaluate", "--plan", "Config/plans/futian-2023.toml", "--observations", file])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(file): line 3, column 2: invalid period '2024-13': month must be 01–12"))
        #expect(r.stdout.isEmpty)
    }

    @Test func aMalformedPlanExitsTwo() throws {
        let dir = try scratchFolder()
        let file = dir + "/plan.toml"
        try
            "id = \"x\"\ntitle = \"t\"\n[[indicator]]\ncode = \"a\"\nname = \"a\"\ncategory = \"expected\"\nunit = \"%\"\ntargets = [{ year = 2023, rule = \"grow\" }]\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let r = try PlansyncProcess.run(["evaluate", "--plan", file, "--observations", "Config/feeds/futian-2022-annex.csv"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(file): indicator[0].targets[0].rule: unknown rule 'grow'"))
    }

    @Test func usageErrorsExitTwo() throws {
        #expect(try PlansyncProcess.run(["evaluate", "--plan", "Config/plans/futian-2023.toml"]).status == 2)
        #expect(try PlansyncProcess.run(["frobnicate"]).status == 2)
        let missing = try PlansyncProcess.run(["evaluate", "--plan", "Config/plans/futian-2023.toml", "--observations", "/nonexistent.csv"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/nonexistent.csv"))
        let help = try PlansyncProcess.run(["--help"])
        #expect(help.status == 0 && help.stdout.contains("evaluate"))
    }
}

@Suite struct CheckCommandTests {
    @Test func theDemoConfigIsValid() throws {
        let r = try PlansyncProcess.run(["check", "--config", "Config/demo/plansync.toml"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("plansync.toml: OK"))
        #expect(r.stdout.contains("futian-2023: 18 indicators, 28 targets"))
        #expect(r.stdout.contains("futian-annex") && r.stdout.contains("11 observations"))
    }

    @Test func anInvalidConfigExitsTwoAndChangesNothing() throws {
        let dir = try scratchFolder()
        try FileManager.default.createDirectory(atPath: dir + "/plans", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: PlansyncProcess.root.appendingPathComponent("Config/plans/futian-2023.toml").path,
            toPath: dir + "/plans/futian-2023.toml")
        let config = dir + "/plansync.toml"
        try """
        database = "state/mirror.sqlite"
        socket = "state/status.sock"
        alert_log = "state/alerts.jsonl"
        plans = ["plans/*.toml"]
        [[feed]]
        id = "a"
        plan = "futian-2023"
        url = "https://user:hunter2@stats.example.org/a.csv"
        format = "csv"
        retries = "three"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try PlansyncProcess.run(["check", "--config", config])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(config): feed[0].retries: expected a whole number, found a string"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/state"))
        // A valid config shows the URL without its password.
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "retries = \"three\"", with: "retries = 3")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let ok = try PlansyncProcess.run(["check", "--config", config])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("https://***@stats.example.org/a.csv"))
        #expect(!ok.stdout.contains("hunter2") && !ok.stderr.contains("hunter2"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/state"))
        // Sinks are listed without their secrets; a bad one exits 2 and says where.
        try "k3y".write(toFile: dir + "/hook.key", atomically: true, encoding: .utf8)
        let sink =
            "\n[[sink]]\nid = \"ops\"\nkind = \"webhook\"\nurl = \"https://hooks.example.org/p?access_token=t0ken\"\nsecret_file = \"hook.key\"\nmatch = { severity = [\"critical\"] }\n"
        try (String(contentsOfFile: config, encoding: .utf8) + sink).write(toFile: config, atomically: true, encoding: .utf8)
        let withSink = try PlansyncProcess.run(["check", "--config", config])
        #expect(withSink.status == 0, "\(withSink.stderr)")
        #expect(
            withSink.stdout.contains("sink       ops (webhook https://hooks.example.org/p?access_token=***): severity critical, signed"), "\(withSink.stdout)")
        #expect(!withSink.stdout.contains("t0ken") && !withSink.stdout.contains("k3y"))
        try (String(contentsOfFile: config, encoding: .utf8) + "max_age = \"5s\"\n").write(toFile: config, atomically: true, encoding: .utf8)
        let badSink = try PlansyncProcess.run(["check", "--config", config])
        #expect(badSink.status == 2)
        #expect(badSink.stderr.contains("\(config): sink[0].max_age: max_age must be at least 1m"), "\(badSink.stderr)")
    }

    @Test func aMissingConfigExitsTwo() throws {
        let r = try PlansyncProcess.run(["check", "--config", "/nonexistent/plansync.toml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("/nonexistent/plansync.toml: no such file"))
    }
}
