import Foundation

/// A development plan: its indicators and their yearly targets. Loaded from a plan file.
public struct Plan: Sendable, Equatable {
    public var id: String
    public var title: String
    public var titleEN: String?
    public var region: String?
    public var indicators: [Indicator]
    /// How far (percentage points) a year-to-date figure may fall behind the pace the target
    /// needs before the target is at risk (`pace_tolerance_pp`; 0 by default).
    public var paceTolerance: Figure
    /// The language of the plan's words (pace phrases in messages and tables): `zh` or `en`.
    public var language: PlanLanguage
    /// The time zone release dates are in (`timezone`, an IANA name; UTC by default).
    public var timeZone: String

    /// `timeZone` as a `TimeZone` (UTC should the name be unknown; plan files are checked).
    public var zone: TimeZone { ReleaseSchedule.zone(timeZone) }

    public init(
        id: String, title: String, titleEN: String? = nil, region: String? = nil, indicators: [Indicator],
        paceTolerance: Figure = Figure(0), language: PlanLanguage? = nil, timeZone: String = "UTC"
    ) {
        self.timeZone = timeZone
        self.id = id
        self.title = title
        self.titleEN = titleEN
        self.region = region
        self.indicators = indicators
        self.paceTolerance = paceTolerance
        self.language = language ?? PlanLanguage(guessingFrom: title)
    }

    /// The indicator with this code, if the plan has it.
    public func indicator(_ code: String) -> Indicator? {
        indicators.first { $0.code == code }
    }

    /// Every target year the plan mentions, ascending.
    public var years: [Int] {
        Array(Set(indicators.flatMap { $0.targets.map(\.year) })).sorted()
    }
}

/// The language a plan is written in.
extension Plan {
    /// `plans` with every distinct list of targets stored once: plans copied from one
    /// template repeat the same lists (a province's binding targets, set for every county),
    /// and equal arrays can share one buffer. What a plan holds does not change.
    public static func sharingTargets(_ plans: [Plan]) -> [Plan] {
        // Lists by a hash of what they say, compared in full on a match (`5.0` and `5.00` are
        // kept apart: they print differently). No key is built: 84,000 lists take a few ms.
        func written(_ a: [Target], _ b: [Target]) -> Bool {
            a.count == b.count
                && zip(a, b).allSatisfy { x, y in
                    x.year == y.year && x.rule.kind == y.rule.kind && x.rule.baseYear == y.rule.baseYear && x.text == y.text
                        && x.rule.value?.description == y.rule.value?.description
                }
        }
        var known: [Int: [[Target]]] = [:]
        return plans.map { plan in
            var plan = plan
            for i in plan.indicators.indices {
                let targets = plan.indicators[i].targets
                var hasher = Hasher()
                for t in targets {
                    hasher.combine(t.year)
                    hasher.combine(t.rule.kind)
                    hasher.combine(t.rule.value?.description)
                    hasher.combine(t.rule.baseYear)
                    hasher.combine(t.text)
                }
                let hash = hasher.finalize()
                if let shared = known[hash]?.first(where: { written($0, targets) }) {
                    plan.indicators[i].targets = shared
                } else {
                    known[hash, default: []].append(targets)
                }
            }
            return plan
        }
    }
}

public enum PlanLanguage: String, Sendable, CaseIterable {
    case zh
    case en

    /// Chinese when the text has a CJK character, English otherwise.
    public init(guessingFrom text: String) {
        self = text.unicodeScalars.contains { (0x3400...0x9FFF).contains($0.value) } ? .zh : .en
    }
}

/// Whether an indicator's target is a forecast (预期性) or an obligation (约束性).
public enum Category: String, Sendable, CaseIterable {
    case expected
    case binding
}

/// One plan indicator, e.g. `gdp` 地区生产总值 in 亿元.
public struct Indicator: Sendable, Equatable {
    public var code: String
    public var name: String
    public var nameEN: String?
    public var category: Category
    public var unit: String
    public var targets: [Target]
    /// When its figures are due (its own `release`, or the plan's); nil: not watched.
    public var release: ReleaseSchedule?

    public init(
        code: String, name: String, nameEN: String? = nil, category: Category, unit: String, targets: [Target],
        release: ReleaseSchedule? = nil
    ) {
        self.release = release
        self.code = code
        self.name = name
        self.nameEN = nameEN
        self.category = category
        self.unit = unit
        self.targets = targets
    }
}

/// A target for one year, with the plan's own words for it.
public struct Target: Sendable, Equatable {
    public var year: Int
    public var rule: TargetRule
    public var text: String?

    public init(year: Int, rule: TargetRule, text: String? = nil) {
        self.year = year
        self.rule = rule
        self.text = text
    }
}

/// The ten kinds of target (docs/plans.md). Growth and decline values are percent;
/// level values are in the indicator's unit.
public enum TargetRule: Sendable, Equatable {
    /// Year-on-year growth ≥ v.
    case growthAtLeast(Figure)
    /// Year-on-year growth > 0.
    case growthPositive
    /// Year-on-year growth ≤ −v.
    case declineAtLeast(Figure)
    /// Change against the base year's level ≤ −v.
    case declineVsBaseAtLeast(Figure, baseYear: Int)
    /// Average yearly growth from the base year ≥ v (年均增长).
    case averageGrowthAtLeast(Figure, baseYear: Int)
    /// Level ≤ v.
    case atMost(Figure)
    /// Level ≥ v.
    case atLeast(Figure)
    /// Level > v.
    case moreThan(Figure)
    /// Level < the previous year's level.
    case belowPrevious
    /// Set later by a higher authority (完成市下达目标).
    case assigned

