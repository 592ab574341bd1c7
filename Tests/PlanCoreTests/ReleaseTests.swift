import Foundation
import Testing

@testable import PlanCore

/// Release schedules: when figures are due, and which are overdue (docs/plans.md, "Releases").
@Suite struct ReleaseTests {
    let shanghai = TimeZone(identifier: "Asia/Shanghai")!
    let monthly = ReleaseSchedule(
        frequency: .monthly, lagDays: 15, grace: 3 * 86_400, skip: [1], dates: [.month(2024, 6): .init(year: 2024, month: 7, day: 20)])

    func time(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func dueDatesCountFromTheEndOfThePeriodInThePlansTimeZone() {
        // March ends at midnight on 1 April in Shanghai; 15 days later is 16 April, 00:00 +08:00.
        #expect(monthly.due(.month(2024, 3), timeZone: shanghai) == time("2024-04-15T16:00:00Z"))
        // A date given for one period wins.
        #expect(monthly.due(.month(2024, 6), timeZone: shanghai) == time("2024-07-19T16:00:00Z"))
        // December's figure is due in the next year.
        #expect(monthly.due(.month(2024, 12), timeZone: shanghai) == time("2025-01-15T16:00:00Z"))
        let utc = TimeZone(identifier: "UTC")!
        #expect(ReleaseSchedule(frequency: .quarterly, lagDays: 20).due(.quarter(2024, 1), timeZone: utc) == time("2024-04-21T00:00:00Z"))
        #expect(ReleaseSchedule(frequency: .halfYearly, lagDays: 0).due(.half(2024, 2), timeZone: utc) == time("2025-01-01T00:00:00Z"))
        // 60 days after 1 January 2024 (a leap year) is 1 March.
        #expect(ReleaseSchedule(frequency: .yearly, lagDays: 60).due(.year(2023), timeZone: utc) == time("2024-03-01T00:00:00Z"))
        #expect(monthly.periods(2024).first == .month(2024, 2), "January is skipped: published with February")
    }

    @Test func theSharedDueTableHoldsTheSameTimes() {
        let table = Releases.dueTable(monthly, timeZone: "Asia/Shanghai", years: 2024...2025)
        #expect(table.count == 22, "11 months a year (January skipped)")
        #expect(table.map(\.period) == monthly.periods(2024) + monthly.periods(2025), "in order")
        for entry in table {
            #expect(monthly.due(entry.period, timeZone: shanghai) == entry.due)
            #expect(entry.overdueAt == entry.due.addingTimeInterval(3 * 86_400) && entry.ordinal == entry.period.ordinal)
        }
        #expect(table.first { $0.period == .month(2024, 6) }?.due == time("2024-07-19T16:00:00Z"))
        let utc = Releases.dueTable(monthly, timeZone: "UTC", years: 2024...2025)
        #expect(utc.first { $0.period == .month(2024, 3) }?.due == time("2024-04-16T00:00:00Z"))
    }

    @Test func aFigurePastDueAndGraceWithNothingPublishedIsOverdue() {
        func status(_ now: String, published: Set<Period>) -> ReleaseStatus {
            Releases.status(indicator: "x", schedule: monthly, timeZone: shanghai, years: 2024...2024, published: published, now: time(now))
        }
        // 18 April: March is due (16 April) but within its 3 days' grace.
        let early = status("2024-04-18T00:00:00+08:00", published: [.month(2024, 2)])
        #expect(early.overdue.isEmpty)
        #expect(early.next?.period == .month(2024, 3) && early.next?.due == time("2024-04-15T16:00:00Z"))
        #expect(early.changesAt == time("2024-04-18T16:00:00Z"), "the grace ends at midnight on the 19th")
        // 20 April: overdue.
        let late = status("2024-04-20T00:00:00+08:00", published: [.month(2024, 2)])
        #expect(late.overdue == [OverdueFigure(indicator: "x", period: .month(2024, 3), due: time("2024-04-15T16:00:00Z"))])
        #expect(late.changesAt == time("2024-05-18T16:00:00Z"), "April's figure falls overdue next")
        // Published, from any feed and measure: nothing overdue, the next one awaited.
        let arrived = status("2024-04-20T00:00:00+08:00", published: [.month(2024, 2), .month(2024, 3)])
        #expect(arrived.overdue.isEmpty && arrived.next?.period == .month(2024, 4))
        // A year and more later, a figure never published is no longer reported.
        let forgotten = status("2025-06-01T00:00:00+08:00", published: [.month(2024, 2)])
        #expect(!forgotten.overdue.contains { $0.period == .month(2024, 3) })
        #expect(forgotten.overdue.contains { $0.period == .month(2024, 12) })
    }

    @Test func judgingAtATimeRaisesAndClearsDataOverdue() throws {
        let plan = Plan(
            id: "p", title: "计划",
            indicators: [
                Indicator(
                    code: "x", name: "规上工业增加值", category: .expected, unit: "%",
                    targets: [Target(year: 2024, rule: .growthAtLeast(Figure("5.0")!))], release: monthly)
            ], timeZone: "Asia/Shanghai")
        func obs(_ period: String) -> Observation {
            Observation(indicator: "x", period: try! Period(parsing: period), measure: .growth, value: Figure("5.5")!, cumulative: true, feed: "f")
        }
        let now = time("2024-04-20T00:00:00+08:00")
        let judged = Judging.judge(plan, index: ObservationIndex([obs("2024-02")], priorities: [:]), now: now)
        let overdue = judged.conditions.filter { $0.kind == .dataOverdue }
        #expect(overdue.map(\.key) == ["p/x/2024-03/data_overdue"])
        #expect(overdue.first?.message == "规上工业增加值 2024-03 数据应于 2024-04-16 00:00 Asia/Shanghai 发布，至今未见（已逾期 4 天）")
        #expect(overdue.first?.details["due"] == .string("2024-04-15T16:00:00Z"))
        #expect(judged.recheckAt == time("2024-05-18T16:00:00Z"))
        let arrived = Judging.judge(plan, index: ObservationIndex([obs("2024-02"), obs("2024-03")], priorities: [:]), now: now)
        #expect(!arrived.conditions.contains { $0.kind == .dataOverdue })
        // Without a time (or a schedule), releases are not looked at.
        #expect(Judging.judge(plan, index: ObservationIndex([], priorities: [:])).releases.isEmpty)
    }
}
