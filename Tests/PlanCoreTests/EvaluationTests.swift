import Foundation
import Testing
@testable import PlanCore

/// Builds a one-indicator plan and observations for rule tests.
private func plan(_ rule: TargetRule, year: Int = 2023, category: PlanCore.Category = .expected, unit: String = "亿元") -> Plan {
    Plan(
        id: "p", title: "t",
        indicators: [
            Indicator(code: "x", name: "指标", category: category, unit: unit, targets: [Target(year: year, rule: rule)])
        ])
}

private func obs(
    _ period: String, _ measure: Measure, _ value: String, feed: String = "f",
    cumulative: Bool = false, base: Int? = nil, indicator: String = "x"
) -> Observation {
    Observation(
        indicator: indicator, period: try! Period(parsing: period), measure: measure, value: Figure(value)!,
        cumulative: cumulative, baseYear: base, feed: feed)
}

private func fig(_ text: String) -> Figure { Figure(text)! }

private func judge(
    _ rule: TargetRule, _ observations: [Observation], priorities: [String: Int] = [:],
    category: PlanCore.Category = .expected
) -> Verdict {
    Evaluation.verdicts(plan: plan(rule, category: category), observations: observations, priorities: priorities)[0]
}

@Suite struct RuleBoundaryTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let rule: TargetRule
        let observation: Observation
        let status: VerdictStatus
        let threshold: String
        let shortfall: String
        var testDescription: String { "\(rule.name) with \(observation.measure) \(observation.value) → \(status)" }
    }

    static let cases: [Case] = [
        // growth_at_least 6.5: at, just above, just below.
        Case(rule: .growthAtLeast(fig("6.5")), observation: obs("2023", .growth, "6.5"), status: .met, threshold: "6.5", shortfall: "0.0"),
        Case(rule: .growthAtLeast(fig("6.5")), observation: obs("2023", .growth, "6.6"), status: .met, threshold: "6.5", shortfall: "0.0"),
        Case(rule: .growthAtLeast(fig("6.5")), observation: obs("2023", .growth, "6.4"), status: .missed, threshold: "6.5", shortfall: "0.1"),
        // growth_positive: 0 is not positive.
        Case(rule: .growthPositive, observation: obs("2023", .growth, "0.0"), status: .missed, threshold: "0", shortfall: "0.0"),
        Case(rule: .growthPositive, observation: obs("2023", .growth, "0.1"), status: .met, threshold: "0", shortfall: "0.0"),
        Case(rule: .growthPositive, observation: obs("2023", .growth, "-0.1"), status: .missed, threshold: "0", shortfall: "0.1"),
        // decline_at_least 3.5: a published -3.5 meets it.
        Case(rule: .declineAtLeast(fig("3.5")), observation: obs("2023", .growth, "-3.5"), status: .met, threshold: "-3.5", shortfall: "0.0"),
        Case(rule: .declineAtLeast(fig("3.5")), observation: obs("2023", .growth, "-3.6"), status: .met, threshold: "-3.5", shortfall: "0.0"),
        Case(rule: .declineAtLeast(fig("3.5")), observation: obs("2023", .growth, "-3.4"), status: .missed, threshold: "-3.5", shortfall: "0.1"),
        // decline_vs_base_at_least 6.5 vs 2020.
        Case(
            rule: .declineVsBaseAtLeast(fig("6.5"), baseYear: 2020), observation: obs("2023", .changeVsBase, "-6.5", base: 2020),
            status: .met, threshold: "-6.5", shortfall: "0.0"),
        Case(
            rule: .declineVsBaseAtLeast(fig("6.5"), baseYear: 2020), observation: obs("2023", .changeVsBase, "-6.6", base: 2020),
            status: .met, threshold: "-6.5", shortfall: "0.0"),
        Case(
            rule: .declineVsBaseAtLeast(fig("6.5"), baseYear: 2020), observation: obs("2023", .changeVsBase, "-6.4", base: 2020),
            status: .missed, threshold: "-6.5", shortfall: "0.1"),
        // at_most 3.0.
        Case(rule: .atMost(fig("3.0")), observation: obs("2023", .level, "3.0"), status: .met, threshold: "3.0", shortfall: "0.0"),
        Case(rule: .atMost(fig("3.0")), observation: obs("2023", .level, "3.1"), status: .missed, threshold: "3.0", shortfall: "0.1"),
        Case(rule: .atMost(fig("3.0")), observation: obs("2023", .level, "2.9"), status: .met, threshold: "3.0", shortfall: "0.0"),
        // at_least 360.
        Case(rule: .atLeast(fig("360")), observation: obs("2023", .level, "360"), status: .met, threshold: "360", shortfall: "0"),
        Case(rule: .atLeast(fig("360")), observation: obs("2023", .level, "361"), status: .met, threshold: "360", shortfall: "0"),
        Case(rule: .atLeast(fig("360")), observation: obs("2023", .level, "359"), status: .missed, threshold: "360", shortfall: "1"),
        // more_than 100: exactly 100 is not more.
        Case(rule: .moreThan(fig("100")), observation: obs("2023", .level, "100"), status: .missed, threshold: "100", shortfall: "0"),
        Case(rule: .moreThan(fig("100")), observation: obs("2023", .level, "100.1"), status: .met, threshold: "100", shortfall: "0.0"),
        Case(rule: .moreThan(fig("100")), observation: obs("2023", .level, "99.9"), status: .missed, threshold: "100", shortfall: "0.1"),
    ]

    @Test(arguments: cases)
    func judgesAtAndAroundTheBoundary(_ c: Case) {
        let v = judge(c.rule, [c.observation])
        #expect(v.status == c.status)
        #expect(v.threshold?.description == c.threshold)
        #expect(v.shortfall?.description == c.shortfall)
        #expect(v.actual == c.observation.value)
        #expect(v.derived == false)
        #expect(v.period == .year(2023))
        #expect(v.severity == (c.status == .missed ? .warning : nil))
    }

    @Test(arguments: [("15.6", VerdictStatus.met, "0.0"), ("15.7", .missed, "0.0"), ("15.8", .missed, "0.1")])
    func belowPreviousComparesWithLastYearsLevel(current: String, status: VerdictStatus, shortfall: String) {
        let v = judge(.belowPrevious, [obs("2022", .level, "15.7"), obs("2023", .level, current)])
        #expect(v.status == status)
        #expect(v.threshold == fig("15.7"))
        #expect(v.shortfall?.description == shortfall)
        #expect(v.measure == .level)
    }

    @Test func belowPreviousFallsBackToPublishedGrowth() {
        let v = judge(.belowPrevious, [obs("2023", .growth, "-1.2")])
        #expect(v.status == .met)
        #expect(v.measure == .growth)
        #expect(v.threshold == Figure(0))
    }

    @Test func assignedTargetsAwaitTheirValue() {
        let v = judge(.assigned, [obs("2023", .growth, "-3.0")])
        #expect(v.status == .awaitingTarget)
        #expect(v.actual == nil && v.threshold == nil && v.severity == nil)
    }

    @Test func noFigureMeansNoData() {
        let v = judge(.growthAtLeast(fig("6.5")), [obs("2022", .growth, "3.0"), obs("2023", .level, "5900")])
        #expect(v.status == .noData)
        #expect(v.actual == nil)
        #expect(v.threshold == fig("6.5"))
        #expect(v.measure == .growth)
    }

    @Test func bindingIndicatorsAreCritical() {
        let v = judge(.atMost(fig("3.0")), [obs("2023", .level, "3.2")], category: .binding)
        #expect(v.status == .missed)
        #expect(v.severity == .critical)
    }
}

