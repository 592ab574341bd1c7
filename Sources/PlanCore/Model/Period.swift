/// A statistical reference period: a year, half-year, quarter, month, ISO week or day.
///
/// Native text forms: `2023`, `2023-S1`, `2023-Q2`, `2023-06`, `2023-W05`, `2023-03-15`.
/// Periods order by year, then by the day of the year they end on, coarser periods first.
/// Weeks and days are stored but never judged against targets.
public enum Period: Hashable, Sendable, Comparable, CustomStringConvertible {
    case year(Int)
    case half(Int, Int)
    case quarter(Int, Int)
    case month(Int, Int)
    /// ISO week 1–53 of a year.
    case week(Int, Int)
    case day(Int, Int, Int)

    /// Years accepted anywhere in plansync.
    public static let validYears = 1900...2999

    /// The calendar year the period falls in.
    public var year: Int {
        switch self {
        case .year(let y), .half(let y, _), .quarter(let y, _), .month(let y, _), .week(let y, _), .day(let y, _, _): y
        }
    }

    /// False for weeks and days: they are kept in the mirror but never judged.
    public var isJudgeable: Bool {
        switch self {
        case .week, .day: false
        case .year, .half, .quarter, .month: true
        }
    }

    /// The last month (1–12) the period covers.
    public var endMonth: Int {
        switch self {
        case .year: 12
        case .half(_, let h): h * 6
        case .quarter(_, let q): q * 3
        case .month(_, let m), .day(_, let m, _): m
        case .week(_, let w): min(12, (w * 7 - 1) / 31 + 1)
        }
    }

    /// Approximate day of the year the period ends on (for ordering only).
    var endDay: Int {
        switch self {
        case .week(_, let w): w * 7
        case .day(_, let m, let d): (m - 1) * 31 + d
        case .year, .half, .quarter, .month: endMonth * 31
        }
    }

    /// A number unique to each period, for hashing (year, day of year it ends, granularity).
    public var ordinal: Int { (year * 1000 + endDay) * 10 + granularity }

    /// True for a whole calendar year.
    public var isFullYear: Bool { if case .year = self { true } else { false } }

    /// The same period one or more years earlier.
    public func shifted(years: Int) -> Period {
        switch self {
        case .year(let y): .year(y + years)
        case .half(let y, let h): .half(y + years, h)
        case .quarter(let y, let q): .quarter(y + years, q)
        case .month(let y, let m): .month(y + years, m)
        case .week(let y, let w): .week(y + years, w)
        case .day(let y, let m, let d): .day(y + years, m, d)
        }
    }

    private var granularity: Int {
        switch self {
        case .year: 0
        case .half: 1
        case .quarter: 2
        case .month: 3
        case .week: 4
        case .day: 5
        }
    }

    public var description: String {
        switch self {
        case .year(let y): String(y)
        case .half(let y, let h): "\(y)-S\(h)"
        case .quarter(let y, let q): "\(y)-Q\(q)"
        case .month(let y, let m): "\(y)-" + Period.two(m)
        case .week(let y, let w): "\(y)-W" + Period.two(w)
        case .day(let y, let m, let d): "\(y)-\(Period.two(m))-\(Period.two(d))"
        }
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : String(n) }

    /// The common `2023` and `2023-06` forms read straight from UTF-8 bytes (no allocation);
    /// nil for anything else, valid or not.
    static func commonForm(_ u: UnsafeBufferPointer<UInt8>) -> Period? {
        guard u.count == 4 || u.count == 7 else { return nil }
        var year = 0
        for i in 0..<4 {
            let d = Int(u[i]) &- 0x30
            guard d >= 0, d <= 9 else { return nil }
            year = year * 10 + d
        }
        guard Period.validYears.contains(year) else { return nil }
        if u.count == 4 { return .year(year) }
        let tens = Int(u[5]) &- 0x30, ones = Int(u[6]) &- 0x30
        guard u[4] == 0x2D, tens >= 0, tens <= 9, ones >= 0, ones <= 9 else { return nil }
        let month = tens * 10 + ones
        return (1...12).contains(month) ? .month(year, month) : nil
    }

    /// Parses a period from its UTF-8 bytes (as a database column holds it), with the common
    /// forms read in place; nil when the text is not a period.
    public init?(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        if let quick = Period.commonForm(bytes) {
            self = quick
        } else if let parsed = try? Period(parsing: String(decoding: bytes, as: UTF8.self)) {
            self = parsed
        } else {
            return nil
        }
    }

    public static func < (lhs: Period, rhs: Period) -> Bool {
        (lhs.year, lhs.endDay, lhs.granularity) < (rhs.year, rhs.endDay, rhs.granularity)
    }

    /// Parses the native forms `2023`, `2023-S1`, `2023-Q2`, `2023-06`, `2023-W05`, `2023-03-15`.
    /// - Throws: `PeriodError` saying what is wrong and which forms are allowed.
    public init(parsing text: String) throws(PeriodError) {
        var text = text
        if let quick = text.withUTF8({ Period.commonForm($0) }) {
            self = quick
            return
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, first.count == 4, let year = Int(first), first.allSatisfy(\.isASCII) else {
            throw PeriodError(text: text, reason: "expected a 4-digit year first")
        }
        guard Period.validYears.contains(year) else {
            throw PeriodError(text: text, reason: "year \(year) is outside \(Period.validYears.lowerBound)–\(Period.validYears.upperBound)")
        }
        if parts.count == 1 { self = .year(year); return }
        if parts.count == 3, parts[1].count == 2, parts[2].count == 2, let m = Int(parts[1]), let d = Int(parts[2]) {
            guard (1...12).contains(m) else { throw PeriodError(text: text, reason: "month must be 01–12") }
            let days = [31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            guard (1...days[m - 1]).contains(d) else { throw PeriodError(text: text, reason: "day must be 01–\(days[m - 1])") }
            self = .day(year, m, d)
            return
        }
        guard parts.count == 2 else { throw PeriodError(text: text, reason: "too many '-' separators") }
        let rest = parts[1]
        if rest.count == 3, rest.first == "W", let w = Int(rest.dropFirst()) {
            guard (1...53).contains(w) else { throw PeriodError(text: text, reason: "week must be W01–W53") }
            self = .week(year, w)
            return
        }
        if rest.count == 2, let q = rest.first, q == "Q" || q == "S", let n = Int(rest.dropFirst()) {
            if q == "Q" {
                guard (1...4).contains(n) else { throw PeriodError(text: text, reason: "quarter must be Q1–Q4") }
                self = .quarter(year, n)
            } else {
                guard (1...2).contains(n) else { throw PeriodError(text: text, reason: "half-year must be S1 or S2") }
                self = .half(year, n)
            }
            return
        }
        guard rest.count == 2, rest.allSatisfy({ $0.isASCII && $0.isNumber }), let month = Int(rest) else {
            throw PeriodError(text: text, reason: "expected a quarter (Q1–Q4), half-year (S1, S2) or 2-digit month after '-'")
        }
        guard (1...12).contains(month) else { throw PeriodError(text: text, reason: "month must be 01–12") }
        self = .month(year, month)
    }
}

/// A period that could not be read.
public struct PeriodError: Error, Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String {
        "invalid period '\(DisplayText.excerpt(text))': \(reason) (allowed forms: 2023, 2023-S1, 2023-Q2, 2023-06, 2023-W05, 2023-03-15)"
    }
}
