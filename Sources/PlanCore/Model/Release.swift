import Foundation
import Synchronization

/// When an indicator's figures are due (plan file `release`; docs/plans.md, "Releases").
public struct ReleaseSchedule: Sendable, Hashable {
    /// How often figures come: one period of this kind per release.
    public enum Frequency: String, Sendable, CaseIterable {
        case monthly
        case quarterly
        case halfYearly = "half_yearly"
        case yearly

        /// The periods of `year`, in order.
        public func periods(_ year: Int) -> [Period] {
            switch self {
            case .monthly: (1...12).map { .month(year, $0) }
            case .quarterly: (1...4).map { .quarter(year, $0) }
            case .halfYearly: (1...2).map { .half(year, $0) }
            case .yearly: [.year(year)]
            }
        }
    }

    /// A calendar date in the plan's time zone.
    public struct Day: Sendable, Hashable, CustomStringConvertible {
        public var year: Int
        public var month: Int
        public var day: Int

        public init(year: Int, month: Int, day: Int) {
            self.year = year
            self.month = month
            self.day = day
        }

        /// `2024-04-16`; nil for anything else or a day the calendar does not have.
        public init?(parsing text: String) {
            guard case .day(let y, let m, let d)? = try? Period(parsing: text), text.utf8.count == 10 else { return nil }
            self.init(year: y, month: m, day: d)
        }

        public var description: String {
            "\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
        }
    }

    public var frequency: Frequency
    /// Days after the period ends that its figure is due.
    public var lagDays: Int
    /// How long after the due time a missing figure is overdue (seconds).
    public var grace: Double
    /// Periods of each year without a release of their own (published with the next, like
    /// January with February): their numbers within the year (month, quarter or half).
    public var skip: Set<Int>
    /// Due days for single periods, overriding `lagDays`.
    public var dates: [Period: Day]

    public init(frequency: Frequency, lagDays: Int, grace: Double = 0, skip: Set<Int> = [], dates: [Period: Day] = [:]) {
        self.frequency = frequency
        self.lagDays = lagDays
        self.grace = grace
        self.skip = skip
        self.dates = dates
    }

    /// The number of `period` within its year (month, quarter, half; 1 for a year).
    public static func number(_ period: Period) -> Int {
        switch period {
        case .month(_, let n), .quarter(_, let n), .half(_, let n): n
        case .year, .week, .day: 1
        }
    }

    /// The periods of `year` that have a release, in order.
    public func periods(_ year: Int) -> [Period] {
        frequency.periods(year).filter { !skip.contains(ReleaseSchedule.number($0)) }
    }

    /// When the figure for `period` is due: its `dates` day, or `lagDays` after the period
    /// ends, at midnight in `timeZone`.
    public func due(_ period: Period, timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        if let day = dates[period] {
            return calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day))
        }
        // The first day after the period.
        let next = period.endMonth == 12 ? (period.year + 1, 1) : (period.year, period.endMonth + 1)
        guard let end = calendar.date(from: DateComponents(year: next.0, month: next.1, day: 1)) else { return nil }
        return calendar.date(byAdding: .day, value: lagDays, to: end)
    }
}

/// A figure past its due time with nothing published for its period.
public struct OverdueFigure: Sendable, Equatable {
    public var indicator: String
    public var period: Period
    public var due: Date
}

/// What releases say of one indicator at a moment.
public struct ReleaseStatus: Sendable, Equatable {
    public var indicator: String
    /// The earliest period watched that has no figure yet, and when it is (or was) due.
    public var next: (period: Period, due: Date)?
    /// Periods past due and grace with no figure (looking back `Releases.lookback`).
    public var overdue: [OverdueFigure]
    /// The next moment this status changes by the clock alone (a period falling due, or
    /// leaving the look-back window); nil when none will.
    public var changesAt: Date?

    public static func == (lhs: ReleaseStatus, rhs: ReleaseStatus) -> Bool {
        lhs.indicator == rhs.indicator && lhs.next?.period == rhs.next?.period && lhs.next?.due == rhs.next?.due
            && lhs.overdue == rhs.overdue && lhs.changesAt == rhs.changesAt
    }
}

