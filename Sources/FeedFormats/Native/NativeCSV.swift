import PlanCore

/// plansync's own CSV format (docs/feeds.md):
/// `indicator,period,measure,value,unit,cumulative,base_year,note`, one figure per row.
public enum NativeCSV {
    static let required = ["indicator", "period", "measure", "value"]
    static let optional = ["unit", "cumulative", "base_year", "note"]

    /// Parses a UTF-8 body. A malformed row fails the whole body.
    public static func parse(_ utf8: [UInt8], options: ParseOptions) throws(FeedParseError) -> ParsedFeed {
        var reader = CSVReader(utf8)
        guard let header = reader.next() else {
            if let error = reader.error { throw error }
            throw FeedParseError("empty body: expected a header row '\((required + optional).joined(separator: ","))'", line: 1)
        }
        let names = header.fields.map { $0.trimmingASCIISpaces().lowercased() }
        var columns: [String: Int] = [:]
        var feed = ParsedFeed()
        for (i, name) in names.enumerated() {
            if columns[name] != nil {
                throw FeedParseError("duplicate column '\(DisplayText.excerpt(name))' in the header", line: header.line, column: i + 1)
            }
            columns[name] = i
            if !required.contains(name), !optional.contains(name) {
                feed.warnings.add("column \(i + 1) '\(DisplayText.excerpt(name))' is not a plansync column and is ignored", kind: "column")
            }
        }
        for name in required where columns[name] == nil {
            throw FeedParseError(
                "missing column '\(DisplayText.excerpt(name))' in the header (found: \(DisplayText.excerpt(names.joined(separator: ","), limit: 300)); required: \(required.joined(separator: ",")))",
                line: header.line)
        }
        var builder = ObservationBuilder(options: options)
        // Column positions by field, looked up once per body rather than by name per row.
        let at = (
            indicator: columns["indicator"] ?? -1, period: columns["period"] ?? -1, measure: columns["measure"] ?? -1,
            value: columns["value"] ?? -1, unit: columns["unit"] ?? -1, cumulative: columns["cumulative"] ?? -1,
            baseYear: columns["base_year"] ?? -1, note: columns["note"] ?? -1
        )
        while let record = reader.next() {
            func field(_ i: Int) -> String? {
                guard i >= 0, i < record.fields.count else { return nil }
                let raw = record.fields[i]
                guard let first = raw.utf8.first else { return nil }
                let needsTrim = first == 0x20 || first == 0x09 || raw.utf8.last == 0x20 || raw.utf8.last == 0x09
                let value = needsTrim ? raw.trimmingASCIISpaces() : raw
                return value.isEmpty ? nil : value
            }
            func fail(_ name: String, _ message: String) -> FeedParseError {
                FeedParseError(message, line: record.line, column: (columns[name] ?? 0) + 1)
            }
            if record.fields.count > names.count {
                throw FeedParseError(
                    "\(record.fields.count) fields but the header has \(names.count) (quote fields that contain commas)",
                    line: record.line, column: names.count + 1)
            }
            let row = RawRow(
                indicator: field(at.indicator), period: field(at.period), measure: field(at.measure),
                value: field(at.value), unit: field(at.unit), cumulative: field(at.cumulative),
                baseYear: field(at.baseYear), note: field(at.note))
            try builder.add(row) { name, message in fail(name, message) }
        }
        if let error = reader.error { throw error }
        feed.observations = builder.observations
        feed.emitted = builder.emitted
        feed.skipped = builder.skipped
        return feed
    }
}

/// One native row before validation, with every field as text.
struct RawRow {
    var indicator: String?
    var period: String?
    var measure: String?
    var value: String?
    var unit: String?
    var cumulative: String?
    var baseYear: String?
    var note: String?
}

/// Validates native rows into observations, shared by the CSV and JSON readers.
struct ObservationBuilder {
    let options: ParseOptions
    private(set) var observations: [Observation] = []
    private(set) var emitted = 0
    private(set) var skipped = 0
    /// Figures already given in this body: hash of the key → hash of the value. Two 64-bit
    /// hashes per row keep memory small on million-row feeds.
    private var seen = DuplicateGuard()

