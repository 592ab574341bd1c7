import Foundation
import Testing
@testable import PlanCore

/// Judging as a pure function: the same inputs give the same verdicts, conditions and events,
/// with no database anywhere.
@Suite struct JudgingTests {
    let plan = Plan(
        id: "p", title: "t",
        indicators: [
            Indicator(
                code: "gdp", name: "地区生产总值", category: .expected, unit: "亿元",
                targets: [Target(year: 2022, rule: .growthAtLeast(Figure("6.0")!))])
        ])

    func observation(_ value: String, feed: String = "a") -> Observation {
        Observation(indicator: "gdp", period: .year(2022), measure: .growth, value: Figure(value)!, unit: "%", feed: feed)
    }

    @Test func aMissedTargetFiresAndResolvesWithItsNote() {
        let missed = Judging.judge(plan, index: ObservationIndex([observation("3.0")], priorities: [:]))
        #expect(missed.verdicts.map(\.status) == [.missed])
        #expect(missed.conditions.map(\.key) == ["p/gdp/2022/target_missed"])
        let fired = Judging.actions(plans: [missed], feedConditions: [], stored: [:], details: { _ in .null })
        #expect(fired.map(\.event) == [.firing])
        // Stored as firing, now met: resolved, with the note and the stored details.
        let stored = [
            "p/gdp/2022/target_missed": AlertRecord(
                key: "p/gdp/2022/target_missed", kind: .targetMissed, firing: true, severity: .warning, details: .object([]), message: "m")
        ]
        let met = Judging.judge(plan, index: ObservationIndex([observation("6.5")], priorities: [:]))
        let resolved = Judging.actions(plans: [met], feedConditions: [], stored: stored, details: { _ in .object([("x", .int(1))]) })
        #expect(resolved.map(\.event) == [.resolved])
        #expect(resolved.first?.message.contains("now met") == true)
        #expect(resolved.first?.details == .object([("x", .int(1))]))
    }

    @Test func feedsFailAndGoStaleByTheirPolicies() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let policy = FeedPolicy(id: "a", plan: "p", priority: 0, failingAfter: 2, staleAfter: 3600)
        let fresh = FeedHealth(failures: 1, lastError: nil, lastSuccessText: nil, lastSuccess: now.addingTimeInterval(-60), created: nil)
        #expect(Judging.feedConditions([policy], health: ["a": fresh], now: now).isEmpty)
        let failing = FeedHealth(failures: 2, lastError: "timeout", lastSuccessText: "x", lastSuccess: now.addingTimeInterval(-7200), created: nil)
        #expect(Judging.feedConditions([policy], health: ["a": failing], now: now).map(\.kind) == [.feedFailing, .feedStale])
        let never = FeedHealth(failures: 0, lastError: nil, lastSuccessText: nil, lastSuccess: nil, created: now.addingTimeInterval(-60))
        #expect(Judging.feedConditions([policy], health: ["a": never], now: now).isEmpty, "stale counts from creation")
    }

    @Test func yearsNeededCoverTheYearBeforeAndBaseYears() {
        let withBase = Plan(
            id: "p", title: "t",
            indicators: [
                Indicator(
                    code: "w", name: "w", category: .binding, unit: "%",
                    targets: [Target(year: 2023, rule: .declineVsBaseAtLeast(Figure("5")!, baseYear: 2020))])
            ])
        // Every year from the base: the path before the target year reads them.
        #expect(Judging.yearsNeeded(withBase) == [2020, 2021, 2022, 2023])
    }
}

