import Configuration
import Foundation
@testable import Mirror
import Testing
@testable import Daemon

/// The scheduler's decisions on a virtual clock: no timers, no sleeps, every case exact.
/// `startCycle` outside `#require` (a macro cannot take a mutating call).
private func start(_ p: inout SchedulePlanner) -> (cycle: Int, feeds: Set<String>)? { p.startCycle() }

@Suite struct SchedulePlannerTests {
    /// `fast` and `slow` every 200 ms, `daily` once a day, no jitter.
    func planned(at now: Double = 1000) throws -> SchedulePlanner {
        let workspace = try Workspace()
        let config = try workspace.config(
            feeds: """
                \(feedSection("fast", "file:feeds/a.csv", extra: "interval = \"200ms\"\njitter = \"0s\""))
                \(feedSection("slow", "file:feeds/b.csv", extra: "interval = \"200ms\"\njitter = \"0s\""))
                \(feedSection("daily", "file:feeds/c.csv", extra: "interval = \"1d\"\njitter = \"0s\""))
                """)
        var planner = SchedulePlanner(random: { _ in 0 })
        planner.configure(config.feeds, states: [:], wallNow: Date(), now: now)
        return planner
    }

    @Test func everyFeedIsDueAtStartThenEveryInterval() throws {
        var p = try planned()
        #expect(p.nextWake == 1000)
        let fired1 = p.timerFired(at: 1000)
        #expect(fired1)
        let first = try #require(start(&p))
        #expect(first.feeds == ["fast", "slow", "daily"])
        #expect(p.nextWake == nil, "everything runs")
        p.finish("fast", cycle: first.cycle, failed: false, at: 1000.5)
        #expect(p.nextWake == 1000.7, "an interval after the run ended")
        p.endCycle(first.cycle, feeds: first.feeds, failed: [], at: 1001)
        #expect(p.schedules["slow"]?.due == 1001.2)
        #expect(p.schedules["daily"]?.due == 1001.0 + 86_400)
        #expect(p.nextWake == 1000.7)
        let fired2 = p.timerFired(at: 1000.7)
        #expect(fired2)
        #expect(try #require(start(&p)).feeds == ["fast"])
    }

    @Test func theEndOfACycleDoesNotEndAFeedsRunInALaterCycle() throws {
        var p = try planned()
        _ = p.timerFired(at: 1000)
        let long = try #require(start(&p))
        // `fast` finishes early and runs again in a second cycle while the first still runs.
        p.finish("fast", cycle: long.cycle, failed: false, at: 1000.1)
        _ = p.timerFired(at: 1000.3)
        let second = try #require(start(&p))
        #expect(second.feeds == ["fast"])
        // The first cycle ends: `fast` is still running in the second one.
        p.endCycle(long.cycle, feeds: long.feeds, failed: [], at: 1000.4)
        #expect(p.schedules["fast"]?.cycle == second.cycle)
        _ = p.timerFired(at: 1000.6)
        let third = p.startCycle()
        #expect(third?.feeds.contains("fast") != true, "never two runs of one feed")
    }

    @Test func failuresBackOffAndASuccessResets() throws {
        var p = try planned()
        _ = p.timerFired(at: 1000)
        var cycle = try #require(start(&p))
        p.endCycle(cycle.cycle, feeds: cycle.feeds, failed: ["daily"], at: 1000)
        // A day's interval: backoff from interval/16 capped at 60 s, doubling.
        #expect(p.schedules["daily"]?.due == 1060)
        #expect(p.schedules["daily"]?.failures == 1)
        _ = p.timerFired(at: 1060)
        cycle = try #require(start(&p))
        p.endCycle(cycle.cycle, feeds: cycle.feeds, failed: ["daily"], at: 1060)
        #expect(p.schedules["daily"]?.due == 1180)
        _ = p.timerFired(at: 1180)
        cycle = try #require(start(&p))
        p.endCycle(cycle.cycle, feeds: cycle.feeds, failed: [], at: 1180)
        #expect(p.schedules["daily"]?.failures == 0)
        #expect(p.schedules["daily"]?.due == 1180.0 + 86_400)
    }

    @Test func triggersJoinARunningOrQueuedRun() throws {
        var p = try planned()
        _ = p.timerFired(at: 1000)
        let cycle = try #require(start(&p))
        let joined = p.trigger(["fast"])
        #expect(joined == SchedulePlanner.Triggered(running: ["fast"]))
        p.endCycle(cycle.cycle, feeds: cycle.feeds, failed: [], at: 1001)
        #expect(p.pending.isEmpty, "a trigger during a run queues no second run")
        let started = p.trigger(["daily"])
        let queued = p.trigger(["daily", "nope"])
        #expect(started == SchedulePlanner.Triggered(started: ["daily"]))
        #expect(queued == SchedulePlanner.Triggered(queued: ["daily"]))
        #expect(try #require(start(&p)).feeds == ["daily"])
    }

    @Test func aRestartContinuesFromTheMirrorsLastFetchTimes() throws {
        let workspace = try Workspace()
        let config = try workspace.config(feeds: feedSection("daily", "file:feeds/c.csv", extra: "interval = \"1d\"\njitter = \"0s\""))
        let wall = Date(timeIntervalSince1970: 1_800_000_000)
        let state = FeedState(id: "daily", consecutiveFailures: 0, lastAttemptAt: wall.addingTimeInterval(-3600), createdAt: wall)
        var p = SchedulePlanner(random: { _ in 0 })
        p.configure(config.feeds, states: ["daily": state], wallNow: wall, now: 50)
        #expect(abs((p.nextWake ?? 0) - (50.0 + 86_400 - 3600)) < 0.001)
    }

    /// New feeds run at once, together (one first cycle); only feeds overdue after a restart
    /// are spread over up to a second.
    @Test func newFeedsRunAtOnceAndOverdueOnesAreSpread() throws {
        let workspace = try Workspace()
        let config = try workspace.config(feeds: feedSection("a", "file:a") + feedSection("b", "file:b"))
        let wall = Date(timeIntervalSince1970: 1_800_000_000)
        var p = SchedulePlanner(random: { _ in 0.5 })
        p.configure(config.feeds, states: [:], wallNow: wall, now: 10)
        #expect(p.schedules.values.map(\.due) == [10.0, 10.0])
        let overdue = FeedState(id: "a", consecutiveFailures: 0, lastAttemptAt: wall.addingTimeInterval(-86_400), createdAt: wall)
        var q = SchedulePlanner(random: { _ in 0.5 })
        q.configure(config.feeds, states: ["a": overdue], wallNow: wall, now: 10)
        #expect(q.schedules["a"]?.due == 10.5)
        #expect(q.schedules["b"]?.due == 10.0)
    }
}
