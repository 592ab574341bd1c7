import Configuration
import Foundation
import Mirror
import Synchronization

/// When each feed runs next: every `interval` plus random `jitter`, continuing from the
/// mirror's last fetch times after a restart, backing off exponentially (up to the interval)
/// after failures, never running two syncs of one feed at once. The decisions are
/// `SchedulePlanner`'s; this class carries them out: one serial queue owns the planner, and a
/// single one-shot Dispatch timer is set for its next wake-up, so an idle daemon sleeps and a
/// cycle of hundreds of feeds re-arms one timer, not one per feed.
///
/// Due times are kept on the monotonic clock (`uptime`): stepping the wall clock forward a
/// year or back a day changes no timer. The wall clock (`now`) only turns the mirror's last
/// fetch times into due times at start and reload, and due times into timestamps for display.
public final class Scheduler: @unchecked Sendable {
    public typealias FeedSchedule = SchedulePlanner.FeedSchedule
    public typealias Triggered = SchedulePlanner.Triggered

    /// Runs a sync of these feeds, calling `done(id, succeeded)` as each feed finishes (so a
    /// hanging feed does not hold back the others); returns the ids that failed, nil when the
    /// cycle itself failed.
    public typealias SyncAction = @Sendable (_ feeds: Set<String>, _ done: @escaping @Sendable (String, Bool) -> Void) async -> Set<String>?

    public let queue = DispatchQueue(label: "plansync.scheduler")
    /// Every decision; read and changed on `queue` only.
    private var planner = SchedulePlanner()
    /// The one timer, and the time it is set for (nil: disarmed).
    private var timer: DispatchSourceTimer?
    private var armedFor: Double?
    private var flushScheduled = false
    private var stopped = false
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
    public init(
        now: @escaping @Sendable () -> Date = { Date() }, uptime: @escaping @Sendable () -> Double = Scheduler.monotonicSeconds,
        onCycleEnd: @escaping @Sendable () -> Void = {}, action: @escaping SyncAction
    ) {
        self.now = now
        self.uptime = uptime
        self.onCycleEnd = onCycleEnd
        self.action = action
    }

    /// Sets the feeds to run (on start and after a reload): new feeds are scheduled from the
    /// mirror's state, removed ones cancelled, changed ones rescheduled.
    public func configure(_ configs: [FeedConfig], states: [String: FeedState]) {
        queue.sync {
            planner.configure(configs, states: states, wallNow: now(), now: uptime())
            rearm()
        }
    }

    /// Runs these feeds (all when nil) in the next cycle, unless they are already running or
    /// queued: then the request joins that cycle. However many requests arrive while a cycle
    /// runs or waits, they start no more cycles (200 `POST /v1/sync` once started 60).
    @discardableResult
    public func trigger(_ ids: Set<String>? = nil) -> Triggered {
        queue.sync { [self] in
            guard !stopped else { return Triggered() }
            let result = planner.trigger(ids)
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
            planner.clearPending()
        }
    }

    /// True while any sync is in flight.
    public var isBusy: Bool { queue.sync { !planner.running.isEmpty } }

    /// The schedule of every feed, for the status socket (`nextDue` on the wall clock).
    public var snapshot: [String: FeedSchedule] {
        queue.sync {
            let wall = now(), mono = uptime()
            return planner.schedules.mapValues { schedule in
                var copy = schedule
                copy.nextDue = schedule.due.map { wall.addingTimeInterval($0 - mono) }
                return copy
            }
        }
    }

    /// Seconds since a running cycle last made progress (a cycle started or a feed finished);
    /// nil when no cycle runs. Read from any thread without waiting for the queue.
    public var secondsWithoutProgress: Double? {
        progressAt.withLock { $0 }.map { uptime() - $0 }
    }

    /// When the timer fires next in `uptime` seconds (nil: nothing waits), for tests and diagnostics.
    var armedDeadline: Double? { queue.sync { armedFor } }

    /// The timer's deadline, every schedule and the feeds waiting for the next cycle, read together.
    var timerAndSchedules: (armed: Double?, schedules: [String: FeedSchedule], pending: Set<String>) {
        queue.sync { (armedFor, planner.schedules, planner.pending) }
    }

    /// CLOCK_MONOTONIC in seconds (what Dispatch timers follow).
    public static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    /// Seconds until the next run: the interval plus jitter, or a backoff after failures.
    func delay(for feed: FeedConfig, failures: Int) -> Double {
        planner.delay(for: feed, failures: failures)
    }

    /// Sets the timer for the planner's next wake-up. O(feeds), run once per configure,
    /// trigger, timer event and batch of finished feeds.
    private func rearm() {
        guard !stopped else { return }
        let earliest = planner.nextWake
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

    /// The timer went off: every feed due by now joins the next cycle.
    private func fire() {
        armedFor = nil
        guard !stopped else { return }
        if planner.timerFired(at: uptime()) { scheduleFlush() }
        rearm()
    }

    /// Coalesces feeds that fall due together into one cycle (20 ms).
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        queue.asyncAfter(deadline: .now() + .milliseconds(20)) { [self] in
            flushScheduled = false
            guard !stopped, let (cycle, ready) = planner.startCycle() else { return }
            let started = uptime()
            progressAt.withLock { $0 = started }
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
        let at = uptime()
        var again = false
        for (id, cycle, failed) in batch { again = planner.finish(id, cycle: cycle, failed: failed, at: at) || again }
        if again, !stopped { scheduleFlush() }
        rearm()
    }

    /// The end of a cycle: its feeds not reported one by one are finished here.
    private func finish(_ ids: Set<String>, cycle: Int, failed: Set<String>?) {
        let at = uptime()
        if planner.endCycle(cycle, feeds: ids, failed: failed, at: at), !stopped { scheduleFlush() }
        let busy = !planner.running.isEmpty
        progressAt.withLock { $0 = busy ? at : nil }
        rearm()
        onCycleEnd()
    }
}