    init(options: ParseOptions) { self.options = options }

    /// Validates a row; `fail(field, message)` builds the positioned error.
    mutating func add(_ row: RawRow, fail: (String, String) -> FeedParseError) throws(FeedParseError) {
        guard let indicator = row.indicator else { throw fail("indicator", "missing indicator code") }
        guard let periodText = row.period else { throw fail("period", "missing period (e.g. 2023, 2023-Q2, 2023-06)") }
        let period: Period
        do { period = try Period(parsing: periodText) } catch { throw fail("period", error.description) }
        guard let measureText = row.measure else { throw fail("measure", "missing measure (allowed: \(Measure.allowed))") }
        guard let measure = Measure(rawValue: measureText) else {
            throw fail("measure", "unknown measure '\(DisplayText.excerpt(measureText))' (allowed: \(Measure.allowed))")
        }
        guard let valueText = row.value else { throw fail("value", "missing value") }
        guard let value = Figure(valueText) else {
            throw fail("value", "value '\(DisplayText.excerpt(valueText))' is not a number (write it like -11.6: no %, units or thousands separators)")
        }
        var cumulative = false
        if let text = row.cumulative {
            switch text.lowercased() {
            case "true", "1", "yes": cumulative = true
            case "false", "0", "no": cumulative = false
            default: throw fail("cumulative", "cumulative '\(DisplayText.excerpt(text))' must be true or false (or empty)")
            }
        }
        var baseYear: Int?
        if let text = row.baseYear {
            guard let year = Int(text), Period.validYears.contains(year) else {
                throw fail(
                    "base_year",
                    "base_year '\(DisplayText.excerpt(text))' is not a year between \(Period.validYears.lowerBound) and \(Period.validYears.upperBound)")
            }
            guard measure == .changeVsBase else {
                throw fail("base_year", "base_year is only meaningful with measure change_vs_base (this row has \(measure))")
            }
            baseYear = year
        } else if measure == .changeVsBase {
            throw fail("base_year", "measure change_vs_base needs a base_year (e.g. 2020)")
        }
        let observation = Observation(
            indicator: indicator, period: period, measure: measure, value: value,
            unit: row.unit, cumulative: cumulative, baseYear: baseYear, note: row.note,
            feed: options.feed)
        switch seen.check(observation.key, value) {
        case .duplicate: return
        case .conflict: throw fail("value", "\(observation.key) is given twice with different values (\(value) here)")
        case .new: break
        }
        if let known = options.indicators, !known.contains(indicator) {
            skipped += 1
            return
        }
        try emit(observation, options: options, into: &observations, count: &emitted)
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    func trimmingASCIISpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}

/// Hands an observation to the options' sink, or keeps it.
func emit(_ observation: Observation, options: ParseOptions, into list: inout [Observation], count: inout Int) throws(FeedParseError) {
    count += 1
    if let sink = options.sink {
        guard sink.handler(observation) else { throw FeedParseError.cancelled }
    } else {
        list.append(observation)
    }
}

/// Detects a figure given twice in one body, in 16 bytes per figure (FNV-1a hashes of the
/// key and of the exact value).
struct DuplicateGuard {
    enum Outcome { case new, duplicate, conflict }
    private var seen: [UInt64: UInt64] = [:]

    mutating func check(_ key: ObservationKey, _ value: Figure) -> Outcome {
        var k = DuplicateGuard.hash(key.indicator)
        let measure = key.measure == .level ? 1 : key.measure == .growth ? 2 : 3
        for part in [key.period.ordinal, key.baseYear ?? 0, key.cumulative ? 1 : 0, measure] {
            k = (k ^ UInt64(bitPattern: Int64(part))) &* 0x0000_0100_0000_01b3
        }
        let v = DuplicateGuard.hash(value.normalizedText)
        if let previous = seen[k] { return previous == v ? .duplicate : .conflict }
        seen[k] = v
        return .new
    }

    static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }
}
