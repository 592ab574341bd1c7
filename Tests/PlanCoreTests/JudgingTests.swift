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
        #expect(Judging.yearsNeeded(withBase) == [2020, 2022, 2023])
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
}

/// The inputs text is stored as a SHA-256 in every mirror (`judged_plan.inputs`): writing it
/// faster must not change a byte of it, or every plan of an upgraded province is judged again.
@Suite struct InputsTextTests {
    /// The text as plansync 0.4 wrote it (string interpolation, kept here as the reference).
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
