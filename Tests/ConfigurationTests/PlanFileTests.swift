import FeedFormats
import Foundation
import Testing
@testable import Configuration
@testable import PlanCore

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private let valid = """
    id = "p"
    title = "计划"

    [[indicator]]
    code = "gdp"
    name = "地区生产总值"
    category = "expected"
    unit = "亿元"
    targets = [ { year = 2023, rule = "growth_at_least", value = 6.5, text = "增长6.5%" } ]
    """

/// The valid plan with one line replaced.
private func variant(_ old: String, _ new: String) -> String {
    precondition(valid.contains(old))
    return valid.replacingOccurrences(of: old, with: new)
}

@Suite struct PlanFileTests {
    @Test func parsesAValidPlan() throws {
        let plan = try PlanFile.parse(valid, file: "p.toml")
        #expect(plan.id == "p")
        #expect(plan.indicators.first?.targets.first?.rule == .growthAtLeast(Figure("6.5")!))
        #expect(plan.indicators.first?.targets.first?.text == "增长6.5%")
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let text: String
        let keyPath: String?
        let line: Int?
        let message: String
        var testDescription: String { message }
    }

    static let bad: [Bad] = [
        Bad(
            text: variant("\"growth_at_least\"", "\"growth_atleast\""), keyPath: "indicator[0].targets[0].rule", line: nil,
            message: "unknown rule 'growth_atleast' (allowed: growth_at_least, growth_positive"),
        Bad(
            text: variant(", value = 6.5", ""), keyPath: "indicator[0].targets[0].value", line: nil,
            message: "rule 'growth_at_least' needs a numeric 'value'"),
        Bad(
            text: variant("value = 6.5", "value = \"6.5%\""), keyPath: "indicator[0].targets[0].value", line: nil,
            message: "expected a number without quotes, found the string \"6.5%\""),
        Bad(
            text: variant("\"expected\"", "\"optional\""), keyPath: "indicator[0].category", line: nil,
            message: "unknown category 'optional' (allowed: expected, binding)"),
        Bad(
            text: valid + "\n\n[[indicator]]\ncode = \"gdp\"\nname = \"x\"\ncategory = \"binding\"\nunit = \"%\"\n",
            keyPath: "indicator[1].code", line: nil, message: "duplicate indicator code 'gdp' (already used by indicator[0])"),
        Bad(
            text: variant("year = 2023", "year = 20233"), keyPath: "indicator[0].targets[0].year", line: nil,
            message: "target year 20233 is out of range (allowed: 1950–2100)"),
        Bad(
            text: variant("year = 2023, rule", "year = 2023, years = 2, rule"), keyPath: "indicator[0].targets[0].years", line: nil,
            message: "unknown key 'years' (did you mean 'year'?)"),
        Bad(text: variant("title = \"计划\"", "title = \"计划"), keyPath: nil, line: 2, message: "TOML syntax error"),
        Bad(
            text: variant("code = \"gdp\"", "code = \"GDP growth\""), keyPath: "indicator[0].code", line: nil,
            message: "not a valid indicator code"),
        Bad(text: variant("unit = \"亿元\"\n", ""), keyPath: "indicator[0].unit", line: nil, message: "missing required key 'unit'"),
        Bad(
            text: variant("rule = \"growth_at_least\", value = 6.5", "rule = \"growth_positive\", value = 6.5"),
            keyPath: "indicator[0].targets[0].value", line: nil, message: "takes no value"),
        Bad(
            text: variant("rule = \"growth_at_least\", value = 6.5", "rule = \"decline_vs_base_at_least\", value = 6.5"),
            keyPath: "indicator[0].targets[0].base_year", line: nil, message: "needs 'base_year'"),
        Bad(
            text: variant("rule = \"growth_at_least\", value = 6.5", "rule = \"decline_at_least\", value = -4.0"),
            keyPath: "indicator[0].targets[0].value", line: nil, message: "written as a positive percentage"),
        Bad(
            text: variant(
                "[ { year = 2023, rule = \"growth_at_least\", value = 6.5, text = \"增长6.5%\" } ]",
                "[ { year = 2023, rule = \"assigned\" }, { year = 2023, rule = \"assigned\" } ]"),
            keyPath: "indicator[0].targets[1].year", line: nil, message: "already has a target for 2023"),
        Bad(text: "id = \"p\"\ntitle = \"t\"\n", keyPath: "", line: nil, message: "no [[indicator]] sections"),
        Bad(
            text: variant("rule = \"growth_at_least\", value = 6.5", "rule = \"average_growth_at_least\", value = 6.5"),
            keyPath: "indicator[0].targets[0].base_year", line: nil, message: "rule 'average_growth_at_least' needs 'base_year'"),
        Bad(
            text: variant("rule = \"growth_at_least\", value = 6.5", "rule = \"growth_at_least\", value = 6.5, base_year = 2020"),
            keyPath: "indicator[0].targets[0].base_year", line: nil, message: "base_year is only used by rules"),
        Bad(
            text: variant("title = \"计划\"", "title = \"计划\"\npace_tolerance_pp = -1"), keyPath: "pace_tolerance_pp", line: nil,
            message: "pace_tolerance_pp must be between 0 and 100 percentage points, found -1"),
        Bad(
            text: variant("title = \"计划\"", "title = \"计划\"\npace_tolerance_pp = \"2pp\""), keyPath: "pace_tolerance_pp", line: nil,
            message: "expected a number without quotes"),
        Bad(
            text: variant("title = \"计划\"", "title = \"计划\"\nlang = \"fr\""), keyPath: "lang", line: nil,
            message: "unknown language 'fr' (allowed: zh, en)"),
        Bad(
            text: variant("title = \"计划\"", "title = \"计划\"\ntimezone = \"Beijing\""), keyPath: "timezone", line: nil,
            message: "unknown time zone 'Beijing'"),
        Bad(
            text: variant("title = \"计划\"", "title = \"计划\"\nrelease = { frequency = \"weekly\", lag_days = 3 }"),
            keyPath: "release.frequency", line: nil, message: "unknown frequency 'weekly' (allowed: monthly, quarterly, half_yearly, yearly)"),
        Bad(
            text: variant("title = \"计划\"", "title = \"计划\"\nrelease = { frequency = \"monthly\" }"),
            keyPath: "release.lag_days", line: nil, message: "missing required key 'lag_days'"),
        Bad(
            text: variant("title = \"计划\"", "title = \"计划\"\nrelease = { frequency = \"monthly\", lag_days = 15, skip = [\"13\"] }"),
            keyPath: "release.skip", line: nil, message: "skip[0] '13' is not a monthly period of the year (e.g. \"01\")"),
        Bad(
            text: variant("title = \"计划\"", "title = \"计划\"\nrelease = { frequency = \"monthly\", lag_days = 15, grace = \"3 days\" }"),
            keyPath: "release.grace", line: nil, message: "'3 days' is not"),
        Bad(
            text: variant(
                "unit = \"亿元\"", "unit = \"亿元\"\nrelease = { frequency = \"quarterly\", lag_days = 20, dates = { \"2024-03\" = \"2024-04-16\" } }"),
            keyPath: "indicator[0].release.dates.2024-03", line: nil, message: "'2024-03' is not a quarterly period"),
        Bad(
            text: variant(
                "unit = \"亿元\"", "unit = \"亿元\"\nrelease = { frequency = \"monthly\", lag_days = 20, dates = { \"2024-03\" = \"April 16\" } }"),
            keyPath: "indicator[0].release.dates.2024-03", line: nil, message: "expected a date \"YYYY-MM-DD\""),
        // Found by fuzzing the toml++-based parser used before, which asserted (and so aborted
        // the process) on these key shapes.
        Bad(text: valid + "\n[地区]\nx = 1\n", keyPath: nil, line: 10, message: "a key with characters other than A-Z"),
        Bad(text: valid + "\n[#]\n", keyPath: nil, line: 10, message: "expected a key, found '#'"),
        Bad(text: valid + "\n地区 = 1\n", keyPath: nil, line: 10, message: "must be quoted"),
        Bad(text: valid + "\nx = { a = 1, $ = 2 }\n", keyPath: nil, line: 10, message: "expected a key, found '$'"),
        // Windows line endings: the error is still reported on its own line, not line 1.
        Bad(
            text: (valid + "\n地区 = 1\n").replacingOccurrences(of: "\n", with: "\r\n"), keyPath: nil, line: 10,
            message: "must be quoted"),
    ]

