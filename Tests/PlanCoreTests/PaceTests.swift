import Foundation
import Testing

@testable import PlanCore

/// The plan arithmetic of docs/plans.md ("Pace"), each formula with hand-worked numbers.
@Suite struct PaceArithmeticTests {
    func shown(_ x: Double?) -> String? { x.flatMap { PaceArithmetic.shown($0)?.description } }

    @Test(arguments: [
        // actual, target, months → progress, expected, gap
        (60.0, 100.0, 11, "60.00", "91.67", "-31.67"),  // the issue's November example
        (30.0, 100.0, 6, "30.00", "50.00", "-20.00"),  // a half year (or Q2) closes 6/12
        (80.0, 100.0, 9, "80.00", "75.00", "5.00"),  // Q3, ahead
        (25.0, 200.0, 1, "12.50", "8.33", "4.17"),
    ])
    func progressAgainstTheShareOfTheYear(actual: Double, target: Double, months: Int, progress: String, expected: String, gap: String) throws {
        let p = try #require(PaceArithmetic.progress(actual: actual, target: target, months: months))
        #expect(shown(p.progress) == progress)
        #expect(shown(p.expected) == expected)
        #expect(shown(p.gap) == gap)
    }

    @Test func noProgressForATargetOfZero() {
        #expect(PaceArithmetic.progress(actual: 5, target: 0, months: 6) == nil)
    }

    @Test(arguments: [
        // target, growth to date, months → required rest (even)
        (6.5, 5.0, 6, "8.00"),  // the issue's example
        (6.5, 7.0, 6, "6.00"),  // ahead: the rest may grow less
        (-4.0, -2.0, 6, "-6.00"),  // a decline of 4%: the rest must fall 6%
        (6.0, 6.0, 3, "6.00"),  // on the target: the rest needs the target
        (5.0, 2.0, 9, "14.00"),  // (1.05 − 0.75 × 1.02) ÷ 0.25 − 1
    ])
    func restOfTheYearTakingLastYearAsEven(target: Double, growth: Double, months: Int, required: String) {
        #expect(shown(PaceArithmetic.requiredRest(target: target, growthToDate: growth, months: months)) == required)
    }

    @Test func restOfTheYearFromLevels() {
        // The issue's example: L_prev 1000, Y_prev,June 480, Y_June 504 → (1065 − 504) ÷ 520 − 1.
        #expect(shown(PaceArithmetic.requiredRest(target: 6.5, lastYear: 1000, lastYearToDate: 480, yearToDate: 504)) == "7.88")
        // A decline of 3% with levels, flat to June: (1000 × 0.97 − 500) ÷ 500 − 1 = −6%.
        #expect(shown(PaceArithmetic.requiredRest(target: -3, lastYear: 1000, lastYearToDate: 500, yearToDate: 500)) == "-6.00")
        // Last year had nothing left after the period: no answer.
        #expect(PaceArithmetic.requiredRest(target: 6.5, lastYear: 480, lastYearToDate: 480, yearToDate: 500) == nil)
        #expect(PaceArithmetic.requiredRest(target: 6.5, growthToDate: 5, months: 12) == nil)
    }

    @Test func theConstantRatePathOfAMultiYearTarget() {
        // decline_vs_base_at_least 13.5 from 2020 to 2025: in 2023, (1 − 0.135)^(3/5) − 1.
        #expect(shown(PaceArithmetic.expectedToDate(total: -13.5, baseYear: 2020, targetYear: 2025, year: 2023)) == "-8.33")
        // −7.0 reached by 2023: (0.865 ÷ 0.93)^(1/2) − 1 a year.
        #expect(shown(PaceArithmetic.requiredPerYear(total: -13.5, reached: -7.0, year: 2023, targetYear: 2025)) == "-3.56")
        // Growth: 6% a year for 5 years is 33.82% in all; by 2022, 12.36%.
        #expect(shown(PaceArithmetic.expectedToDate(total: 33.8225577, baseYear: 2020, targetYear: 2025, year: 2022)) == "12.36")
        #expect(shown(PaceArithmetic.averageGrowth(ratio: 1.3382255776, years: 5)) == "6.00")
        #expect(shown(PaceArithmetic.averageGrowth(ratio: 1.21, years: 2)) == "10.00")
    }