@Suite struct VerdictDecodingTests {
    @Test func aVerdictComesBackFromItsJSON() throws {
        let key = ObservationKey(indicator: "gdp", period: try Period(parsing: "2023-06"), measure: .growth, cumulative: true)
        let verdict = Verdict(
            plan: "p", indicator: "gdp", year: 2023, status: .atRisk, rule: .growthAtLeast, measure: .growth,
            actual: Figure("5.0"), threshold: Figure("6.5"), shortfall: Figure("1.5"), unit: "%",
            period: try Period(parsing: "2023-06"), cumulative: true, feed: "a", severity: .warning, derived: false,
            conflicts: [
                SourceConflict(
                    key: key, winner: Observation(indicator: "gdp", period: key.period, measure: .growth, value: Figure("5.0")!, cumulative: true, feed: "a"),
                    others: [Observation(indicator: "gdp", period: key.period, measure: .growth, value: Figure("5.2")!, cumulative: true, feed: "b")])
            ])
        let text = verdict.json.text
        let back = try #require(Verdict(json: try JSONParser.parse(Array(text.utf8))))
        #expect(back.json.text == text)
        #expect(back.conflicts.first?.key == key)
        let empty = Verdict(plan: "p", indicator: "jobs", year: 2022, status: .noData, rule: .atMost)
        #expect(Verdict(json: try JSONParser.parse(Array(empty.json.text.utf8)))?.json.text == empty.json.text)
        // Not a verdict: a field missing or of the wrong kind.
        #expect(Verdict(json: try JSONParser.parse(Array(#"{"plan":"p"}"#.utf8))) == nil)
        #expect(Verdict(json: try JSONParser.parse(Array(text.replacingOccurrences(of: #""year":2023"#, with: #""year":"2023""#).utf8))) == nil)
    }

    /// The mirror stores `jsonText` and compares it with what is stored: it must be the bytes
    /// `json.text` writes, or an upgraded province would rewrite every verdict.
    @Test func theTextWrittenDirectlyIsTheJSONValuesText() throws {
        let key = ObservationKey(indicator: "gdp", period: .quarter(2023, 2), measure: .changeVsBase, cumulative: true, baseYear: 2020)
        let conflict = SourceConflict(
            key: key, winner: Observation(indicator: "gdp", period: key.period, measure: .changeVsBase, value: Figure("-5.0")!, feed: "a"),
            others: [
                Observation(indicator: "gdp", period: key.period, measure: .changeVsBase, value: Figure("-5.25")!, feed: "b\"q"),
                Observation(indicator: "gdp", period: key.period, measure: .changeVsBase, value: Figure("1E2")!, feed: "c"),
            ])
        let verdicts = [
            Verdict(plan: "p", indicator: "jobs", year: 2022, status: .noData, rule: .atMost),
            Verdict(
                plan: "福田-2023", indicator: "gdp\n2", year: 2023, status: .atRisk, rule: .declineVsBaseAtLeast, measure: .changeVsBase,
                actual: Figure("-5.0"), threshold: -Figure("13.5")!, shortfall: Figure(Decimal(string: "8.5")!, scale: 2), unit: "万吨\"标煤\u{2028}",
                period: .quarter(2023, 2), cumulative: true, feed: "a\\b", severity: .critical, derived: true, conflicts: [conflict]),
            Verdict(
                plan: "p", indicator: "x", year: 2021, status: .met, rule: .atLeast, measure: .level,
                actual: Figure(Decimal(string: "1234.5")! / 3, scale: 3), threshold: Figure(Decimal(1000) * 11 / 12, scale: 3),
                shortfall: Figure(Decimal(0), scale: 3), unit: nil, period: .year(2021), feed: "a"),
        ]
        for verdict in verdicts {
            #expect(verdict.jsonText == verdict.json.text)
        }
    }
}

