import Configuration
import Foundation
import Mirror
import Synchronization

/// When each feed runs next: every `interval` plus random `jitter`, continuing from the
/// mirror's last fetch times after a restart, backing off exponentially (up to the interval)
/// after failures, never running two syncs of one feed at once. One serial queue owns all
/// state; a single one-shot Dispatch timer is set for the earliest due feed, so an idle
/// daemon sleeps and a cycle of hundreds of feeds re-arms one timer, not one per feed.
///
/// Due times are kept on the monotonic clock (`uptime`): stepping the wall clock forward a
/// year or back a day changes no timer. The wall clock (`now`) only turns the mirror's last
/// fetch times into due times at start and reload, and due times into timestamps for display.
public final class Scheduler: @unchecked Sendable {
    public struct FeedSchedule: Sendable {
        /// When the feed runs next on the wall clock (as of the snapshot that made this copy).
        public var nextDue: Date?
        /// When the feed runs next, in `uptime` seconds (what the timer follows).
        var due: Double?
        /// The cycle running the feed now (nil: idle). A feed done early in a long cycle may
        /// run again in a later cycle before the first one ends; the first cycle's end must
        /// not finish that second run (which let a third start beside it).
        var cycle: Int?
        public var failures: Int
        public var running: Bool { cycle != nil }
    }

    /// Runs a sync of these feeds, calling `done(id, succeeded)` as each feed finishes (so a
    /// hanging feed does not hold back the others); returns the ids that failed, nil when the
    /// cycle itself failed.
    public typealias SyncAction = @Sendable (_ feeds: Set<String>, _ done: @escaping @Sendable (String, Bool) -> Void) async -> Set<String>?

    public let queue = DispatchQueue(label: "plansync.scheduler")
    private var feeds: [String: FeedConfig] = [:]
    private var schedules: [String: FeedSchedule] = [:]
    /// Due (or triggered) feeds waiting for the next cycle.
    private var pending: Set<String> = []
    /// The one timer, and the time it is set for (nil: disarmed).
    private var timer: DispatchSourceTimer?
    private var armedFor: Double?
    private var flushScheduled = false
    private var stopped = false
    private var inFlight = 0
    private var lastCycle = 0
    /// When a running cycle last made progress (started, or a feed of it finished), in
    /// `uptime` seconds; nil while none runs. The watchdog stops pinging when this gets old.
    private let progressAt = Mutex<Double?>(nil)
    /// Feeds reported done from any thread, applied on `queue` in one go (a 500-feed cycle
    /// finishing feed by feed would otherwise wake the queue 500 times).
    private let finished = Mutex<[(id: String, cycle: Int, failed: Bool)]>([])
    private let action: SyncAction
    private let onCycleEnd: @Sendable () -> Void
    private let now: @Sendable () -> Date
    private let uptime: @Sendable () -> Double

    /// - Parameters:
    ///   - now: the wall clock (timestamps, and the mirror's fetch times after a restart).
    ///   - uptime: a monotonic clock in seconds; the timers follow it.
    public init(now: @escaping @Sendable () -> Date = { Date() }, uptime: @escaping @Sendable () -> Double = Scheduler.monotonicSeconds,
                onCycleEnd: @escaping @Sendable () -> Void = {}, action: @escaping SyncAction) {
        self.now = now
        self.uptime = uptime
        self.onCycleEnd = onCycleEnd
        self.action = action
    }

