/// What a published figure measures.
public enum Measure: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A value in the indicator's own unit.
    case level
    /// Year-on-year change in percent.
    case growth
    /// Change in percent against the level of `base_year`.
    case changeVsBase = "change_vs_base"

    public var description: String { rawValue }

    /// The measure named by UTF-8 bytes (as a database column holds it); nil for another name.
    public init?(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        switch bytes.count {
        case 5 where bytes.elementsEqual("level".utf8): self = .level
        case 6 where bytes.elementsEqual("growth".utf8): self = .growth
        case 14 where bytes.elementsEqual("change_vs_base".utf8): self = .changeVsBase
        default: return nil
        }
    }

    /// The allowed spellings, for error messages.
    public static let allowed = allCases.map(\.rawValue).joined(separator: ", ")
}

/// Identifies one figure regardless of which feed published it.
public struct ObservationKey: Hashable, Sendable, CustomStringConvertible {
    public var indicator: String
    public var period: Period
    public var measure: Measure
    /// Year-to-date through the end of `period` (always false for full years).
    public var cumulative: Bool
    /// The base year of a `change_vs_base` figure (nil otherwise).
    public var baseYear: Int?

    public init(indicator: String, period: Period, measure: Measure, cumulative: Bool = false, baseYear: Int? = nil) {
        self.indicator = indicator
        self.period = period
        self.measure = measure
        self.cumulative = period.isFullYear ? false : cumulative
        self.baseYear = measure == .changeVsBase ? baseYear : nil
    }

    public var description: String {
        var text = "\(indicator) \(period)\(cumulative ? " (year to date)" : "") \(measure)"
        if let baseYear { text += " vs \(baseYear)" }
        return text
    }
}

/// One published figure of one feed.
public struct Observation: Sendable, Equatable {
    public var indicator: String
    public var period: Period
    public var measure: Measure
    public var value: Figure
    public var unit: String?
    public var cumulative: Bool
    public var baseYear: Int?
    public var note: String?
    /// The feed that published it.
    public var feed: String

    public init(
        indicator: String, period: Period, measure: Measure, value: Figure, unit: String? = nil,
        cumulative: Bool = false, baseYear: Int? = nil, note: String? = nil, feed: String = ""
    ) {
        self.indicator = indicator
        self.period = period
        self.measure = measure
        self.value = value
        self.unit = unit
        self.cumulative = period.isFullYear ? false : cumulative
        self.baseYear = baseYear
        self.note = note
        self.feed = feed
    }

    public var key: ObservationKey {
        ObservationKey(indicator: indicator, period: period, measure: measure, cumulative: cumulative, baseYear: baseYear)
    }
}
