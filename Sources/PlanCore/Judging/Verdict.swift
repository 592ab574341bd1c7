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
    /// The pace arithmetic behind an in-year or before-the-target-year verdict (nil when
    /// none applies).
    public var pace: Pace?

    public init(
        plan: String, indicator: String, year: Int, status: VerdictStatus, rule: RuleKind,
        measure: Measure? = nil, actual: Figure? = nil, threshold: Figure? = nil, shortfall: Figure? = nil,
        unit: String? = nil, period: Period? = nil, cumulative: Bool = false, feed: String? = nil,
        severity: Severity? = nil, derived: Bool = false, conflicts: [SourceConflict] = [], pace: Pace? = nil
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
        self.pace = pace
    }

    /// `json` as text, written straight into bytes (the mirror writes or compares one for every
    /// target on every judgement).
    public var jsonText: String {
        var out = JSONBytes(capacity: 320)
        func figure(_ f: Figure?) {
            if let f { out.raw(f.description) } else { out.raw("null") }
        }
        out.raw("{\"plan\":")
        out.string(plan)
        out.raw(",\"indicator\":")
        out.string(indicator)
        out.raw(",\"year\":")
        out.raw(String(year))
        out.raw(",\"status\":")
        out.string(status.rawValue)
        out.raw(",\"rule\":")
        out.string(rule.rawValue)
        out.raw(",\"measure\":")
        out.optional(measure?.rawValue)
        out.raw(",\"actual\":")
        figure(actual)
        out.raw(",\"threshold\":")
        figure(threshold)
        out.raw(",\"shortfall\":")
        figure(shortfall)
        out.raw(",\"unit\":")
        out.optional(unit)
        out.raw(",\"period\":")
        out.optional(period?.description)
        out.raw(cumulative ? ",\"cumulative\":true,\"feed\":" : ",\"cumulative\":false,\"feed\":")
        out.optional(feed)
        out.raw(",\"severity\":")
        out.optional(severity?.rawValue)
        out.raw(derived ? ",\"derived\":true,\"conflicts\":" : ",\"derived\":false,\"conflicts\":")
        if conflicts.isEmpty { out.raw("[]") } else { out.value(conflictsJSON) }
        for (name, value) in pace?.json ?? [] {
            out.raw(",\"" + name + "\":")
            out.value(value)
        }
        out.byte("}")
        return out.text
    }

    /// The `conflicts` member of `json`.
    public var conflictsJSON: JSONValue {
        .array(
            conflicts.map { conflict in
                .object([
                    ("period", .string(conflict.key.period.description)),
                    ("measure", .string(conflict.key.measure.rawValue)),
                    ("cumulative", .bool(conflict.key.cumulative)),
                    ("base_year", conflict.key.baseYear.map(JSONValue.int) ?? .null),
                    ("used", .object([("feed", .string(conflict.winner.feed)), ("value", .figure(conflict.winner.value))])),
                    ("others", .array(conflict.others.map { .object([("feed", .string($0.feed)), ("value", .figure($0.value))]) })),
                ])
            })
    }

    /// The verdict as the JSON object of docs/plans.md (plus `conflicts`).
    public var json: JSONValue {
        let fields: [(String, JSONValue)] = [
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
            ("conflicts", conflictsJSON),
        ]
        return .object(fields + (pace?.json ?? []))
    }
}