    /// Sets the feeds to run (on start and after a reload): new feeds are scheduled from the
    /// mirror's state, removed ones cancelled, changed ones rescheduled.
    public func configure(_ configs: [FeedConfig], states: [String: FeedState]) {
        queue.sync {
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
                // The mirror keeps wall-clock times: how far from now the next run is, on the monotonic clock.
                var wait = 0.0
                if let last = state?.lastAttemptAt {
                    wait = last.addingTimeInterval(delay(for: feed, failures: schedule.failures)).timeIntervalSince(now())
                }
                if wait <= 0 { wait = Double.random(in: 0...min(feed.settings.jitter, 1)) }
                schedule.due = uptime() + wait
                schedules[feed.id] = schedule
            }
            rearm()
        }
    }

    /// What a trigger did with each feed it named.
    public struct Triggered: Sendable, Equatable {
        /// Feeds queued for the next cycle by this trigger.
        public var started: [String] = []
        /// Feeds already queued: the trigger joined the waiting cycle.
        public var queued: [String] = []
        /// Feeds in a cycle now: the trigger joined it (no second run is queued behind it).
        public var running: [String] = []
    }

    /// Runs these feeds (all when nil) in the next cycle, unless they are already running or
    /// queued: then the request joins that cycle. However many requests arrive while a cycle
    /// runs or waits, they start no more cycles (200 `POST /v1/sync` once started 60).
    @discardableResult
    public func trigger(_ ids: Set<String>? = nil) -> Triggered {
        queue.sync { [self] in
            var result = Triggered()
            guard !stopped else { return result }
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
            if !result.started.isEmpty {
                scheduleFlush()
                rearm()
            }
            return result
        }
    }

    /// Stops scheduling; running syncs finish on their own.
    public func stop() {
        queue.sync {
            stopped = true
            timer?.cancel()
            timer = nil
            armedFor = nil
            pending.removeAll()
        }
    }

    /// True while any sync is in flight.
    public var isBusy: Bool { queue.sync { inFlight > 0 } }

    /// The schedule of every feed, for the status socket (`nextDue` on the wall clock).
    public var snapshot: [String: FeedSchedule] { queue.sync { withWallTimes(schedules) } }

    /// Seconds since a running cycle last made progress (a cycle started or a feed finished);
    /// nil when no cycle runs. Read from any thread without waiting for the queue.
    public var secondsWithoutProgress: Double? {
        progressAt.withLock { $0 }.map { uptime() - $0 }
    }

    /// The schedules with `nextDue` set from the monotonic due times, as of now.
    private func withWallTimes(_ schedules: [String: FeedSchedule]) -> [String: FeedSchedule] {
        let wall = now(), mono = uptime()
        return schedules.mapValues { schedule in
            var copy = schedule
            copy.nextDue = schedule.due.map { wall.addingTimeInterval($0 - mono) }
            return copy
        }
    }

    /// When the timer fires next in `uptime` seconds (nil: nothing waits), for tests and diagnostics.
    var armedDeadline: Double? { queue.sync { armedFor } }

    /// The timer's deadline, every schedule and the feeds waiting for the next cycle, read together.
    var timerAndSchedules: (armed: Double?, schedules: [String: FeedSchedule], pending: Set<String>) {
        queue.sync { (armedFor, schedules, pending) }
    }

    /// CLOCK_MONOTONIC in seconds (what Dispatch timers follow).
    public static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    /// Seconds until the next run: the interval plus jitter, or a backoff after failures.
    func delay(for feed: FeedConfig, failures: Int) -> Double {
        let interval = feed.settings.interval
        if failures > 0 {
            let base = max(0.5, min(60, interval / 16))
            return min(interval, base * pow(2, Double(failures - 1)))
        }
        return interval + Double.random(in: 0...max(0, feed.settings.jitter))
    }

    /// Sets the timer for the earliest feed that is neither running nor already pending.
    /// O(feeds), run once per configure, trigger, timer event and batch of finished feeds.
    private func rearm() {
        guard !stopped else { return }
        var earliest: Double?
        for (id, schedule) in schedules where !schedule.running && !pending.contains(id) {
            if let due = schedule.due, due < earliest ?? .infinity { earliest = due }
        }
        guard earliest != armedFor else { return }
        armedFor = earliest
        guard let earliest else {
            timer?.cancel()
            timer = nil
            return
        }
        if timer == nil {
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
            timer = source
        }
        timer?.schedule(deadline: .now() + max(0, earliest - uptime()), leeway: .milliseconds(50))
    }

    /// The timer went off: every feed due by now (within the timer's leeway) joins the next cycle.
    private func fire() {
        armedFor = nil
        guard !stopped else { return }
        let horizon = uptime() + 0.05
        for (id, schedule) in schedules where !schedule.running {
            if let due = schedule.due, due <= horizon { pending.insert(id) }
        }
        if !pending.isEmpty { scheduleFlush() }
        rearm()
    }

    /// Coalesces feeds that fall due together into one cycle.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        queue.asyncAfter(deadline: .now() + .milliseconds(20)) { [self] in
            flushScheduled = false
            guard !stopped else { return }
            let ready = pending.filter { schedules[$0]?.running != true }
            guard !ready.isEmpty else { return }
            pending.subtract(ready)
            lastCycle += 1
            let cycle = lastCycle
            for id in ready { schedules[id]?.cycle = cycle }
            progressAt.withLock { $0 = uptime() }
            inFlight += 1
            let action = self.action
            Task {
                let failed = await action(ready) { id, succeeded in self.finishLater(id, cycle: cycle, failed: !succeeded) }
                self.queue.async {
                    self.applyFinished()
                    self.finish(ready, cycle: cycle, failed: failed)
                }
            }
        }
    }

    /// Notes from any thread that one feed is done; the first note of a batch schedules
    /// `applyFinished` on the queue 10 ms later, and notes arriving meanwhile join it.
    private func finishLater(_ id: String, cycle: Int, failed: Bool) {
        let at = uptime()
        progressAt.withLock { $0 = at }
        let first = finished.withLock { list -> Bool in
            list.append((id, cycle, failed))
            return list.count == 1
        }
        if first { queue.asyncAfter(deadline: .now() + .milliseconds(10)) { self.applyFinished() } }
    }

    /// On `queue`: reschedules every feed noted done so far, then sets the timer once.
    private func applyFinished() {
        let batch = finished.withLock { list in
            defer { list.removeAll() }
            return list
        }
        guard !batch.isEmpty else { return }
        for (id, cycle, failed) in batch { finishOne(id, cycle: cycle, failed: failed) }
        rearm()
    }

    /// The end of a cycle: its feeds not reported one by one are finished here.
    private func finish(_ ids: Set<String>, cycle: Int, failed: Set<String>?) {
        inFlight -= 1
        let left = inFlight, at = uptime()
        progressAt.withLock { $0 = left > 0 ? at : nil }
        for id in ids where schedules[id]?.cycle == cycle {
            finishOne(id, cycle: cycle, failed: failed?.contains(id) ?? true)
        }
        rearm()
        onCycleEnd()
    }

    /// One feed's run in `cycle` is done: its next due time (backing off after a failure).
    /// The caller re-arms.
    private func finishOne(_ id: String, cycle: Int, failed didFail: Bool) {
        guard var schedule = schedules[id], schedule.cycle == cycle, let feed = feeds[id] else { return }
        schedule.cycle = nil
        schedule.failures = didFail ? schedule.failures + 1 : 0
        schedule.due = uptime() + delay(for: feed, failures: schedule.failures)
        schedules[id] = schedule
        if !stopped, pending.contains(id) { scheduleFlush() }
    }
}