    @Test func shownFiguresRoundHalfAwayFromZero() {
        #expect(PaceArithmetic.shown(1.005)?.description == "1.00" || PaceArithmetic.shown(1.005)?.description == "1.01")
        #expect(PaceArithmetic.shown(-0.004)?.description == "0.00")
        #expect(PaceArithmetic.shown(2.5, scale: 0)?.description == "3")
        #expect(PaceArithmetic.shown(.nan) == nil)
    }
}

/// Pace through `Evaluation`: statuses, fields and words.
@Suite struct PaceEvaluationTests {
    func plan(_ rule: TargetRule, year: Int = 2023, unit: String = "%", tolerance: String = "0", title: String = "计划") -> Plan {
        Plan(
            id: "p", title: title,
            indicators: [Indicator(code: "x", name: "指标", category: .expected, unit: unit, targets: [Target(year: year, rule: rule)])],
            paceTolerance: Figure(tolerance)!)
    }

    func obs(_ period: String, _ measure: Measure, _ value: String, cumulative: Bool = false, baseYear: Int? = nil) -> Observation {
        Observation(
            indicator: "x", period: try! Period(parsing: period), measure: measure, value: Figure(value)!, cumulative: cumulative,
            baseYear: baseYear, feed: "f")
    }

    func verdict(_ plan: Plan, _ observations: [Observation]) throws -> Verdict {
        try #require(Evaluation.verdicts(plan: plan, observations: observations).first)
    }

    @Test func aYearToDateQuantityBehindTheShareOfTheYearIsAtRisk() throws {
        let v = try verdict(plan(.atLeast(Figure(100)), unit: "亿元"), [obs("2023-11", .level, "60", cumulative: true)])
        #expect(v.status == .atRisk)
        #expect(v.pace == Pace(progress: Figure("60.00"), expectedProgress: Figure("91.67"), gapPP: Figure("-31.67")))
        #expect(v.jsonText.contains(#""progress":60.00,"expected_progress":91.67,"gap_pp":-31.67"#))
        #expect(PaceText.phrase(v, language: .zh) == "落后序时进度 31.7 个百分点（完成 60.0%，序时 91.7%）")
        #expect(PaceText.phrase(v, language: .en) == "31.7 pp behind the share of the year elapsed (60.0% done, 91.7% of the year gone)")
        // Within the plan's tolerance of 35 pp: on track.
        let tolerant = try verdict(plan(.atLeast(Figure(100)), unit: "亿元", tolerance: "35"), [obs("2023-11", .level, "60", cumulative: true)])
        #expect(tolerant.status == .onTrack)
        #expect(tolerant.pace?.gapPP == Figure("-31.67"))
        // A ceiling running ahead of the year is at risk: 60 of at most 100 by March.
        let ceiling = try verdict(plan(.atMost(Figure(100)), unit: "万吨"), [obs("2023-03", .level, "60", cumulative: true)])
        #expect(ceiling.status == .atRisk && ceiling.pace?.gapPP == Figure("35.00"))
        // A full-year figure has no pace.
        #expect(try verdict(plan(.atLeast(Figure(100)), unit: "亿元"), [obs("2023", .level, "60")]).pace == nil)
    }

    @Test func theRestOfTheYearWithoutLevelsTakesLastYearAsEven() throws {
        let v = try verdict(plan(.growthAtLeast(Figure("6.5")!)), [obs("2023-06", .growth, "5.0", cumulative: true)])
        #expect(v.status == .atRisk)
        #expect(v.pace == Pace(requiredRest: Figure("8.00"), requiredBasis: .even))
        #expect(v.jsonText.hasSuffix(#""conflicts":[],"required_rest":8.00,"required_basis":"even"}"#))
        #expect(PaceText.phrase(v, language: .en) == "needs 8.0% in the rest of the year")
        #expect(PaceText.phrase(v, language: .zh) == "其余时间需增长 8.0%")
        // 1.5 pp over the target is within a tolerance of 2.
        #expect(try verdict(plan(.growthAtLeast(Figure("6.5")!), tolerance: "2"), [obs("2023-06", .growth, "5.0", cumulative: true)]).status == .onTrack)
        // Exactly at the boundary (8.0 needed, 6.5 + 1.5 allowed): on track.
        #expect(try verdict(plan(.growthAtLeast(Figure("6.5")!), tolerance: "1.5"), [obs("2023-06", .growth, "5.0", cumulative: true)]).status == .onTrack)
        // Ahead of the target: on track, and the rest may grow less.
        let ahead = try verdict(plan(.growthAtLeast(Figure("6.5")!)), [obs("2023-06", .growth, "7.0", cumulative: true)])
        #expect(ahead.status == .onTrack && ahead.pace?.requiredRest == Figure("6.00"))
    }

