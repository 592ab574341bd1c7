import Testing
@testable import PlanCore

private func condition(_ key: String, _ kind: AlertKind = .targetMissed, _ severity: Severity = .warning) -> AlertCondition {
    AlertCondition(key: key, kind: kind, severity: severity, details: .object([("plan", .string("p"))]), message: "msg \(key)")
}

private func record(_ key: String, firing: Bool, _ kind: AlertKind = .targetMissed) -> AlertRecord {
    AlertRecord(key: key, kind: kind, firing: firing, severity: .warning, details: .object([]), message: "was \(key)")
}

@Suite struct AlertMachineTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let stored: [AlertRecord]
        let holding: [String]
        let expected: [String]  // "firing k" / "resolved k"
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "new condition fires", stored: [], holding: ["a"], expected: ["firing a"]),
        Case(name: "still holding stays quiet", stored: [record("a", firing: true)], holding: ["a"], expected: []),
        Case(name: "no longer holding resolves", stored: [record("a", firing: true)], holding: [], expected: ["resolved a"]),
        Case(name: "resolved stays quiet", stored: [record("a", firing: false)], holding: [], expected: []),
        Case(name: "resolved then holding again fires again", stored: [record("a", firing: false)], holding: ["a"], expected: ["firing a"]),
        Case(
            name: "resolutions come first, each in key order", stored: [record("z", firing: true), record("y", firing: true)],
            holding: ["c", "b"], expected: ["resolved y", "resolved z", "firing b", "firing c"]),
        Case(name: "duplicate conditions fire once", stored: [], holding: ["a", "a"], expected: ["firing a"]),
    ]

    @Test(arguments: cases)
    func transitions(_ c: Case) {
        let stored = Dictionary(uniqueKeysWithValues: c.stored.map { ($0.key, $0) })
        let actions = AlertMachine.step(stored: stored, holding: c.holding.map { condition($0) })
        #expect(actions.map { "\($0.event.rawValue) \($0.key)" } == c.expected)
    }

    @Test func resolutionsKeepTheStoredDetailsAndAddTheNote() {
        let actions = AlertMachine.step(stored: ["a": record("a", firing: true)], holding: [], resolutionNotes: ["a": "now met"])
        #expect(actions.first?.message == "resolved: was a — now met")
    }

    @Test func theLogLineHasTheDesignFieldsInOrder() {
        let action = AlertMachine.step(stored: [:], holding: [condition("futian-2023/gdp/2022/target_missed")])[0]
        let line = AlertMachine.logLine(seq: 17, time: "2026-11-28T08:00:00Z", action: action)
        #expect(
            line
                == #"{"time":"2026-11-28T08:00:00Z","seq":17,"event":"firing","alert":"target_missed","severity":"warning","key":"futian-2023/gdp/2022/target_missed","plan":"p","message":"msg futian-2023/gdp/2022/target_missed"}"#
        )
    }

    @Test func verdictConditionsOnlyForMissedAndAtRisk() {
        let indicator = Indicator(
            code: "gdp", name: "地区生产总值", category: .expected, unit: "亿元",
            targets: [Target(year: 2022, rule: .growthAtLeast(Figure("6.0")!))])
        let missed = Verdict(
            plan: "p", indicator: "gdp", year: 2022, status: .missed, rule: .growthAtLeast, measure: .growth,
            actual: Figure("3.0"), threshold: Figure("6.0"), shortfall: Figure("3.0"), unit: "%",
            period: .year(2022), feed: "annex", severity: .warning)
        let c = AlertConditions.verdict(missed, indicator: indicator)
        #expect(c?.key == "p/gdp/2022/target_missed")
        #expect(c?.message == "地区生产总值 2022: growth 3.0% below target 6.0% (short by 3.0 pp)")
        var met = missed
        met.status = .met
        #expect(AlertConditions.verdict(met, indicator: indicator) == nil)
        var risk = missed
        risk.status = .atRisk
        risk.period = .month(2022, 6)
        risk.cumulative = true
        #expect(AlertConditions.verdict(risk, indicator: indicator)?.kind == .targetAtRisk)
        #expect(AlertConditions.verdict(risk, indicator: indicator)?.message.contains("2022-06 year to date") == true)
    }
}
