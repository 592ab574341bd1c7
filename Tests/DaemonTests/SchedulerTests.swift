import Configuration
import Foundation
@testable import Mirror
import Testing
@testable import Daemon
import Support

/// Names of runs allowed to end.
private final class Gates: @unchecked Sendable {
    private let lock = NSLock()
    private var opened: Set<String> = []
    func open(_ name: String) { lock.withLock { _ = opened.insert(name) } }
    func isOpen(_ name: String) -> Bool { lock.withLock { opened.contains(name) } }
}

/// What a scheduler's sync action saw: every feed start and end, in order.
private final class Runs: @unchecked Sendable {
    private let lock = NSLock()
    private var starts: [String: [Date]] = [:]
    private var running: Set<String> = []
    private(set) var overlaps: [String] = []

    /// Notes a run's start; returns its number (1 for the feed's first run).
    @discardableResult func start(_ id: String) -> Int {
        lock.withLock {
            if running.contains(id) { overlaps.append(id) }
            running.insert(id)
            starts[id, default: []].append(Date())
            return starts[id]?.count ?? 0
        }
    }

    private var ends: [String: Date] = [:]

    func end(_ id: String) {
        lock.withLock {
            running.remove(id)
            ends[id] = Date()
        }
    }

    func lastEnd(_ id: String) -> Date? { lock.withLock { ends[id] } }
    private var isReleased = false
    /// Ends the hanging syncs.
    func release() { lock.withLock { isReleased = true } }
    var released: Bool { lock.withLock { isReleased } }
    func count(_ id: String) -> Int { lock.withLock { starts[id]?.count ?? 0 } }
    var total: Int { lock.withLock { starts.values.map(\.count).reduce(0, +) } }
}

/// Feeds `fast` (every 200 ms), `slow` (every 200 ms, each sync hanging for `hang`) and
/// `daily`, all without jitter, as the scheduler gets them from a loaded configuration.
private func feeds(_ workspace: Workspace) throws -> [FeedConfig] {
    let config = try workspace.config(
        feeds: """
            \(feedSection("fast", "file:feeds/a.csv", extra: "interval = \"200ms\"\njitter = \"0s\""))
            \(feedSection("slow", "file:feeds/b.csv", extra: "interval = \"200ms\"\njitter = \"0s\""))
            \(feedSection("daily", "file:feeds/c.csv", extra: "interval = \"1d\"\njitter = \"0s\""))
            """)
    return config.feeds
}

/// A scheduler whose syncs take no time, except `slow` when `hang` is set: its syncs then
/// last until `runs.release()`.
private func scheduler(_ runs: Runs, hang: Bool = false) -> Scheduler {
    Scheduler { ids, done in
        await withTaskGroup(of: Void.self) { group in
            for id in ids {
                group.addTask {
                    runs.start(id)
                    if id == "slow", hang {
                        while !runs.released { try? await Task.sleep(for: .milliseconds(20)) }
                    }
                    runs.end(id)
                    done(id, true)
                }
            }
        }
        return []
    }
}

@Suite struct SchedulerTests {
    @Test func failuresBackOffExponentiallyUpToTheInterval() throws {
        let ws = try Workspace()
        let config = try ws.config(feeds: feedSection("a", "file:feeds/a.csv", extra: "interval = \"10m\"\njitter = \"0s\""))
        let feed = try #require(config.feeds.first)
        let scheduler = Scheduler { _, _ in [] }
        #expect(scheduler.delay(for: feed, failures: 0) == 600)
        let backoff = (1...8).map { scheduler.delay(for: feed, failures: $0) }
        #expect(backoff == [37.5, 75, 150, 300, 600, 600, 600, 600])
    }