extension Verdict {
    /// The verdict back from its JSON object (`json`), as the mirror stores it; nil when a
    /// field is missing or malformed.
    public init?(json: JSONValue) {
        func text(_ key: String) -> String? { json[key]?.stringValue }
        func figure(_ key: String) -> Figure?? {
            switch json[key] {
            case .null?: return .some(nil)
            case .number(let n)?: return Figure(n).map { .some($0) }
            default: return nil
            }
        }
        func optionalText(_ key: String) -> String?? {
            switch json[key] {
            case .null?: return .some(nil)
            case .string(let s)?: return .some(s)
            default: return nil
            }
        }
        func flag(_ key: String) -> Bool? { if case .bool(let b)? = json[key] { b } else { nil } }
        guard let plan = text("plan"), let indicator = text("indicator"), case .number(let yearText)? = json["year"],
            let year = Int(yearText), let status = text("status").flatMap(VerdictStatus.init(rawValue:)),
            let rule = text("rule").flatMap(RuleKind.init(rawValue:)), let measureText = optionalText("measure"),
            let actual = figure("actual"), let threshold = figure("threshold"), let shortfall = figure("shortfall"),
            let unit = optionalText("unit"), let periodText = optionalText("period"), let cumulative = flag("cumulative"),
            let feed = optionalText("feed"), let severityText = optionalText("severity"), let derived = flag("derived"),
            case .array(let conflictObjects)? = json["conflicts"]
        else { return nil }
        var conflicts: [SourceConflict] = []
        for object in conflictObjects {
            func observation(_ value: JSONValue?, key: ObservationKey) -> Observation? {
                guard let feed = value?["feed"]?.stringValue, case .number(let n)? = value?["value"], let figure = Figure(n) else { return nil }
                return Observation(
                    indicator: key.indicator, period: key.period, measure: key.measure, value: figure,
                    cumulative: key.cumulative, baseYear: key.baseYear, feed: feed)
            }
            var base: Int?
            if case .number(let b)? = object["base_year"] { base = Int(b) }
            guard let period = object["period"]?.stringValue.flatMap({ try? Period(parsing: $0) }),
                let measure = object["measure"]?.stringValue.flatMap(Measure.init(rawValue:))
            else { return nil }
            var isCumulative = false
            if case .bool(let c)? = object["cumulative"] { isCumulative = c }
            let key = ObservationKey(indicator: indicator, period: period, measure: measure, cumulative: isCumulative, baseYear: base)
            guard let winner = observation(object["used"], key: key), case .array(let others)? = object["others"] else { return nil }
            let losers = others.compactMap { observation($0, key: key) }
            guard losers.count == others.count else { return nil }
            conflicts.append(SourceConflict(key: key, winner: winner, others: losers))
        }
        var period: Period?
        if let periodText {
            guard let parsed = try? Period(parsing: periodText) else { return nil }
            period = parsed
        }
        // Pace members: absent when they do not apply, numbers (or the basis) when they do.
        func paceFigure(_ key: String) -> Figure?? { json[key] == nil ? .some(nil) : figure(key) }
        guard let progress = paceFigure("progress"), let expectedProgress = paceFigure("expected_progress"),
            let gapPP = paceFigure("gap_pp"), let requiredRest = paceFigure("required_rest"),
            let expectedToDate = paceFigure("expected_to_date"), let requiredPerYear = paceFigure("required_per_year")
        else { return nil }
        var basis: Pace.Basis?
        if let value = json["required_basis"] {
            guard let parsed = value.stringValue.flatMap(Pace.Basis.init(rawValue:)) else { return nil }
            basis = parsed
        }
        let pace = Pace(
            progress: progress, expectedProgress: expectedProgress, gapPP: gapPP, requiredRest: requiredRest, requiredBasis: basis,
            expectedToDate: expectedToDate, requiredPerYear: requiredPerYear)
        self.init(
            plan: plan, indicator: indicator, year: year, status: status, rule: rule,
            measure: measureText.flatMap(Measure.init(rawValue:)), actual: actual, threshold: threshold, shortfall: shortfall,
            unit: unit, period: period, cumulative: cumulative, feed: feed, severity: severityText.flatMap(Severity.init(rawValue:)),
            derived: derived, conflicts: conflicts, pace: pace.isEmpty ? nil : pace)
    }
}

/// The plan arithmetic offices do by hand (docs/plans.md, "Pace"), in percent, rounded to
/// two decimals: the share of an annual quantity reached against the share of the year
/// elapsed (序时进度), the growth the rest of the year needs, and a multi-year target's path.
public struct Pace: Sendable, Equatable {
    /// Where the rest-of-year figure came from: last year's levels, or last year spread evenly.
    public enum Basis: String, Sendable {
        case levels
        case even
    }

    /// Actual ÷ target of a year-to-date quantity (%).
    public var progress: Figure?
    /// The share of the year the figure's period closes (%).
    public var expectedProgress: Figure?
    /// `progress` − `expectedProgress` (percentage points).
    public var gapPP: Figure?
    /// The growth the remaining periods need for the year to reach the target (%).
    public var requiredRest: Figure?
    public var requiredBasis: Basis?
    /// Where the constant-rate path to a multi-year target stands in the judged year (%).
    public var expectedToDate: Figure?
    /// The constant yearly change the remaining years need (%).
    public var requiredPerYear: Figure?

    public init(
        progress: Figure? = nil, expectedProgress: Figure? = nil, gapPP: Figure? = nil, requiredRest: Figure? = nil,
        requiredBasis: Basis? = nil, expectedToDate: Figure? = nil, requiredPerYear: Figure? = nil
    ) {
        self.progress = progress
        self.expectedProgress = expectedProgress
        self.gapPP = gapPP
        self.requiredRest = requiredRest
        self.requiredBasis = requiredBasis
        self.expectedToDate = expectedToDate
        self.requiredPerYear = requiredPerYear
    }

    var isEmpty: Bool { json.isEmpty }

    /// The JSON members that apply, in their fixed order.
    public var json: [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        if let progress { out.append(("progress", .figure(progress))) }
        if let expectedProgress { out.append(("expected_progress", .figure(expectedProgress))) }
        if let gapPP { out.append(("gap_pp", .figure(gapPP))) }
        if let requiredRest { out.append(("required_rest", .figure(requiredRest))) }
        if let requiredBasis { out.append(("required_basis", .string(requiredBasis.rawValue))) }
        if let expectedToDate { out.append(("expected_to_date", .figure(expectedToDate))) }
        if let requiredPerYear { out.append(("required_per_year", .figure(requiredPerYear))) }
        return out
    }
}