@Suite struct DerivedMeasureTests {
    @Test func growthIsDerivedFromTwoAnnualLevels() {
        let v = judge(.growthAtLeast(fig("6.5")), [obs("2022", .level, "5515"), obs("2023", .level, "5873.5")])
        #expect(v.derived)
        #expect(v.actual?.description == "6.5")  // 5873.5 / 5515 - 1 = 6.4996%
        #expect(v.status == .met)
    }

    @Test func publishedGrowthBeatsDerivedGrowth() {
        // Nominal levels say +10%; the published growth (comparable prices) says 5.0%.
        let v = judge(.growthAtLeast(fig("6.5")), [obs("2022", .level, "100"), obs("2023", .level, "110"), obs("2023", .growth, "5.0")])
        #expect(!v.derived)
        #expect(v.actual == fig("5.0"))
        #expect(v.status == .missed)
    }

    @Test func changeVsBaseIsDerivedFromTheBaseYearLevel() {
        let v = judge(
            .declineVsBaseAtLeast(fig("6.5"), baseYear: 2020),
            [obs("2020", .level, "4.70"), obs("2023", .level, "4.07")])
        #expect(v.derived)
        #expect(v.measure == .changeVsBase)
        #expect(v.actual?.description == "-13.4")
        #expect(v.status == .met)
    }