    @Test(arguments: bad)
    func rejectsMalformedPlansWithFileLocationAndReason(_ c: Bad) {
        #expect {
            try PlanFile.parse(c.text, file: "plans/p.toml")
        } throws: { error in
            guard let e = error as? ConfigError else { return false }
            let text = e.description
            return e.file == "plans/p.toml" && e.message.contains(c.message)
                && (c.keyPath == nil || e.keyPath == c.keyPath) && (c.line == nil || e.line == c.line)
                && text.hasPrefix("plans/p.toml")
        }
    }

    @Test func paceToleranceLanguageAndAverageGrowthTargets() throws {
        let plan = try PlanFile.parse(
            variant("title = \"计划\"", "title = \"计划\"\npace_tolerance_pp = 1.5\nlang = \"en\"")
                .replacingOccurrences(
                    of: "rule = \"growth_at_least\", value = 6.5", with: "rule = \"average_growth_at_least\", value = 6.5, base_year = 2020"),
            file: "p.toml")
        #expect(plan.paceTolerance == Figure("1.5")! && plan.language == .en)
        #expect(plan.indicators[0].targets[0].rule == .averageGrowthAtLeast(Figure("6.5")!, baseYear: 2020))
        // Defaults: no tolerance; the language of the title.
        let plain = try PlanFile.parse(valid, file: "p.toml")
        #expect(plain.paceTolerance == Figure(0) && plain.language == .zh)
    }

    @Test func releaseSchedulesFromThePlanOrTheIndicator() throws {
        let text =
            variant(
                "title = \"计划\"",
                "title = \"计划\"\ntimezone = \"Asia/Shanghai\"\nrelease = { frequency = \"monthly\", lag_days = 15, grace = \"3d\", skip = [\"01\"], dates = { \"2024-03\" = \"2024-04-16\" } }"
            )
            + "\n\n[[indicator]]\ncode = \"q\"\nname = \"季度\"\ncategory = \"expected\"\nunit = \"%\"\nrelease = { frequency = \"quarterly\", lag_days = 20, skip = [\"Q1\"] }\n"
        let plan = try PlanFile.parse(text, file: "p.toml")
        #expect(plan.timeZone == "Asia/Shanghai")
        #expect(
            plan.indicators[0].release
                == ReleaseSchedule(
                    frequency: .monthly, lagDays: 15, grace: 3 * 86_400, skip: [1], dates: [.month(2024, 3): .init(year: 2024, month: 4, day: 16)]))
        #expect(plan.indicators[1].release == ReleaseSchedule(frequency: .quarterly, lagDays: 20, skip: [1]))
        #expect(try PlanFile.parse(valid, file: "p.toml").indicators[0].release == nil)
    }

    @Test func aPlanSavedWithWindowsLineEndingsParsesTheSame() throws {
        let crlf = try PlanFile.parse(valid.replacingOccurrences(of: "\n", with: "\r\n"), file: "plans/p.toml")
        #expect(crlf == (try PlanFile.parse(valid, file: "plans/p.toml")))
    }

    @Test func theSeedPlanHoldsEveryIndicatorOfTheAnnexAndTheTaskTargets() throws {
        let plan = try PlanFile.load(path: repositoryRoot.appendingPathComponent("Config/plans/futian-2023.toml").path)
        let annex = [
            "gdp", "modern_services", "fixed_asset_investment", "retail_sales", "foreign_trade", "budget_revenue",
            "unemployment_rate", "land_per_gdp", "water_per_gdp", "energy_per_gdp",
        ]
        let tasks = [
            "new_rd_centers", "hk_research_entities", "innovation_platforms", "rd_spending", "pm25",
            "night_noise_compliance", "civilization_sites", "released_land",
        ]
        #expect(plan.indicators.map(\.code) == annex + tasks)
        for (i, code) in annex.enumerated() {
            let indicator = try #require(plan.indicator(code))
            #expect(indicator.category == (i < 6 ? .expected : .binding))
            #expect(indicator.targets.map(\.year) == [2022, 2023])
            #expect(indicator.targets.allSatisfy { $0.text?.isEmpty == false })
            #expect(indicator.nameEN?.isEmpty == false)
        }
        #expect(plan.indicator("water_per_gdp")?.targets[1].rule == .assigned)
        #expect(plan.indicator("energy_per_gdp")?.targets[1].rule == .assigned)
        #expect(plan.indicator("water_per_gdp")?.targets[0].rule == .declineVsBaseAtLeast(Figure("6.5")!, baseYear: 2020))
        #expect(plan.indicator("rd_spending")?.targets[0].rule == .moreThan(Figure(100)))
        #expect(plan.indicator("pm25")?.targets[0].rule == .belowPrevious)
        for code in tasks { #expect(plan.indicator(code)?.targets.map(\.year) == [2023]) }
    }
}

