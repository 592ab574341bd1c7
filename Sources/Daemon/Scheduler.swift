import Configuration
import Foundation
import Mirror

/// When each feed runs next: every `interval` plus random `jitter`, continuing from the
/// mirror's last fetch times after a restart, backing off exponentially (up to the interval)
/// after failures, never running two syncs of one feed at once. One serial queue owns all
/// state; each feed has a one-shot Dispatch timer, so an idle daemon sleeps.
public final class Scheduler: @unchecked Sendable {
    public struct FeedSchedule: Sendable {
        public var nextDue: Date?
        public var running: Bool
        public var failures: Int
    }

    /// Runs a sync of these feeds, calling `done(id, succeeded)` as each feed finishes (so a
    /// hanging feed does not hold back the others); returns the ids that failed, nil when the
    /// cycle itself failed.
    public typealias SyncAction = @Sendable (_ feeds: Set<String>, _ done: @escaping @Sendable (String, Bool) -> Void) async -> Set<String>?

    public let queue = DispatchQueue(label: "plansync.scheduler")
    private var feeds: [String: FeedConfig] = [:]
    private var timers: [String: DispatchSourceTimer] = [:]
    private var schedules: [String: FeedSchedule] = [:]
    private var pending: Set<String> = []
    private var flushScheduled = false
    private var stopped = false
    private var inFlight = 0
    private let action: SyncAction
    private let onCycleEnd: @Sendable () -> Void
    private let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }, onCycleEnd: @escaping @Sendable () -> Void = {},
                action: @escaping SyncAction) {
        self.now = now
        self.onCycleEnd = onCycleEnd
        self.action = action
    }

    /// Sets the feeds to run (on start and after a reload): new feeds are scheduled from the
    /// mirror's state, removed ones cancelled, changed ones rescheduled.
    public func configure(_ configs: [FeedConfig], states: [String: FeedState]) {
        queue.sync {
            let ids = Set(configs.map(\.id))
            for id in feeds.keys where !ids.contains(id) {
                timers.removeValue(forKey: id)?.cancel()
                schedules.removeValue(forKey: id)
                pending.remove(id)
            }
            for feed in configs {
                let old = feeds[feed.id]
                feeds[feed.id] = feed
                if old == feed, timers[feed.id] != nil { continue }
                let state = states[feed.id]
                var schedule = schedules[feed.id] ?? FeedSchedule(nextDue: nil, running: false, failures: state?.consecutiveFailures ?? 0)
                let current = now()
                var due = current
                if let last = state?.lastAttemptAt {
                    due = last.addingTimeInterval(delay(for: feed, failures: schedule.failures))
                }
                if due < current { due = current.addingTimeInterval(Double.random(in: 0...min(feed.settings.jitter, 1))) }
                schedule.nextDue = due
                schedules[feed.id] = schedule
                if !schedule.running { arm(feed.id, at: due) }
            }
        }
    }

    /// Runs these feeds (all when nil) as soon as they are not already running.
    public func trigger(_ ids: Set<String>? = nil) {
        queue.async { [self] in
            guard !stopped else { return }
            for id in ids ?? Set(feeds.keys) where feeds[id] != nil {
                timers.removeValue(forKey: id)?.cancel()
                pending.insert(id)
            }
            scheduleFlush()
        }
    }

    /// Stops scheduling; running syncs finish on their own.
    public func stop() {
        queue.sync {
            stopped = true
            for timer in timers.values { timer.cancel() }
            timers.removeAll()
            pending.removeAll()
        }
    }

    /// True while any sync is in flight.
    public var isBusy: Bool { queue.sync { inFlight > 0 } }

    /// The schedule of every feed, for the status socket.
    public var snapshot: [String: FeedSchedule] { queue.sync { schedules } }

    /// Seconds until the next run: the interval plus jitter, or a backoff after failures.
    func delay(for feed: FeedConfig, failures: Int) -> Double {
        let interval = feed.settings.interval
        if failures > 0 {
            let base = max(0.5, min(60, interval / 16))
            return min(interval, base * pow(2, Double(failures - 1)))
        }
        return interval + Double.random(in: 0...max(0, feed.settings.jitter))
    }

    private func arm(_ id: String, at date: Date) {
        timers.removeValue(forKey: id)?.cancel()
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + max(0, date.timeIntervalSince(now())), leeway: .milliseconds(50))
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            self.timers.removeValue(forKey: id)?.cancel()
            self.pending.insert(id)
            self.scheduleFlush()
        }
        timers[id] = timer
        timer.resume()
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
            for id in ready { schedules[id]?.running = true }
            inFlight += 1
            let action = self.action
            Task {
                let failed = await action(ready) { id, succeeded in
                    self.queue.async { self.finishOne(id, failed: !succeeded) }
                }
                self.queue.async { self.finish(ready, failed: failed) }
            }
        }
    }

    /// The end of a cycle: feeds not reported one by one are finished here.
    private func finish(_ ids: Set<String>, failed: Set<String>?) {
        inFlight -= 1
        for id in ids where schedules[id]?.running == true {
            finishOne(id, failed: failed?.contains(id) ?? true)
        }
        onCycleEnd()
    }

    /// One feed is done: reschedule it (backing off after a failure).
    private func finishOne(_ id: String, failed didFail: Bool) {
        guard var schedule = schedules[id], schedule.running, let feed = feeds[id] else { return }
        schedule.running = false
        schedule.failures = didFail ? schedule.failures + 1 : 0
        let due = now().addingTimeInterval(delay(for: feed, failures: schedule.failures))
        schedule.nextDue = due
        schedules[id] = schedule
        if !stopped {
            if pending.contains(id) { scheduleFlush() } else { arm(id, at: due) }
        }
    }
}