/// The index files figures per indicator: with several feeds, and an indicator's figures
/// arriving in more than one run, winners and conflicts are those of ranking every
/// observation of a figure by priority, then feed id.
@Suite struct ObservationIndexTests {
    @Test func winnersAndConflictsFollowPriorityWhateverTheOrder() throws {
        func o(_ code: String, _ period: Period, _ value: String, feed: String, cumulative: Bool = false) -> Observation {
            Observation(indicator: code, period: period, measure: .growth, value: Figure(value)!, cumulative: cumulative, feed: feed)
        }
        let observations = [
            o("gdp", .year(2022), "3.0", feed: "b"), o("gdp", .month(2023, 6), "5.0", feed: "b", cumulative: true),
            o("jobs", .year(2022), "1.0", feed: "b"),
            o("gdp", .year(2022), "3.5", feed: "a"), o("gdp", .year(2023), "4.0", feed: "a"),
            o("gdp", .year(2022), "3.0", feed: "c"), o("gdp", .month(2023, 6), "5.0", feed: "c", cumulative: true),
        ]
        let index = ObservationIndex(observations, priorities: ["c": 2, "b": 1])
        let y2022 = ObservationKey(indicator: "gdp", period: .year(2022), measure: .growth)
        #expect(index.winner(y2022)?.feed == "c")
        let conflict = try #require(index.conflict(y2022))
        #expect(conflict.others.map(\.feed) == ["a"], "b agrees with the winner; a differs")
        #expect(index.winner(ObservationKey(indicator: "gdp", period: .month(2023, 6), measure: .growth, cumulative: true))?.feed == "c")
        #expect(index.conflict(ObservationKey(indicator: "gdp", period: .month(2023, 6), measure: .growth, cumulative: true)) == nil)
        #expect(index.winner(ObservationKey(indicator: "gdp", period: .month(2023, 6), measure: .growth)) == nil, "not year to date")
        #expect(index.winner(ObservationKey(indicator: "jobs", period: .year(2022), measure: .growth))?.value == Figure("1.0"))
        #expect(Set(index.keys(for: "gdp").map(\.period)) == [.year(2022), .year(2023), .month(2023, 6)])
        #expect(index.conflicts(indicators: ["jobs", "gdp"]).map(\.key) == [y2022])
        // Equal priorities: the alphabetically first feed wins.
        #expect(ObservationIndex(observations).winner(y2022)?.feed == "a")
    }
}

/// Alert conditions of verdicts write their details and message only when read, and the
/// note an alert resolves with is found from its key.
@Suite struct VerdictConditionTests {
    let plan = Plan(
        id: "county-01", title: "t",
        indicators: [
            Indicator(
                code: "gdp/x", name: "地区生产总值", category: .binding, unit: "%",
                targets: [Target(year: 2022, rule: .growthAtLeast(Figure("6.0")!)), Target(year: 2023, rule: .growthAtLeast(Figure("6.5")!))])
        ])

    @Test func detailsAndMessageAreThoseOfTheVerdict() throws {
        let observations = [
            Observation(indicator: "gdp/x", period: .year(2022), measure: .growth, value: Figure("3.0")!, feed: "a"),
            Observation(indicator: "gdp/x", period: .month(2023, 6), measure: .growth, value: Figure("7.0")!, cumulative: true, feed: "a"),
        ]
        let judged = Judging.judge(plan, index: ObservationIndex(observations))
        let condition = try #require(judged.conditions.first)
        #expect(judged.conditions.count == 1)
        #expect(condition.key == "county-01/gdp/x/2022/target_missed")
        #expect(condition.severity == .critical)
        #expect(condition.message == "地区生产总值 2022: growth 3.0% below target 6.0% (short by 3.0 pp)")
        #expect(condition.details["actual"] == .number("3.0"))
        #expect(condition.details["target"] == .null)
        #expect(
            condition == AlertCondition(key: condition.key, kind: .targetMissed, severity: .critical, details: condition.details, message: condition.message))
        #expect(judged.resolutionNote("county-01/gdp/x/2022/target_missed") == "now missed: growth 3.0")
        #expect(judged.resolutionNote("county-01/gdp/x/2023/target_at_risk") == "now on_track: growth 7.0")
        #expect(judged.resolutionNote("county-01/gdp/x/2024/target_missed") == nil)
        #expect(judged.resolutionNote("county-02/gdp/x/2022/target_missed") == nil)
        #expect(judged.resolutionNote("county-01/gdp/x/2022/source_conflict") == nil)
        #expect(judged.resolutionNote("nonsense") == nil)
    }
}