    @Test func aChangeAgainstAnotherBaseYearIsNotUsed() {
        let v = judge(.declineVsBaseAtLeast(fig("6.5"), baseYear: 2020), [obs("2023", .changeVsBase, "-13.4", base: 2021)])
        #expect(v.status == .noData)
    }

    @Test func aZeroBaseLevelDerivesNothing() {
        let v = judge(.growthAtLeast(fig("1.0")), [obs("2022", .level, "0"), obs("2023", .level, "5")])
        #expect(v.status == .noData)
    }
}

@Suite struct YearToDateTests {
    @Test func cumulativeGrowthGivesOnTrackOrAtRisk() {
        let onTrack = judge(.growthAtLeast(fig("3.0")), [obs("2023-06", .growth, "3.2", cumulative: true)])
        #expect(onTrack.status == .onTrack)
        #expect(onTrack.period == .month(2023, 6))
        #expect(onTrack.cumulative)
        let atRisk = judge(.growthAtLeast(fig("3.0")), [obs("2023-06", .growth, "2.1", cumulative: true)])
        #expect(atRisk.status == .atRisk)
        #expect(atRisk.shortfall?.description == "0.9")
        #expect(atRisk.severity == .warning)
    }

    @Test func theLatestYearToDateFigureIsUsed() {
        let v = judge(
            .growthAtLeast(fig("3.0")),
            [
                obs("2023-03", .growth, "1.0", cumulative: true), obs("2023-09", .growth, "3.5", cumulative: true),
                obs("2023-Q2", .growth, "2.0", cumulative: true),
            ])
        #expect(v.status == .onTrack)
        #expect(v.period == .month(2023, 9))
    }

    @Test func aFullYearFigureBeatsYearToDateFigures() {
        let v = judge(.growthAtLeast(fig("3.0")), [obs("2023-11", .growth, "3.5", cumulative: true), obs("2023", .growth, "2.9")])
        #expect(v.status == .missed)
        #expect(v.period == .year(2023))
    }

    @Test func nonCumulativeMonthlyFiguresAreNotJudged() {
        let v = judge(.growthAtLeast(fig("3.0")), [obs("2023-06", .growth, "3.5")])
        #expect(v.status == .noData)
    }

    @Test func cumulativeGrowthIsDerivedFromSamePeriodLevels() {
        let v = judge(
            .growthAtLeast(fig("3.0")),
            [
                obs("2022-06", .level, "1000", cumulative: true), obs("2023-06", .level, "1021", cumulative: true),
            ])
        #expect(v.status == .atRisk)
        #expect(v.derived)
        #expect(v.actual?.description == "2.1")
    }