    /// The rule names as written in plan files.
    public static let names = RuleKind.allCases.map(\.rawValue)

    /// Which rule this is, without its value.
    public var kind: RuleKind {
        switch self {
        case .growthAtLeast: .growthAtLeast
        case .growthPositive: .growthPositive
        case .declineAtLeast: .declineAtLeast
        case .declineVsBaseAtLeast: .declineVsBaseAtLeast
        case .averageGrowthAtLeast: .averageGrowthAtLeast
        case .atMost: .atMost
        case .atLeast: .atLeast
        case .moreThan: .moreThan
        case .belowPrevious: .belowPrevious
        case .assigned: .assigned
        }
    }

    /// The name as written in plan files.
    public var name: String { kind.rawValue }

    /// True when the rule named `name` takes a `value`.
    public static func needsValue(_ name: String) -> Bool {
        RuleKind(rawValue: name)?.needsValue ?? true
    }

    /// The measure the rule reads (nil for `assigned`).
    public var measure: Measure? {
        switch self {
        case .growthAtLeast, .growthPositive, .declineAtLeast, .averageGrowthAtLeast: .growth
        case .declineVsBaseAtLeast: .changeVsBase
        case .atMost, .atLeast, .moreThan, .belowPrevious: .level
        case .assigned: nil
        }
    }

    /// The value given in the plan file (nil for rules without one).
    public var value: Figure? {
        switch self {
        case .growthAtLeast(let v), .declineAtLeast(let v), .atMost(let v), .atLeast(let v), .moreThan(let v): v
        case .declineVsBaseAtLeast(let v, _), .averageGrowthAtLeast(let v, _): v
        case .growthPositive, .belowPrevious, .assigned: nil
        }
    }

    /// The base year of `decline_vs_base_at_least` and `average_growth_at_least`.
    public var baseYear: Int? {
        switch self {
        case .declineVsBaseAtLeast(_, let base), .averageGrowthAtLeast(_, let base): base
        default: nil
        }
    }

    /// Builds a rule from its file form.
    /// - Throws: `RuleError` when the name is unknown or the value/base year is missing.
    public init(name: String, value: Figure?, baseYear: Int?) throws(RuleError) {
        func required() throws(RuleError) -> Figure {
            guard let value else { throw .missingValue(rule: name) }
            return value
        }
        guard let kind = RuleKind(rawValue: name) else { throw .unknown(name) }
        switch kind {
        case .growthAtLeast: self = .growthAtLeast(try required())
        case .growthPositive: self = .growthPositive
        case .declineAtLeast: self = .declineAtLeast(try required())
        case .declineVsBaseAtLeast:
            let v = try required()
            guard let baseYear else { throw .missingBaseYear(rule: name) }
            self = .declineVsBaseAtLeast(v, baseYear: baseYear)
        case .averageGrowthAtLeast:
            let v = try required()
            guard let baseYear else { throw .missingBaseYear(rule: name) }
            self = .averageGrowthAtLeast(v, baseYear: baseYear)
        case .atMost: self = .atMost(try required())
        case .atLeast: self = .atLeast(try required())
        case .moreThan: self = .moreThan(try required())
        case .belowPrevious: self = .belowPrevious
        case .assigned: self = .assigned
        }
    }
}

/// The ten kinds of target rule, by the names plan files use: what a verdict says it
/// judged (`Verdict.rule`), from the plan file to the output.
public enum RuleKind: String, Sendable, CaseIterable, Equatable {
    case growthAtLeast = "growth_at_least"
    case growthPositive = "growth_positive"
    case declineAtLeast = "decline_at_least"
    case declineVsBaseAtLeast = "decline_vs_base_at_least"
    case averageGrowthAtLeast = "average_growth_at_least"
    case atMost = "at_most"
    case atLeast = "at_least"
    case moreThan = "more_than"
    case belowPrevious = "below_previous"
    case assigned

    /// True when the rule takes a `value` in the plan file.
    public var needsValue: Bool {
        switch self {
        case .growthAtLeast, .declineAtLeast, .declineVsBaseAtLeast, .averageGrowthAtLeast, .atMost, .atLeast, .moreThan: true
        case .growthPositive, .belowPrevious, .assigned: false
        }
    }

    /// True when the rule runs from a `base_year` to the target year.
    public var needsBaseYear: Bool { self == .declineVsBaseAtLeast || self == .averageGrowthAtLeast }
}

/// Why a target rule could not be built.
public enum RuleError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknown(String)
    case missingValue(rule: String)
    case missingBaseYear(rule: String)

    public var description: String {
        switch self {
        case .unknown(let name):
            "unknown rule '\(name)' (allowed: \(TargetRule.names.joined(separator: ", ")))"
        case .missingValue(let rule):
            "rule '\(rule)' needs a numeric 'value' (e.g. value = 6.5)"
        case .missingBaseYear(let rule):
            "rule '\(rule)' needs 'base_year' (e.g. base_year = 2020)"
        }
    }
}