    @Test func theRestOfTheYearFromLastYearsLevels() throws {
        let v = try verdict(
            plan(.growthAtLeast(Figure("6.5")!)),
            [
                obs("2023-06", .growth, "5.0", cumulative: true), obs("2022", .level, "1000"),
                obs("2022-06", .level, "480", cumulative: true), obs("2023-06", .level, "504", cumulative: true),
            ])
        #expect(v.status == .atRisk)
        #expect(v.pace == Pace(requiredRest: Figure("7.88"), requiredBasis: .levels))
        // 1.38 pp over the target: within a tolerance of 1.5, not of 1.
        let levels = [
            obs("2023-06", .growth, "5.0", cumulative: true), obs("2022", .level, "1000"),
            obs("2022-06", .level, "480", cumulative: true), obs("2023-06", .level, "504", cumulative: true),
        ]
        #expect(try verdict(plan(.growthAtLeast(Figure("6.5")!), tolerance: "1.5"), levels).status == .onTrack)
        #expect(try verdict(plan(.growthAtLeast(Figure("6.5")!), tolerance: "1"), levels).status == .atRisk)
    }

    @Test func aDeclineTargetTurnsTheSigns() throws {
        // Energy per unit of GDP to fall 4%: down 2% by June, so the rest must fall 6%.
        let v = try verdict(plan(.declineAtLeast(Figure("4.0")!)), [obs("2023-06", .growth, "-2.0", cumulative: true)])
        #expect(v.status == .atRisk && v.pace == Pace(requiredRest: Figure("-6.00"), requiredBasis: .even))
        #expect(PaceText.phrase(v, language: .zh) == "其余时间需下降 6.0%")
        // Down 5% by June: the rest may fall only 3%.
        let ahead = try verdict(plan(.declineAtLeast(Figure("4.0")!)), [obs("2023-06", .growth, "-5.0", cumulative: true)])
        #expect(ahead.status == .onTrack && ahead.pace?.requiredRest == Figure("-3.00"))
        // Tolerance: needing 6% against 4% is 2 pp over.
        #expect(try verdict(plan(.declineAtLeast(Figure("4.0")!), tolerance: "2"), [obs("2023-06", .growth, "-2.0", cumulative: true)]).status == .onTrack)
    }