    @Test(arguments: [("60", VerdictStatus.onTrack), ("50.01", .onTrack), ("49.99", .atRisk)])
    func cumulativeLevelsAreComparedWithTheProRatedTarget(value: String, status: VerdictStatus) {
        let v = judge(.moreThan(fig("100")), [obs("2023-06", .level, value, cumulative: true)])
        #expect(v.threshold == fig("50"))
        #expect(v.status == status)
    }
}

@Suite struct PriorityTests {
    let observations = [
        obs("2022", .growth, "3.0", feed: "annex"),
        obs("2022", .growth, "5.3", feed: "report"),
    ]

    @Test func theHigherPriorityFeedWinsAndTheConflictIsReported() throws {
        let v = Evaluation.verdicts(
            plan: plan(.growthAtLeast(fig("6.2")), year: 2022), observations: observations,
            priorities: ["annex": 20, "report": 10])[0]
        #expect(v.feed == "annex")
        #expect(v.actual == fig("3.0"))
        let conflict = try #require(v.conflicts.first)
        #expect(conflict.winner.feed == "annex")
        #expect(conflict.others.map(\.feed) == ["report"])
        #expect(conflict.others.first?.value == fig("5.3"))
    }

    @Test func swappingPrioritiesSwapsTheWinner() {
        let v = Evaluation.verdicts(
            plan: plan(.growthAtLeast(fig("5.0")), year: 2022), observations: observations,
            priorities: ["annex": 1, "report": 2])[0]
        #expect(v.feed == "report")
        #expect(v.status == .met)
        #expect(v.conflicts.count == 1)
    }

    @Test func equalPrioritiesAreBrokenByFeedIdDeterministically() {
        let a = Evaluation.verdicts(plan: plan(.growthAtLeast(fig("5.0")), year: 2022), observations: observations)[0]
        let b = Evaluation.verdicts(plan: plan(.growthAtLeast(fig("5.0")), year: 2022), observations: observations.reversed())[0]
        #expect(a.feed == "annex" && b.feed == "annex")
    }

    @Test func agreeingFeedsAreNoConflict() {
        let same = [obs("2022", .growth, "3.0", feed: "a"), obs("2022", .growth, "3.00", feed: "b")]
        let v = Evaluation.verdicts(plan: plan(.growthAtLeast(fig("6.0")), year: 2022), observations: same)[0]
        #expect(v.conflicts.isEmpty)
        #expect(ObservationIndex(same).conflicts(indicators: ["x"]).isEmpty)
    }

    @Test func conflictsOnLevelsUsedForADerivedFigureAreReported() {
        let v = judge(
            .growthAtLeast(fig("1.0")),
            [
                obs("2022", .level, "100", feed: "a"), obs("2023", .level, "103", feed: "a"), obs("2023", .level, "104", feed: "b"),
            ], priorities: ["a": 2, "b": 1])
        #expect(v.derived)
        #expect(v.actual?.description == "3.0")
        #expect(v.conflicts.count == 1)
    }
}

@Suite struct VerdictJSONTests {
    @Test func matchesTheDesignExample() {
        let plan = Plan(
            id: "futian-2023", title: "t",
            indicators: [
                Indicator(
                    code: "gdp", name: "地区生产总值", category: .expected, unit: "亿元",
                    targets: [Target(year: 2022, rule: .growthAtLeast(fig("6.0")))])
            ])
        let v = Evaluation.verdicts(
            plan: plan,
            observations: [
                Observation(indicator: "gdp", period: .year(2022), measure: .growth, value: fig("3.0"), feed: "futian-annex")
            ])[0]
        let text = v.json.text
        #expect(
            text.hasPrefix(
                #"{"plan":"futian-2023","indicator":"gdp","year":2022,"status":"missed","rule":"growth_at_least","measure":"growth","actual":3.0,"threshold":6.0,"shortfall":3.0,"unit":"%","period":"2022","#
            ))
        #expect(text.contains(#""feed":"futian-annex","severity":"warning","derived":false"#))
    }
}
