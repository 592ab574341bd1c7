import Configuration
import Foundation
@testable import Mirror
import Testing
@testable import Daemon

/// What a scheduler's sync action saw: every feed start and end, in order.
private final class Runs: @unchecked Sendable {
    private let lock = NSLock()
    private var starts: [String: [Date]] = [:]
    private var running: Set<String> = []
    private(set) var overlaps: [String] = []

    func start(_ id: String) {
        lock.withLock {
            if running.contains(id) { overlaps.append(id) }
            running.insert(id)
            starts[id, default: []].append(Date())
        }
    }

    func end(_ id: String) { lock.withLock { _ = running.remove(id) } }
    func count(_ id: String) -> Int { lock.withLock { starts[id]?.count ?? 0 } }
    var total: Int { lock.withLock { starts.values.map(\.count).reduce(0, +) } }
}

/// Feeds `fast` (every 200 ms), `slow` (every 200 ms, each sync hanging for `hang`) and
/// `daily`, all without jitter, as the scheduler gets them from a loaded configuration.
private func feeds(_ workspace: Workspace) throws -> [FeedConfig] {
    let config = try workspace.config(feeds: """
        \(feedSection("fast", "file:feeds/a.csv", extra: "interval = \"200ms\"\njitter = \"0s\""))
        \(feedSection("slow", "file:feeds/b.csv", extra: "interval = \"200ms\"\njitter = \"0s\""))
        \(feedSection("daily", "file:feeds/c.csv", extra: "interval = \"1d\"\njitter = \"0s\""))
        """)
    return config.feeds
}

/// A scheduler whose syncs take no time, except `slow`, which hangs for `hang` seconds.
private func scheduler(_ runs: Runs, hang: Double = 0) -> Scheduler {
    Scheduler { ids, done in
        await withTaskGroup(of: Void.self) { group in
            for id in ids {
                group.addTask {
                    runs.start(id)
                    if id == "slow", hang > 0 { try? await Task.sleep(for: .seconds(hang)) }
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
        let scheduler = Scheduler { feeds, _ in
            active.withLock { set in
                if !set.isDisjoint(with: feeds) { overlap.withLock { $0 = true } }
                set.formUnion(feeds)
            }
            runs.withLock { $0.append(feeds) }
            try? await Task.sleep(nanoseconds: 300_000_000)
            active.withLock { $0.subtract(feeds) }
            return []
        }
        scheduler.configure(config.feeds, states: [:])
        // Trigger "a" again and again while its first sync runs: it runs once more afterwards.
        for _ in 0..<5 {
            try await Task.sleep(nanoseconds: 50_000_000)
            scheduler.trigger(["a"])
        }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, runs.current.filter({ $0.contains("a") }).count < 2 { try await Task.sleep(nanoseconds: 50_000_000) }
        #expect(!overlap.current)
        #expect(runs.current.filter { $0.contains("a") }.count >= 2)
        #expect(runs.current.filter { $0.contains("b") }.count == 1)
        try await Task.sleep(nanoseconds: 400_000_000)
        #expect(scheduler.snapshot["a"]?.nextDue.map { $0.timeIntervalSinceNow > 3000 } == true)
        scheduler.stop()
    }

    @Test func feedsRunEveryIntervalAndNeverTwiceAtOnce() async throws {
        let runs = Runs()
        let scheduler = scheduler(runs)
        let workspace = try Workspace()
        scheduler.configure(try feeds(workspace), states: [:])
        try await Task.sleep(for: .milliseconds(1100))
        scheduler.stop()
        // Due at start, then every 200 ms: 5 or 6 runs in 1.1 s (timers may be up to 50 ms late).
        #expect((4...7).contains(runs.count("fast")), "fast ran \(runs.count("fast")) times")
        #expect((4...7).contains(runs.count("slow")))
        #expect(runs.count("daily") == 1, "due once at start, then not for a day")
        #expect(runs.overlaps.isEmpty)
        // Stopped: nothing runs any more.
        let stopped = runs.total
        try await Task.sleep(for: .milliseconds(500))
        #expect(runs.total == stopped)
    }

    @Test func aHangingFeedDoesNotHoldBackTheOthers() async throws {
        let runs = Runs()
        let scheduler = scheduler(runs, hang: 1.0)
        let workspace = try Workspace()
        scheduler.configure(try feeds(workspace), states: [:])
        try await Task.sleep(for: .milliseconds(900))
        // `slow` is still in its first sync; `fast` went on every 200 ms meanwhile.
        #expect(runs.count("slow") == 1)
        #expect(runs.count("fast") >= 3, "fast ran \(runs.count("fast")) times while slow hung")
        #expect(runs.overlaps.isEmpty)
        scheduler.stop()
    }

    @Test func oneTimerWaitsForTheEarliestIdleFeed() async throws {
        let runs = Runs()
        let scheduler = scheduler(runs, hang: 0.6)
        let workspace = try Workspace()
        // Every feed ran just now: `fast` and `slow` are due in 200 ms, `daily` in a day.
        let now = Date()
        let states = Dictionary(uniqueKeysWithValues: ["fast", "slow", "daily"].map {
            ($0, FeedState(id: $0, consecutiveFailures: 0, lastAttemptAt: now, createdAt: now))
        })
        scheduler.configure(try feeds(workspace), states: states)
        let first = try #require(scheduler.armedDeadline)
        #expect(abs(first.timeIntervalSince(now.addingTimeInterval(0.2))) < 0.05)
        #expect(runs.total == 0)
        // While `slow` hangs, the timer follows `fast` alone (never a running feed's old due time).
        try await Task.sleep(for: .milliseconds(450))
        let schedules = scheduler.snapshot
        #expect(schedules["slow"]?.running == true)
        let idle = schedules.filter { !$0.value.running }.compactMap(\.value.nextDue).min()
        #expect(scheduler.armedDeadline == idle)
        // A trigger runs a feed long before it is due.
        scheduler.trigger(["daily"])
        try await Task.sleep(for: .milliseconds(150))
        #expect(runs.count("daily") == 1)
        scheduler.stop()
        #expect(scheduler.armedDeadline == nil)
    }
}