    @Test func aFiveYearDeclineBeforeItsYearIsJudgedAgainstThePath() throws {
        let rule = TargetRule.declineVsBaseAtLeast(Figure("13.5")!, baseYear: 2020)
        let behind = try verdict(plan(rule, year: 2025), [obs("2023", .changeVsBase, "-7.0", baseYear: 2020)])
        #expect(behind.status == .atRisk)
        #expect(behind.period == .year(2023) && behind.threshold == Figure("-8.33"))
        #expect(behind.pace == Pace(expectedToDate: Figure("-8.33"), requiredPerYear: Figure("-3.56")))
        #expect(PaceText.phrase(behind, language: .en) == "the constant-rate path stands at -8.3% in 2023; needs -3.6% a year from here")
        let ahead = try verdict(plan(rule, year: 2025), [obs("2023", .changeVsBase, "-9.0", baseYear: 2020)])
        #expect(ahead.status == .onTrack)
        // From levels (derived): 100 in 2020, 92 in 2022 → −8.0%, path 0.865^(2/5) − 1 = −5.64% by 2022: on track.
        let derived = try verdict(plan(rule, year: 2025), [obs("2020", .level, "100"), obs("2022", .level, "92")])
        #expect(derived.status == .onTrack && derived.derived && derived.pace?.expectedToDate == Figure("-5.64"))
        // The target year's own figure decides, as before.
        #expect(
            try verdict(plan(rule, year: 2025), [obs("2025", .changeVsBase, "-14.0", baseYear: 2020), obs("2023", .changeVsBase, "-1.0", baseYear: 2020)])
                .status == .met)
    }

    @Test func averageYearlyGrowthFromLevelsOrTheChainOfGrowthFigures() throws {
        let rule = TargetRule.averageGrowthAtLeast(Figure("6.0")!, baseYear: 2020)
        // 1.06^5 = 1.3382255776: 133.83 meets it, 133.82 misses it (exactly, though both show 6.0).
        let met = try verdict(plan(rule, year: 2025), [obs("2020", .level, "100"), obs("2025", .level, "133.83")])
        #expect(met.status == .met && met.actual == Figure("6.0") && met.derived)
        let missed = try verdict(plan(rule, year: 2025), [obs("2020", .level, "100"), obs("2025", .level, "133.82")])
        #expect(missed.status == .missed)
        // Before 2025: 119.10 by 2023 trails the path (1.06^3 = 1.191016).
        let behind = try verdict(plan(rule, year: 2025), [obs("2020", .level, "100"), obs("2023", .level, "119.10")])
        #expect(behind.status == .atRisk)
        #expect(behind.pace == Pace(expectedToDate: Figure("19.10"), requiredPerYear: Figure("6.00")))
        // The chain of yearly growth figures: 6.0% three times is exactly the path.
        let chain = try verdict(plan(rule, year: 2025), [obs("2021", .growth, "6.0"), obs("2022", .growth, "6.0"), obs("2023", .growth, "6.0")])
        #expect(chain.status == .onTrack && chain.actual == Figure("6.0") && chain.period == .year(2023))
        // A gap in the chain: the latest complete year is used (2021 alone).
        let gap = try verdict(plan(rule, year: 2025), [obs("2021", .growth, "5.0"), obs("2023", .growth, "9.0")])
        #expect(gap.status == .atRisk && gap.period == .year(2021) && gap.actual == Figure("5.0"))
        // Full years, chained to the target year: 1.07 × 1.05 = 1.1235 < 1.06² = 1.1236 (an average
        // of 5.995%, shown as 6.0) misses; 1.07 × 1.051 meets.
        #expect(try verdict(plan(rule, year: 2022), [obs("2021", .growth, "7.0"), obs("2022", .growth, "5.0")]).status == .missed)
        #expect(try verdict(plan(rule, year: 2022), [obs("2021", .growth, "7.0"), obs("2022", .growth, "5.1")]).status == .met)
    }

    @Test func alertMessagesSayThePaceInThePlansLanguage() throws {
        let zh = plan(.growthAtLeast(Figure("6.5")!))
        let v = try verdict(zh, [obs("2023-06", .growth, "5.0", cumulative: true)])
        let condition = try #require(AlertConditions.verdict(v, indicator: zh.indicators[0], language: zh.language))
        #expect(condition.message.hasSuffix("；其余时间需增长 8.0%"))
        #expect(condition.details["required_rest"] == .number("8.00"))
        let en = plan(.growthAtLeast(Figure("6.5")!), title: "Plan")
        #expect(en.language == .en)
        let judged = Judging.judge(en, index: ObservationIndex([obs("2023-06", .growth, "5.0", cumulative: true)], priorities: [:]))
        #expect(judged.conditions.first?.message.hasSuffix("; needs 8.0% in the rest of the year") == true)
    }

    @Test func paceFieldsSurviveTheStoredJSON() throws {
        let v = try verdict(plan(.atLeast(Figure(100)), unit: "亿元"), [obs("2023-11", .level, "60", cumulative: true)])
        #expect(v.jsonText == v.json.text)
        let parsed = try JSONParser.parse(Array(v.jsonText.utf8))
        #expect(Verdict(json: parsed) == v)
        let rest = try verdict(plan(.growthAtLeast(Figure("6.5")!)), [obs("2023-06", .growth, "5.0", cumulative: true)])
        #expect(Verdict(json: try JSONParser.parse(Array(rest.jsonText.utf8))) == rest)
        #expect(rest.jsonText == rest.json.text)
    }
}