/// One period a schedule releases, with the moments its release status turns on.
public struct DuePeriod: Sendable, Equatable {
    public var period: Period
    /// `period.ordinal`, compared with the periods published without hashing.
    public var ordinal: Int
    /// When the figure is due; overdue after the grace; forgotten `Releases.lookback` later.
    public var due: Date
    public var overdueAt: Date
    public var forgottenAt: Date

    init(_ period: Period, due: Date, grace: Double) {
        self.period = period
        self.ordinal = period.ordinal
        self.due = due
        self.overdueAt = due.addingTimeInterval(grace)
        self.forgottenAt = overdueAt.addingTimeInterval(Releases.lookback)
    }
}

/// Overdue data, from release schedules and the periods published.
public enum Releases {
    private struct TableKey: Hashable {
        var schedule: ReleaseSchedule
        var timeZone: String
        var years: ClosedRange<Int>
    }

    /// Due-time tables already worked out (calendar arithmetic in a time zone costs about
    /// 10 µs a period on Linux; a province's plans share a handful of schedules).
    private static let tables = Mutex<[TableKey: [DuePeriod]]>([:])

    /// Every period of `years` that `schedule` releases, in order, with its due time in
    /// `timeZone` (shared: worked out once per schedule, time zone and years).
    public static func dueTable(_ schedule: ReleaseSchedule, timeZone: String, years: ClosedRange<Int>) -> [DuePeriod] {
        let key = TableKey(schedule: schedule, timeZone: timeZone, years: years)
        if let known = tables.withLock({ $0[key] }) { return known }
        let table = periods(schedule, timeZone: ReleaseSchedule.zone(timeZone), years: years)
        tables.withLock { tables in
            if tables.count >= 4096 { tables.removeAll() }
            tables[key] = table
        }
        return table
    }

    private static func periods(_ schedule: ReleaseSchedule, timeZone: TimeZone, years: ClosedRange<Int>) -> [DuePeriod] {
        years.flatMap { year in
            schedule.periods(year).compactMap { period in
                schedule.due(period, timeZone: timeZone).map { DuePeriod(period, due: $0, grace: schedule.grace) }
            }
        }
    }

    /// How far back missing figures are reported: a figure due over a year ago and never
    /// published is no longer news (its alert resolves).
    public static let lookback: Double = 366 * 86_400

    /// The release status of `indicator` at `now`, watching the periods of `years`; `published`
    /// holds the periods with any figure (any measure, any feed).
    public static func status(
        indicator: String, schedule: ReleaseSchedule, timeZone: TimeZone, years: ClosedRange<Int>, published: Set<Period>, now: Date
    ) -> ReleaseStatus {
        status(indicator: indicator, watching: periods(schedule, timeZone: timeZone, years: years), now: now) {
            published.contains($0.period)
        }
    }

    /// The release status of `indicator` at `now` over the periods `watching` (in order);
    /// `isPublished` says whether a period has any figure. Periods forgotten by `now` may be
    /// left out of `watching` beforehand: they change nothing.
    public static func status(
        indicator: String, watching: [DuePeriod], now: Date, isPublished: (DuePeriod) -> Bool
    ) -> ReleaseStatus {
        var status = ReleaseStatus(indicator: indicator, next: nil, overdue: [], changesAt: nil)
        func later(_ date: Date) {
            if date > now, status.changesAt.map({ date < $0 }) ?? true { status.changesAt = date }
        }
        for entry in watching where entry.forgottenAt > now && !isPublished(entry) {
            later(entry.overdueAt)
            later(entry.forgottenAt)
            if status.next == nil { status.next = (entry.period, entry.due) }
            if entry.overdueAt <= now { status.overdue.append(OverdueFigure(indicator: indicator, period: entry.period, due: entry.due)) }
        }
        return status
    }
}

extension ReleaseSchedule {
    /// `2024-04-16 00:00 Asia/Shanghai`: a due time as the plan's office reads it.
    public static func localText(_ date: Date, zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ n: Int?) -> String { (n ?? 0) < 10 ? "0\(n ?? 0)" : "\(n ?? 0)" }
        return "\(c.year ?? 0)-\(two(c.month))-\(two(c.day)) \(two(c.hour)):\(two(c.minute)) \(zone.identifier)"
    }

    /// The time zone named `identifier`; UTC when there is none by that name.
    public static func zone(_ identifier: String) -> TimeZone {
        TimeZone(identifier: identifier) ?? TimeZone(identifier: "UTC")!
    }
}