@Suite struct SeedJudgementTests {
    func verdicts(feeds: [String], priorities: [String: Int]) throws -> [String: Verdict] {
        let plan = try PlanFile.load(path: repositoryRoot.appendingPathComponent("Config/plans/futian-2023.toml").path)
        var observations: [Observation] = []
        for feed in feeds {
            let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Config/feeds/\(feed).csv"))
            observations += try FeedParser.parse(Array(data), format: .csv, options: ParseOptions(feed: feed)).observations
        }
        let list = Evaluation.verdicts(plan: plan, observations: observations, priorities: priorities, years: [2022])
        return Dictionary(uniqueKeysWithValues: list.map { ($0.indicator, $0) })
    }

    static let missed = ["gdp", "modern_services", "retail_sales", "foreign_trade", "budget_revenue", "land_per_gdp"]
    static let met = ["fixed_asset_investment", "unemployment_rate", "water_per_gdp", "energy_per_gdp"]

    @Test func theAnnexGivesTheSeedsOwnJudgementOf2022() throws {
        let v = try verdicts(feeds: ["futian-2022-annex"], priorities: [:])
        #expect(Set(v.filter { $0.value.status == .missed }.keys) == Set(Self.missed))
        #expect(Set(v.filter { $0.value.status == .met }.keys) == Set(Self.met))
        #expect(v.count == 10)
        #expect(v["energy_per_gdp"]?.shortfall?.isZero == true)  // exactly on its boundary
        #expect(v["land_per_gdp"]?.severity == .critical)
        #expect(v["gdp"]?.severity == .warning)
    }

    @Test func theReportAndTheAnnexDisagreeOnModernServices() throws {
        let v = try verdicts(
            feeds: ["futian-2022-annex", "futian-2022-report"],
            priorities: ["futian-2022-annex": 20, "futian-2022-report": 10])
        #expect(Set(v.filter { $0.value.status == .missed }.keys) == Set(Self.missed))
        let services = try #require(v["modern_services"])
        #expect(services.actual == Figure("3.0"))
        #expect(services.conflicts.first?.others.first?.value == Figure("5.3"))
        #expect(v.values.filter { !$0.conflicts.isEmpty }.map(\.indicator) == ["modern_services"])
    }
}