/// The inputs text is stored as a SHA-256 in every mirror (`judged_plan.inputs`): writing it
/// faster must not change a byte of it, or every plan of an upgraded province is judged again.
@Suite struct InputsTextTests {
    /// The text as plansync 0.4 wrote it (string interpolation, kept here as the reference;
    /// judging version 2 added the `pace` line).
    func reference(_ plan: Plan, feeds: [FeedPolicy]) -> String {
        var text = "judging \(Judging.version)\nplan \(plan.id)\n"
        func line(_ fields: String?...) {
            for field in fields {
                if let field { text += "\(field.utf8.count):\(field)" } else { text += "-" }
                text += " "
            }
            text += "\n"
        }
        line("title", plan.title, plan.titleEN, plan.region)
        line("pace", plan.paceTolerance.description, plan.language.rawValue, plan.timeZone)
        for indicator in plan.indicators {
            line("indicator", indicator.code, indicator.name, indicator.nameEN, indicator.category.rawValue, indicator.unit)
            for target in indicator.targets {
                line("target", String(target.year), target.rule.name, target.rule.value?.description, target.rule.baseYear.map(String.init), target.text)
            }
        }
        for feed in feeds.sorted(by: { $0.id < $1.id }) { line("feed", feed.id, String(feed.priority)) }
        return text
    }

    @Test func sameBytesAsBefore() throws {
        let plan = Plan(
            id: "p-1", title: "福田区2023年计划", titleEN: nil, region: "福田",
            indicators: [
                Indicator(
                    code: "gdp", name: "地区生产总值", nameEN: "GDP", category: .expected, unit: "%",
                    targets: [
                        Target(year: 2023, rule: .growthAtLeast(try #require(Figure("6.0"))), text: "增长6%"),
                        Target(year: 2025, rule: .declineVsBaseAtLeast(try #require(Figure("13.5")), baseYear: 2020)),
                    ]),
                Indicator(code: "jobs", name: "就业", category: .binding, unit: "万人", targets: [Target(year: 2023, rule: .assigned)]),
            ])
        let feeds = [
            FeedPolicy(id: "z", plan: "p-1", priority: 2, failingAfter: 3, staleAfter: 60),
            FeedPolicy(id: "a", plan: "p-1", priority: 0, failingAfter: 3, staleAfter: 60),
        ]
        #expect(Judging.inputsText(plan, feeds: feeds) == reference(plan, feeds: feeds))
        #expect(Judging.inputsText(plan, feeds: []) == reference(plan, feeds: []))
    }
}

/// Plans copied from one template keep one copy of each list of targets.
@Suite struct SharedTargetsTests {
    @Test func equalTargetListsShareStorageAndPlansStayTheSame() {
        func plan(_ id: String, value: String, text: String? = nil) -> Plan {
            Plan(
                id: id, title: "县区",
                indicators: [
                    Indicator(
                        code: "gdp", name: "地区生产总值", category: .expected, unit: "亿元",
                        targets: [Target(year: 2024, rule: .growthAtLeast(Figure(value)!), text: text)])
                ])
        }
        let plans = [plan("a", value: "5.0"), plan("b", value: "5.0"), plan("c", value: "5.00"), plan("d", value: "5.0", text: "x")]
        let shared = Plan.sharingTargets(plans)
        #expect(shared == plans, "nothing a plan holds changes")
        func storage(_ p: Plan) -> UnsafeRawPointer? { p.indicators[0].targets.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) } }
        #expect(storage(shared[0]) == storage(shared[1]))
        #expect(storage(shared[0]) != storage(shared[2]), "5.00 is written differently from 5.0: kept apart")
        #expect(storage(shared[0]) != storage(shared[3]), "a different text: kept apart")
    }
}