    @Test func syncsOfOneFeedNeverOverlap() async throws {
        let ws = try Workspace()
        let config = try ws.config(feeds: feedSection("a", "file:a", extra: "interval = \"1h\"") + feedSection("b", "file:b", extra: "interval = \"1h\""))
        let active = Locked<Set<String>>([])
        let overlap = Locked(false)
        let runs = Locked<[Set<String>]>([])
        let released = Locked(false)
        let scheduler = Scheduler { feeds, _ in
            active.withLock { set in
                if !set.isDisjoint(with: feeds) { overlap.withLock { $0 = true } }
                set.formUnion(feeds)
            }
            runs.withLock { $0.append(feeds) }
            // The first run of "a" lasts until released; the others are short.
            if feeds.contains("a"), runs.current.filter({ $0.contains("a") }).count == 1 {
                while !released.current { try? await Task.sleep(nanoseconds: 10_000_000) }
            } else {
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
            active.withLock { $0.subtract(feeds) }
            return []
        }
        scheduler.configure(config.feeds, states: [:])
        func count(_ id: String) -> Int { runs.current.filter { $0.contains(id) }.count }
        try await wait { scheduler.snapshot["a"]?.running == true }
        // Triggers while "a" runs join that run: no second run is queued behind it.
        for _ in 0..<5 {
            #expect(scheduler.trigger(["a"]) == Scheduler.Triggered(running: ["a"]))
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        released.withLock { $0 = true }
        try await wait { !scheduler.isBusy }
        #expect(count("a") == 1)
        // Idle: a trigger starts a run; one right behind it joins the queued one.
        #expect(scheduler.trigger(["a"]) == Scheduler.Triggered(started: ["a"]))
        #expect(scheduler.trigger(["a"]) == Scheduler.Triggered(queued: ["a"]))
        try await wait { count("a") == 2 && !scheduler.isBusy }
        #expect(!overlap.current)
        #expect(count("a") == 2)
        #expect(count("b") == 1)
        try await Task.sleep(nanoseconds: 400_000_000)
        #expect(scheduler.snapshot["a"]?.nextDue.map { $0.timeIntervalSinceNow > 3000 } == true)
        scheduler.stop()
    }

    /// Waits (up to 5 minutes: the test suite runs many tests at once on few cores, and the
    /// many that run processes and wait for them hold the cooperative pool's threads, one test
    /// after another; on 2 cores the scheduler's tasks were seen starved for over 60 s) until
    /// `done`. An unstarved run waits a second or two.
    private func wait(until done: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(300)
        while !done(), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test func feedsRunEveryIntervalAndNeverTwiceAtOnce() async throws {
        let runs = Runs()
        let scheduler = scheduler(runs)
        let workspace = try Workspace()
        scheduler.configure(try feeds(workspace), states: [:])
        try await wait { runs.count("fast") >= 4 && runs.count("slow") >= 4 }
        scheduler.stop()
        #expect(runs.count("fast") >= 4 && runs.count("slow") >= 4)
        #expect(runs.count("daily") == 1, "due once at start, then not for a day")
        #expect(runs.overlaps.isEmpty)
        // Each feed's next run is set an interval after its last one ended (the scheduler's
        // decision; when a starved test task records a start says little).
        try await wait { !scheduler.isBusy }
        let schedules = scheduler.snapshot
        for id in ["fast", "slow"] {
            let next = try #require(schedules[id]?.nextDue), end = try #require(runs.lastEnd(id))
            #expect(next.timeIntervalSince(end) >= 0.2, "\(id): next run \(next.timeIntervalSince(end)) s after the last")
        }
        // Stopped: once the cycle in flight is over, nothing starts any more.
        let stopped = runs.total
        try await Task.sleep(for: .milliseconds(600))
        #expect(runs.total == stopped)
    }

    /// A feed done early in a long cycle runs again in a later cycle while the first is still
    /// in flight. The end of the first cycle must not end that second run: it did, and the
    /// feed then started a third run beside the second.
    @Test func theEndOfACycleDoesNotEndAFeedsRunInALaterCycle() async throws {
        let runs = Runs()
        let gates = Gates()  // runs allowed to end: "long", "quick#2"
        let scheduler = Scheduler { ids, done in
            await withTaskGroup(of: Void.self) { group in
                for id in ids {
                    group.addTask {
                        let run = runs.start(id)
                        let gate = id == "long" ? "long" : run == 2 ? "quick#2" : nil
                        if let gate { while !gates.isOpen(gate) { try? await Task.sleep(for: .milliseconds(10)) } }
                        runs.end(id)
                        done(id, true)
                    }
                }
            }
            return []
        }
        let ws = try Workspace()
        let config = try ws.config(
            feeds: """
                \(feedSection("quick", "file:feeds/a.csv", extra: "interval = \"100ms\"\njitter = \"0s\""))
                \(feedSection("long", "file:feeds/b.csv", extra: "interval = \"1d\"\njitter = \"0s\""))
                """)
        scheduler.configure(config.feeds, states: [:])
        // Cycle 1 runs both; quick ends, and its second run (cycle 2) starts and waits.
        try await wait { runs.count("quick") >= 2 }
        #expect(runs.count("quick") == 2)
        // Cycle 1 ends once long is released; quick's second run is still going.
        gates.open("long")
        try await wait { runs.lastEnd("long") != nil && scheduler.snapshot["long"]?.running == false }
        try await Task.sleep(for: .milliseconds(500))
        #expect(scheduler.snapshot["quick"]?.running == true, "quick's second run is still in flight")
        #expect(runs.count("quick") == 2, "no third run while the second one lasts")
        #expect(runs.overlaps.isEmpty)
        gates.open("quick#2")
        try await wait { runs.count("quick") >= 3 }
        scheduler.stop()
        try await wait { !scheduler.isBusy }
        #expect(runs.overlaps.isEmpty)
    }

    @Test func aHangingFeedDoesNotHoldBackTheOthers() async throws {
        let runs = Runs()
        let scheduler = scheduler(runs, hang: true)
        let workspace = try Workspace()
        scheduler.configure(try feeds(workspace), states: [:])
        try await wait { runs.count("fast") >= 3 }
        // `fast` went on every 200 ms while `slow` is still in its first sync.
        #expect(runs.count("fast") >= 3)
        #expect(runs.count("slow") == 1)
        #expect(scheduler.snapshot["slow"]?.running == true)
        #expect(runs.overlaps.isEmpty)
        scheduler.stop()
        runs.release()
    }

    @Test func oneTimerWaitsForTheEarliestIdleFeed() async throws {
        let runs = Runs()
        let scheduler = scheduler(runs, hang: true)
        let workspace = try Workspace()
        // Every feed ran just now: `fast` and `slow` are due in 200 ms, `daily` in a day.
        let now = Date()
        let states = Dictionary(
            uniqueKeysWithValues: ["fast", "slow", "daily"].map {
                ($0, FeedState(id: $0, consecutiveFailures: 0, lastAttemptAt: now, createdAt: now))
            })
        let mono = Scheduler.monotonicSeconds()
        scheduler.configure(try feeds(workspace), states: states)
        let first = try #require(scheduler.armedDeadline)
        #expect(abs(first - (mono + 0.2)) < 0.05)
        // While `slow` hangs, the timer follows the idle feeds alone (never a running feed's
        // old due time, which is in the past).
        try await wait { scheduler.snapshot["slow"]?.running == true && runs.count("fast") >= 2 }
        let (armed, schedules, pending) = scheduler.timerAndSchedules
        #expect(schedules["slow"]?.running == true)
        let idle = schedules.filter { !$0.value.running && !pending.contains($0.key) }.compactMap(\.value.due).min()
        #expect(armed == idle)
        #expect(armed != schedules["slow"]?.due)
        // A trigger runs a feed long before it is due.
        #expect(runs.count("daily") == 0)
        scheduler.trigger(["daily"])
        try await wait { runs.count("daily") == 1 }
        #expect(runs.count("daily") == 1)
        scheduler.stop()
        runs.release()
        #expect(scheduler.armedDeadline == nil)
    }

    /// The wall clock stepped back a day (or forward a year) while the daemon runs changes
    /// nothing but timestamps: the timers follow the monotonic clock. (An earlier scheduler
    /// set its timer from wall-clock due times, and a step back of a day stopped every feed.)
    @Test(arguments: [-86_400.0, 365 * 86_400.0])
    func steppingTheWallClockChangesNoTimer(step: Double) async throws {
        let runs = Runs()
        // A class, not a Mutex: the scheduler's clock closure outlives this function's frame.
        let offset = Locked<Double>(0)
        let scheduler = Scheduler(now: { Date().addingTimeInterval(offset.current) }) { ids, done in
            for id in ids {
                runs.start(id)
                runs.end(id)
                done(id, true)
            }
            return []
        }
        let workspace = try Workspace()
        scheduler.configure(try feeds(workspace), states: [:])
        try await wait { runs.count("fast") >= 2 }
        offset.withLock { $0 = step }
        let before = runs.count("fast")
        try await wait { runs.count("fast") >= before + 3 }
        scheduler.stop()
        #expect(runs.count("fast") >= before + 3, "the 200 ms feed kept running after the wall clock stepped by \(step) s")
        #expect(runs.count("daily") == 1)
        // Timestamps follow the stepped wall clock.
        let next = try #require(scheduler.snapshot["daily"]?.nextDue)
        #expect(abs(next.timeIntervalSinceNow - step - 86_400) < 120)
    }
}
