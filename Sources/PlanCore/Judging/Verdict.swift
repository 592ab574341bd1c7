/// The judgement of one (indicator, target year).
public enum VerdictStatus: String, Sendable, CaseIterable {
    /// A full-year figure meets the target.
    case met
    /// A full-year figure misses the target.
    case missed
    /// Only year-to-date figures exist, and they meet the (pro-rated) target.
    case onTrack = "on_track"
    /// Only year-to-date figures exist, and they fall short.
    case atRisk = "at_risk"
    /// No figure the rule can read, published or derivable.
    case noData = "no_data"
    /// The target is set later by a higher authority.
    case awaitingTarget = "awaiting_target"
}

/// How urgent a missed or at-risk target is: binding indicators are critical.
public enum Severity: String, Sendable, CaseIterable, Comparable {
    case warning
    case critical

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs == .warning && rhs == .critical }
}

/// Feeds disagreeing on one figure: the winner (highest priority) and the others.
public struct SourceConflict: Sendable, Equatable {
    public var key: ObservationKey
    public var winner: Observation
    /// The other feeds' differing values, highest priority first.
    public var others: [Observation]

    public init(key: ObservationKey, winner: Observation, others: [Observation]) {
        self.key = key
        self.winner = winner
        self.others = others
    }

    /// One line, e.g. `modern_services 2022 growth: futian-annex 3.0 vs futian-report 5.3`.
    public var summary: String {
        "\(key): \(winner.feed) \(winner.value) (used) vs "
            + others.map { "\($0.feed) \($0.value)" }.joined(separator: ", ")
    }
}

/// One verdict with everything needed to explain it (docs/plans.md).
public struct Verdict: Sendable, Equatable {
    public var plan: String
    public var indicator: String
    public var year: Int
    public var status: VerdictStatus
    public var rule: RuleKind
    /// The measure compared (nil when there was nothing to compare).
    public var measure: Measure?
    public var actual: Figure?
    /// The bound the actual figure was compared with, in the same measure.
    public var threshold: Figure?
    /// How far from holding (≥ 0; 0 when it holds).
    public var shortfall: Figure?
    public var unit: String?
    public var period: Period?
    /// True when `period` is a year-to-date figure.
    public var cumulative: Bool
    public var feed: String?
    public var severity: Severity?
    /// True when `actual` was computed from levels rather than published.
    public var derived: Bool
    /// Disagreements between feeds on the figures this verdict used.
    public var conflicts: [SourceConflict]

    public init(
        plan: String, indicator: String, year: Int, status: VerdictStatus, rule: RuleKind,
        measure: Measure? = nil, actual: Figure? = nil, threshold: Figure? = nil, shortfall: Figure? = nil,
        unit: String? = nil, period: Period? = nil, cumulative: Bool = false, feed: String? = nil,
        severity: Severity? = nil, derived: Bool = false, conflicts: [SourceConflict] = []
    ) {
        self.plan = plan
        self.indicator = indicator
        self.year = year
        self.status = status
        self.rule = rule
        self.measure = measure
        self.actual = actual
        self.threshold = threshold
        self.shortfall = shortfall
        self.unit = unit
        self.period = period
        self.cumulative = cumulative
        self.feed = feed
        self.severity = severity
        self.derived = derived
        self.conflicts = conflicts
    }

    /// The verdict as the JSON object of docs/plans.md (plus `conflicts`).
    public var json: JSONValue {
        .object([
            ("plan", .string(plan)),
            ("indicator", .string(indicator)),
            ("year", .int(year)),
            ("status", .string(status.rawValue)),
            ("rule", .string(rule.rawValue)),
            ("measure", measure.map { .string($0.rawValue) } ?? .null),
            ("actual", actual.map(JSONValue.figure) ?? .null),
            ("threshold", threshold.map(JSONValue.figure) ?? .null),
            ("shortfall", shortfall.map(JSONValue.figure) ?? .null),
            ("unit", unit.map(JSONValue.string) ?? .null),
            ("period", period.map { .string($0.description) } ?? .null),
            ("cumulative", .bool(cumulative)),
            ("feed", feed.map(JSONValue.string) ?? .null),
            ("severity", severity.map { .string($0.rawValue) } ?? .null),
            ("derived", .bool(derived)),
            (
                "conflicts",
                .array(
                    conflicts.map { conflict in
                        .object([
                            ("period", .string(conflict.key.period.description)),
                            ("measure", .string(conflict.key.measure.rawValue)),
                            ("used", .object([("feed", .string(conflict.winner.feed)), ("value", .figure(conflict.winner.value))])),
                            (
                                "others",
                                .array(
                                    conflict.others.map {
                                        .object([("feed", .string($0.feed)), ("value", .figure($0.value))])
                                    })
                            ),
                        ])
                    })
            ),
        ])
    }
}
