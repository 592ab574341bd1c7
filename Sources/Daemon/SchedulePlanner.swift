import Configuration
import Foundation
import Mirror

/// The scheduler's decisions, with no timers and no threads: which feeds are due, what the
/// next cycle runs, when the one timer must fire, how a failure backs off. Time is passed in
/// (seconds on a monotonic clock), so tests drive it on a virtual clock, without sleeping;
/// `Scheduler` carries its decisions out with Dispatch.
public struct SchedulePlanner: Sendable {
    public struct FeedSchedule: Sendable, Equatable {
        /// When the feed runs next on the wall clock (as of the snapshot that made this copy).
        public var nextDue: Date?
        /// When the feed runs next, in monotonic seconds (what the timer follows).
        public var due: Double?
        /// The cycle running the feed now (nil: idle). A feed done early in a long cycle may
        /// run again in a later cycle before the first one ends; the first cycle's end must
        /// not finish that second run (which let a third start beside it).
        public var cycle: Int?
        public var failures: Int
        public var running: Bool { cycle != nil }
    }

    /// What a trigger did with each feed it named.
    public struct Triggered: Sendable, Equatable {
        /// Feeds queued for the next cycle by this trigger.
        public var started: [String] = []
        /// Feeds already queued: the trigger joined the waiting cycle.
        public var queued: [String] = []
        /// Feeds in a cycle now: the trigger joined it (no second run is queued behind it).
        public var running: [String] = []

        public init(started: [String] = [], queued: [String] = [], running: [String] = []) {
            self.started = started
            self.queued = queued
            self.running = running
        }
    }

    public private(set) var feeds: [String: FeedConfig] = [:]
    public private(set) var schedules: [String: FeedSchedule] = [:]
    /// Due (or triggered) feeds waiting for the next cycle.
    public private(set) var pending: Set<String> = []
    /// Cycles started and not ended.
    public private(set) var running: Set<Int> = []
    private var lastCycle = 0
    /// A random delay in 0...upper (jitter); tests make it fixed.
    private let random: @Sendable (Double) -> Double

    public init(random: @escaping @Sendable (Double) -> Double = { Double.random(in: 0...max(0, $0)) }) {
        self.random = random
    }

    /// Sets the feeds to run (on start and after a reload): new feeds are scheduled from the
    /// mirror's state (its wall-clock times turned into monotonic due times), removed ones
    /// cancelled, changed ones rescheduled.
    public mutating func configure(_ configs: [FeedConfig], states: [String: FeedState], wallNow: Date, now: Double) {
        let ids = Set(configs.map(\.id))
        for id in feeds.keys where !ids.contains(id) {
            feeds.removeValue(forKey: id)
            schedules.removeValue(forKey: id)
            pending.remove(id)
        }
        for feed in configs {
            let old = feeds[feed.id]
            feeds[feed.id] = feed
            if old == feed, schedules[feed.id] != nil { continue }
            let state = states[feed.id]
            var schedule = schedules[feed.id] ?? FeedSchedule(nextDue: nil, due: nil, cycle: nil, failures: state?.consecutiveFailures ?? 0)
            var wait = 0.0
            if let last = state?.lastAttemptAt {
                wait = last.addingTimeInterval(delay(for: feed, failures: schedule.failures)).timeIntervalSince(wallNow)
            }
            // Overdue after a restart: spread over up to a second (a new feed runs at once).
            if wait < 0 { wait = random(min(feed.settings.jitter, 1)) }
            schedule.due = now + wait
            schedules[feed.id] = schedule
        }
    }

    /// Queues these feeds (all when nil) for the next cycle, unless they run or wait already:
    /// then the request joins that cycle.
    public mutating func trigger(_ ids: Set<String>?) -> Triggered {
        var result = Triggered()
        for id in (ids ?? Set(feeds.keys)).sorted() where feeds[id] != nil {
            if schedules[id]?.running == true {
                result.running.append(id)
            } else if pending.contains(id) {
                result.queued.append(id)
            } else {
                pending.insert(id)
                result.started.append(id)
            }
        }
        return result
    }

    /// When the timer must fire: the earliest due time of a feed neither running nor queued.
    public var nextWake: Double? {
        var earliest: Double?
        for (id, schedule) in schedules where !schedule.running && !pending.contains(id) {
            if let due = schedule.due, due < earliest ?? .infinity { earliest = due }
        }
        return earliest
    }

    /// The timer fired at `now`: every idle feed due by then (within `leeway`) is queued.
    /// Returns true when something waits for a cycle.
    public mutating func timerFired(at now: Double, leeway: Double = 0.05) -> Bool {
        for (id, schedule) in schedules where !schedule.running {
            if let due = schedule.due, due <= now + leeway { pending.insert(id) }
        }
        return !pending.isEmpty
    }

    /// Starts a cycle with every queued feed that is not running; nil when there is none.
    public mutating func startCycle() -> (cycle: Int, feeds: Set<String>)? {
        let ready = pending.filter { schedules[$0]?.running != true }
        guard !ready.isEmpty else { return nil }
        pending.subtract(ready)
        lastCycle += 1
        for id in ready { schedules[id]?.cycle = lastCycle }
        running.insert(lastCycle)
        return (lastCycle, ready)
    }

    /// One feed's run in `cycle` ended at `now`: its next due time (backing off after a
    /// failure). A run of another cycle is left alone. Returns true when the feed is queued
    /// again (a trigger arrived while it ran) and a cycle should start.
    @discardableResult
    public mutating func finish(_ id: String, cycle: Int, failed: Bool, at now: Double) -> Bool {
        guard var schedule = schedules[id], schedule.cycle == cycle, let feed = feeds[id] else { return false }
        schedule.cycle = nil
        schedule.failures = failed ? schedule.failures + 1 : 0
        schedule.due = now + delay(for: feed, failures: schedule.failures)
        schedules[id] = schedule
        return pending.contains(id)
    }

    /// A cycle ended: its feeds not reported one by one are finished (all failed when the
    /// cycle itself failed, `failed` nil). Returns true when a cycle should start.
    @discardableResult
    public mutating func endCycle(_ cycle: Int, feeds ids: Set<String>, failed: Set<String>?, at now: Double) -> Bool {
        running.remove(cycle)
        var again = false
        for id in ids where schedules[id]?.cycle == cycle {
            again = finish(id, cycle: cycle, failed: failed?.contains(id) ?? true, at: now) || again
        }
        return again
    }

    /// Forgets everything queued (the daemon is stopping).
    public mutating func clearPending() { pending.removeAll() }

    /// Seconds until the next run: the interval plus jitter, or a backoff after failures
    /// (from interval/16, at least 0.5 s and at most 60 s, doubling, up to the interval).
    public func delay(for feed: FeedConfig, failures: Int) -> Double {
        let interval = feed.settings.interval
        if failures > 0 {
            let base = max(0.5, min(60, interval / 16))
            return min(interval, base * pow(2, Double(failures - 1)))
        }
        return interval + random(max(0, feed.settings.jitter))
    }
}
