import Foundation
import PlanCore

/// Routes records of a foreign feed to a plan indicator (a `[[feed.map]]` entry, docs/feeds.md).
public struct SeriesMap: Sendable, Equatable {
    /// Dimension → code; a record matches when every one is equal.
    public var match: [String: String]
    public var indicator: String
    public var measure: Measure
    /// Optional multiplier, e.g. 0.0001 for 万元 → 亿元.
    public var scale: Figure?
    /// Overrides whether the figures are year-to-date.
    public var cumulative: Bool?
    public var baseYear: Int?

    public init(
        match: [String: String], indicator: String, measure: Measure, scale: Figure? = nil,
        cumulative: Bool? = nil, baseYear: Int? = nil
    ) {
        self.match = match
        self.indicator = indicator
        self.measure = measure
        self.scale = scale
        self.cumulative = cumulative
        self.baseYear = baseYear
    }

    func matches(_ dimensions: [String: String]) -> Bool {
        match.allSatisfy { dimensions[$0.key] == $0.value }
    }
}

/// `table-csv`: the names of the period and value columns.
public struct TableColumns: Sendable, Equatable {
    public var period: String
    public var value: String

    public init(period: String, value: String) {
        self.period = period
        self.value = value
    }
}

/// Turns foreign records (dimensions, period, value) into observations through the maps.
struct RecordMapper {
    let options: ParseOptions
    private(set) var observations: [Observation] = []
    private(set) var emitted = 0
    private(set) var unmatched = 0
    private(set) var missing = 0
    private(set) var records = 0
    private var seen = DuplicateGuard()

    init(options: ParseOptions) { self.options = options }

    /// A record with no value (empty, NaN, hasdata false): skipped, never a zero.
    mutating func addMissing() {
        records += 1
        missing += 1
    }

    /// Maps one record; `unitMultiplier` is SDMX `UNIT_MULT` (value × 10^n). `location` is
    /// only built for an error message.
    mutating func add(
        dimensions: [String: String], period: Period, value: Figure, unitMultiplier: Int = 0,
        cumulativeHint: Bool = false, unit: String? = nil, location: @autoclosure () -> String
    ) throws(FeedParseError) {
        records += 1
        guard let map = options.maps.first(where: { $0.matches(dimensions) }) else {
            unmatched += 1
            return
        }
        if let known = options.indicators, !known.contains(map.indicator) {
            unmatched += 1
            return
        }
        var figure = value
        if unitMultiplier != 0 {
            figure = Figure(value.value * pow(Decimal(10), unitMultiplier), scale: max(0, value.scale - unitMultiplier))
        }
        if let scale = map.scale {
            // Exact: the product of two decimals has the sum of their decimals (88.1742083868035
            // × 0.01 is 0.881742083868035, not rounded to 12 places); capped at 30 decimals.
            figure = Figure(figure.value * scale.value, scale: min(figure.scale + scale.scale, 30))
        }
        let observation = Observation(
            indicator: map.indicator, period: period, measure: map.measure, value: figure,
            unit: map.measure == .level ? unit : "%", cumulative: map.cumulative ?? cumulativeHint,
            baseYear: map.baseYear, note: nil, feed: options.feed)
        switch seen.check(observation.key, figure) {
        case .duplicate: return
        case .conflict:
            throw FeedParseError(
                "\(location()) maps to \(observation.key), which an earlier record already gave with a different value; make the [[feed.map]] match more specific"
            )
        case .new: break
        }
        try emit(observation, options: options, into: &observations, count: &emitted)
    }

    /// The parse result, with a warning when records exist but none matched a map.
    func result(warnings: [String] = []) -> ParsedFeed {
        var feed = ParsedFeed(observations: observations, skipped: unmatched + missing, warnings: warnings)
        feed.emitted = emitted
        if records > 0, emitted == 0, unmatched > 0 {
            feed.warnings.add(
                "none of the \(records) records matched a [[feed.map]] entry; check the match codes against the feed's dimensions", kind: "unmatched")
        }
        return feed
    }
}

/// Period texts of foreign formats.
enum ForeignPeriod {
    /// SDMX: `2023`, `2023-A1`, `2023-S1`, `2023-Q3`, `2023-M03`, `2023-03`, `2023-W05`, `2023-03-15`.
    static func sdmx(_ text: String) -> Period? {
        var t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("-A1") { t.removeLast(3) }
        if let range = t.range(of: "-M"), t.count == 8 { t.replaceSubrange(range, with: "-") }
        return try? Period(parsing: t)
    }

    /// Chinese bureau tables: `2023年`, `2023年6月`, `2023年1-6月` (year to date), `2023年第二季度`;
    /// anything SDMX or native reads is accepted too. Returns whether the period is year to date.
    static func bureau(_ text: String) -> (period: Period, cumulative: Bool)? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let p = sdmx(t) { return (p, false) }
        let scalars = Array(t)
        guard scalars.count >= 5, let year = Int(String(scalars[0..<4])), scalars[4] == "年" else { return nil }
        var rest = String(scalars[5...])
        if rest.isEmpty || rest == "全年" || rest == "1-12月" { return (.year(year), rest == "1-12月") }
        let numerals: [String: Int] = ["一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4]
        if rest.hasSuffix("季度") {
            rest = rest.replacingOccurrences(of: "季度", with: "").replacingOccurrences(of: "第", with: "")
            guard let q = numerals[rest] else { return nil }
            return (.quarter(year, q), false)
        }
        guard rest.hasSuffix("月") else { return nil }
        rest.removeLast()
        for dash in ["-", "—", "–", "~", "至", "－"] where rest.contains(dash) {
            let parts = rest.components(separatedBy: dash)
            guard parts.count == 2, parts[0] == "1", let m = Int(parts[1]), (1...12).contains(m) else { return nil }
            return (m == 12 ? .year(year) : .month(year, m), true)
        }
        guard let m = Int(rest), (1...12).contains(m) else { return nil }
        return (.month(year, m), false)
    }

    /// NBS easyquery: `2023`, `202309`, `2023A`–`2023D` (quarters).
    static func nbs(_ text: String) -> Period? {
        let t = Array(text.trimmingCharacters(in: .whitespaces))
        guard t.count >= 4, let year = Int(String(t[0..<4])), Period.validYears.contains(year) else { return nil }
        if t.count == 4 { return .year(year) }
        if t.count == 5, let q = ["A": 1, "B": 2, "C": 3, "D": 4][String(t[4])] { return .quarter(year, q) }
        if t.count == 6, let m = Int(String(t[4...])), (1...12).contains(m) { return .month(year, m) }
        return nil
    }
}

/// Values as foreign formats write them; nil for "no value" markers.
enum ForeignValue {
    static let missingMarkers: Set<String> = ["", "NaN", "nan", "#N/A", "N/A", "NA", "-", "—", "…", "...", "..", "NULL", "null"]

    enum Parsed {
        case missing
        case number(Figure)
        case invalid
    }

    /// Reads a value; thousands separators (`5,515.2`) are accepted in table cells.
    static func parse(_ text: String, thousands: Bool = false) -> Parsed {
        let t = text.trimmingCharacters(in: .whitespaces)
        if missingMarkers.contains(t) { return .missing }
        if let f = Figure(t) { return .number(f) }
        if thousands, t.range(of: #"^-?\d{1,3}(,\d{3})+(\.\d+)?$"#, options: .regularExpression) != nil,
            let f = Figure(t.replacingOccurrences(of: ",", with: ""))
        {
            return .number(f)
        }
        return .invalid
    }
}
