import Configuration
import FeedFormats
import Fetch
import Foundation
import Logging
import Mirror
import PlanCore
import Synchronization
import Support

/// What one sync did to one feed.
public struct FeedReport: Sendable {
    public var id: String
    /// How the feed's fetch ended (`ok`, `not_modified`, `timeout`, ..., `parse_error`).
    public var outcome: FetchOutcome
    public var httpStatus: Int?
    public var bytes: Int
    public var durationMs: Double
    public var counts: ReconcileCounts
    public var message: String
    public var url: String

    /// The feed gave a usable answer.
    public var succeeded: Bool { outcome.isSuccess }

    public var json: JSONValue {
        .object([
            ("id", .string(id)), ("outcome", .string(outcome.rawValue)), ("http_status", httpStatus.map(JSONValue.int) ?? .null),
            ("bytes", .int(bytes)), ("duration_ms", .number(DecimalText.fixed(durationMs, digits: 1))),
            ("inserted", .int(counts.inserted)), ("revised", .int(counts.revised)), ("unchanged", .int(counts.unchanged)),
            ("skipped", .int(counts.skipped)), ("url", .string(url)), ("message", .string(message)),
        ])
    }
}

/// The result of one sync cycle.
public struct SyncReport: Sendable {
    public var feeds: [FeedReport]
    /// The plans judged again in this cycle (their verdicts are in the mirror); the others'
    /// stored verdicts did not need judging again.
    public var rejudged: [String]
    /// The plans whose stored verdicts changed in the cycle.
    public var verdictsChanged: [String] = []
    /// The plans the cycle's alert events concern.
    public var eventPlans: Set<String> = []
    /// The `seq` of each alert event the cycle recorded (read them from the mirror).
    public var eventSeqs: Range<Int>
    /// Set when the alert log could not be written (the events are kept for next time).
    public var alertLogError: String?
    /// Wall time of each phase of the cycle, in order: prepare, fetch, flush, judge, alert_log.
    public var phaseSeconds: [(phase: String, seconds: Double)] = []

    public var allSucceeded: Bool { feeds.allSatisfy(\.succeeded) && alertLogError == nil }
}

/// One sync cycle: fetch feeds concurrently, reconcile each into the mirror in its own
/// transaction, judge every plan, record alert events, then write them to the alert log.
public final class Syncer: Sendable {
    public let config: DaemonConfig
    public let mirror: Mirror
    let engine: FetchEngine
    let alertLog: AlertLog
    /// One delivery to the alert log at a time in the process (see `deliverEvents`).
    static let deliveryGate = AsyncGate()
    /// Every destination of alert events, the alert log first; each has its own cursor.
    let sinks: [any AlertSink]
    let logger: Logger
    /// Nice value of the threads that parse and store bodies of 1 MiB or more (the daemon uses
    /// 19, so a million-row feed gives way to status socket readers and to anything else on
    /// the machine; `plansync sync` uses 0 and runs at the caller's priority).
    let parseNiceness: Int32
    /// Threads that parse mid-sized bodies when `parseNiceness` is set (one per core, shared
    /// by every Syncer of the process: a reload makes a new Syncer, not new threads).
    static let lowPriorityParsers = LowPriorityPool(
        threads: ProcessInfo.processInfo.activeProcessorCount, niceness: DaemonRunner.parseNiceness)
    /// Each feed's parse options (its plan's indicator codes as a set), made once per configuration.
    let parseOptions: [String: ParseOptions]
    /// Bytes of bodies being parsed or waiting for the writer (`queuedBodyBudget`).
    let queued = ByteBudget(limit: Syncer.queuedBodyBudget)
    /// When this syncer last pruned old fetch rows.
    let lastPrune = Locked<Date?>(nil)
    /// Mirroring the configuration, started by `prepare()` or the first cycle, awaited by every cycle.
    private let configured = Mutex<Task<Void, any Error>?>(nil)
    public static let userAgent = "plansync/\(PlansyncVersion.string)"

    /// - Parameter sinks: destinations of alert events besides the alert log.
    public init(
        config: DaemonConfig, mirror: Mirror, engine: FetchEngine, logger: Logger, parseNiceness: Int32 = 0,
        sinks: [any AlertSink] = []
    ) {
        self.config = config
        self.parseNiceness = parseNiceness
        self.mirror = mirror
        self.engine = engine
        self.alertLog = AlertLog(path: config.alertLog)
        self.sinks = [alertLog] + sinks
        self.logger = logger
        // One indicator set per plan, shared by its feeds' options.
        var codes: [String: Set<String>] = [:]
        for plan in config.plans { codes[plan.id] = Set(plan.indicators.map(\.code)) }
        parseOptions = Dictionary(
            config.feeds.map { feed in
                var options = feed.parseOptions(plan: nil)
                options.indicators = codes[feed.plan] ?? []
                return (feed.id, options)
            }, uniquingKeysWith: { a, _ in a })
    }

    /// The parse options of `feed`.
    func options(_ feed: FeedConfig) -> ParseOptions {
        parseOptions[feed.id] ?? feed.parseOptions(plan: config.plan(feed.plan))
    }

    /// Runs one cycle over `only` these feeds (all when nil).
    /// - Parameters:
    ///   - rejudge: judge every plan, not only those whose inputs changed.
    ///   - feedDone: called as each feed's fetch and reconcile finish, before judging.
    public func run(
        only: Set<String>? = nil, rejudge: Bool = false, now: @escaping @Sendable () -> Date = { Date() },
        feedDone: @escaping @Sendable (FeedReport) -> Void = { _ in }
    ) async throws(MirrorError) -> SyncReport {
        let config = self.config
        let clock = ContinuousClock(), started = clock.now
        var phases: [(String, ContinuousClock.Instant)] = []
        try await mirrorConfigurationOnce(now: now())
        let states = try await mirror.feedStates()
        phases.append(("prepare", clock.now))
        let selected = config.feeds.filter { only?.contains($0.id) ?? true }
        let storedCounts = Locked<[String: ReconcileCounts]>([:])
        var (reports, firstError) = await fetchAndReconcile(
            selected, states: states, now: now,
            storedCounts: storedCounts, feedDone: feedDone)
        phases.append(("fetch", clock.now))
        // Small feeds' observations and the fetch records of unchanged and failed feeds were
        // queued without waiting: all committed now (a database failure surfaces here).
        do throws(MirrorError) { try await mirror.flushRecords() } catch { firstError = firstError ?? error }
        phases.append(("flush", clock.now))
        let counts = storedCounts.current
        for index in reports.indices {
            if let stored = counts[reports[index].id] { reports[index].counts = stored }
            let report = reports[index]
            guard report.succeeded else { continue }
            logger.info(
                "feed synced",
                metadata: [
                    "feed.id": "\(report.id)", "fetch.outcome": "\(report.outcome)", "fetch.url": "\(report.url)",
                    "fetch.http_status": "\(report.httpStatus.map(String.init) ?? "-")",
                    "sync.inserted": "\(report.counts.inserted)", "sync.revised": "\(report.counts.revised)",
                    "sync.unchanged": "\(report.counts.unchanged)", "sync.skipped": "\(report.counts.skipped)",
                ])
        }
        phases.append(("log", clock.now))
        if let firstError { throw firstError }
        let order = Dictionary(selected.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        reports.sort { (order[$0.id] ?? 0) < (order[$1.id] ?? 0) }
        let judgement = try await mirror.judge(
            plans: config.plans,
            feeds: config.feeds.map {
                FeedPolicy(
                    id: $0.id, plan: $0.plan, priority: $0.priority,
                    failingAfter: $0.settings.failingAfter, staleAfter: $0.settings.staleAfter)
            },
            sinks: config.sinks.map(\.id), now: now(), full: rejudge, collect: false)
        // Each event in the journal — up to a few hundred; a province's first sync records
        // hundreds of thousands, which the alert log and sinks carry, and the journal counts.
        let recorded = judgement.eventSeqs
        if recorded.count <= Syncer.eventsLoggedEach {
            for (seq, key, event) in try await mirror.eventKeys(in: recorded) {
                logger.notice("alert event", metadata: ["alert.seq": "\(seq)", "alert.key": "\(key)", "alert.event": "\(event)"])
            }
        } else {
            logger.notice(
                "alert events",
                metadata: ["alert.count": "\(recorded.count)", "alert.first_seq": "\(recorded.lowerBound)", "alert.last_seq": "\(recorded.upperBound - 1)"])
        }
        phases.append(("judge", clock.now))
        FaultPoint.fromEnvironment?.trigger(.beforeAlertLog)
        let logError = await deliverEvents()
        phases.append(("alert_log", clock.now))
        try await pruneFetchesDaily(now: now())
        var previous = started
        var timings: Logger.Metadata = ["feeds": "\(selected.count)"]
        var phaseSeconds: [(phase: String, seconds: Double)] = []
        for (name, instant) in phases {
            let seconds = Double((instant - previous) / .microseconds(1)) / 1e6
            timings["ms.\(name)"] = "\(DecimalText.fixed(seconds * 1000, digits: 1))"
            phaseSeconds.append((name, seconds))
            previous = instant
        }
        logger.debug("cycle timings", metadata: timings)
        var report = SyncReport(
            feeds: reports, rejudged: judgement.rejudged, eventSeqs: judgement.eventSeqs, alertLogError: logError)
        report.phaseSeconds = phaseSeconds
        report.verdictsChanged = judgement.changed
        report.eventPlans = judgement.eventPlans
        return report
    }

    /// Writes the events the alert log (and any in-process sink) lacks, each sink from its own
    /// cursor, one delivery at a time (a cycle's and an acknowledgement's may overlap); returns
    /// the alert log's error, if it could not be written.
    public func deliverEvents() async -> String? {
        await Syncer.deliveryGate.run {
            var logError: String?
            for sink in sinks {
                do {
                    try await SinkDelivery.run(sink, mirror: mirror)
                } catch {
                    if sink.id == alertLog.id {
                        logError = "\(error)"
                        logger.error(
                            "cannot write the alert log; events are kept and written later",
                            metadata: ["alert_log.path": "\(config.alertLog)", "error": "\(error)"])
                    } else {
                        logger.error(
                            "cannot deliver alert events; they are kept and offered again",
                            metadata: ["sink": "\(sink.id)", "error": "\(error)"])
                    }
                }
            }
            return logError
        }
    }

    /// Deletes fetch rows older than `fetch_retention` that nothing points at, at most once a
    /// day per process (the first cycle of a `plansync sync` or of a daemon does it).
    func pruneFetchesDaily(now: Date) async throws(MirrorError) {
        let due = lastPrune.withLock { last -> Bool in
            guard last.map({ now.timeIntervalSince($0) >= 86400 }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        let removed = try await mirror.pruneFetches(before: now.addingTimeInterval(-config.fetchRetention))
        if removed > 0 {
            logger.info("old fetch rows pruned", metadata: ["fetch.pruned": "\(removed)", "fetch.retention": "\(DurationText.format(config.fetchRetention))"])
        }
    }

    /// Mirrors the configuration now: the daemon does this at start and after a reload, so
    /// the status socket lists the feeds before the first cycle and that cycle does not wait
    /// for it. A failure is left to the next cycle, which retries and reports it.
    public func prepare(now: Date = Date()) async {
        do throws(MirrorError) { try await mirrorConfigurationOnce(now: now) } catch {
            logger.debug("mirroring the configuration failed; the next cycle retries", metadata: ["error": "\(error)"])
        }
    }

    /// Copies plans and feeds into the mirror once per configuration (this syncer lives until
    /// the next reload), not on every cycle; a failed attempt is retried by the next cycle.
    func mirrorConfigurationOnce(now: Date) async throws(MirrorError) {
        let config = self.config, mirror = self.mirror
        let task = configured.withLock { existing in
            if let existing { return existing }
            let task = Task {
                try await mirror.mirrorConfiguration(
                    plans: zip(config.plans, config.planFiles).map { ($0, $1) },
                    feeds: config.feeds.map {
                        FeedDescription(
                            id: $0.id, plan: $0.plan, url: $0.displayURL, format: $0.format.rawValue,
                            priority: $0.priority, interval: $0.settings.interval)
                    },
                    now: now)
            }
            existing = task
            return task
        }
        do {
            try await task.value
        } catch {
            configured.withLock { if $0 == task { $0 = nil } }
            throw (error as? MirrorError) ?? MirrorError(path: mirror.path, message: "\(error)")
        }
    }

    /// A cycle that records more alert events than this logs their count, not each one.
    static let eventsLoggedEach = 200

    /// How many bytes of bodies may be parsed or wait, parsed, for the writer at once. A
    /// province's first sync fetches thousands of feeds faster than one writer stores them:
    /// unbounded, their parsed rows piled up ahead of it (3.1 GiB for 10M rows). About 8 MiB
    /// of CSV is 250,000 rows, a few seconds of the writer's work.
    static let queuedBodyBudget = 8 << 20

    /// Bodies smaller than this are parsed on the fetch engine's queue as they complete (a few
    /// microseconds for the typical feed); larger ones on a Dispatch worker, 1 MiB and more
    /// streamed into the mirror on threads of their own.
    static let inlineParseLimit = 32 << 10

    /// Fetches `feeds` and reconciles each as its fetch completes, driven by the engine's
    /// completions rather than a task per feed (the task, its continuation and the thread hops
    /// cost more than fetching a small feed). Failures of a feed are recorded, never thrown;
    /// returns the reports in completion order and the first database error.
    func fetchAndReconcile(
        _ feeds: [FeedConfig], states: [String: FeedState], now: @escaping @Sendable () -> Date,
        storedCounts: Locked<[String: ReconcileCounts]>,
        feedDone: @escaping @Sendable (FeedReport) -> Void
    ) async -> (reports: [FeedReport], error: MirrorError?) {
        guard !feeds.isEmpty else { return ([], nil) }
        return await withCheckedContinuation { continuation in
            let cycle = CycleCollector(count: feeds.count) { continuation.resume(returning: $0) }
            for feed in feeds {
                let state = states[feed.id]
                let started = now()
                engine.fetch(request(for: feed, state: state)) { [self] result in
                    finishFeed(feed, state: state, result: result, started: started, now: now, storedCounts: storedCounts) { outcome in
                        if case .success(let report) = outcome { feedDone(report) }
                        cycle.add(outcome)
                    }
                }
            }
        }
    }

    /// The fetch request for one feed: its settings and the validators of its last fetch.
    func request(for feed: FeedConfig, state: FeedState?) -> FetchRequest {
        var request = FetchRequest(id: feed.id, url: feed.url)
        request.etag = state?.etag
        request.lastModified = state?.lastModified
        request.timeout = feed.settings.timeout
        request.connectTimeout = feed.settings.connectTimeout
        request.lowSpeedTime = min(feed.settings.timeout, 30)
        request.maxBytes = feed.settings.maxBytes
        request.retries = feed.settings.retries
        request.retryMaxDelay = min(60, max(1, feed.settings.interval / 4))
        request.caFile = feed.caFile
        request.allowLinkLocal = feed.settings.allowLinkLocal
        request.userAgent = Syncer.userAgent
        request.largeBodyNiceness = parseNiceness
        return request
    }

    /// Handles one completed fetch (on the engine's queue, or the thread that hashed a large
    /// body): records it, parses and stores a new body, and calls `done` exactly once.
    /// Writes are queued for the cycle's next group commit, except large bodies, which are
    /// streamed into their own transaction. `done` fails only with a database error.
    func finishFeed(
        _ feed: FeedConfig, state: FeedState?, result: FetchResult, started: Date, now: @Sendable () -> Date,
        storedCounts: Locked<[String: ReconcileCounts]>,
        done: @escaping @Sendable (Result<FeedReport, MirrorError>) -> Void
    ) {
        var record = FetchRecord(
            feed: feed.id, startedAt: started, finishedAt: now(), outcome: result.outcome,
            httpStatus: result.httpStatus, bytes: result.bytes, durationMs: result.elapsed * 1000,
            connectMs: result.timings.connect * 1000, firstByteMs: result.timings.firstByte * 1000,
            attempts: result.attempts, url: result.effectiveURL, etag: result.etag, lastModified: result.lastModified,
            bodySHA256: result.sha256, contentType: result.contentType)
        var report = FeedReport(
            id: feed.id, outcome: result.outcome, httpStatus: result.httpStatus,
            bytes: result.bytes, durationMs: result.elapsed * 1000, counts: ReconcileCounts(),
            message: result.message, url: feed.displayURL)
        switch result.outcome {
        case .ok where result.sha256 != nil && result.sha256 == state?.bodySHA256:
            record.outcome = .notModified
            record.error = nil
            report.outcome = record.outcome
            report.message = "body unchanged (same SHA-256 as the last fetch)"
            mirror.recordLater(record, failed: false)
            done(.success(report))
        case .ok where result.body.count >= 1 << 20:
            Task { [record, report] in done(await reconcileLarge(feed, result: result, record: record, report: report)) }
        case .ok where result.body.count >= Syncer.inlineParseLimit:
            // Waits here, holding up the engine's next completions, while the writer is
            // behind by more than the budget.
            queued.acquire(result.body.count)
            let job: @Sendable () -> Void = { [self, record, report] in
                done(.success(parseAndStore(feed, result: result, record: record, report: report, storedCounts: storedCounts)))
            }
            // In the daemon, on the low-priority parsers: a cycle of thousands of feeds keeps
            // both cores busy, and the socket's readers come first.
            if parseNiceness > 0 { Syncer.lowPriorityParsers.async(job) } else { DispatchQueue.global().async(execute: job) }
        case .ok:
            queued.acquire(result.body.count)
            done(.success(parseAndStore(feed, result: result, record: record, report: report, storedCounts: storedCounts)))
        case .notModified:
            mirror.recordLater(record, failed: false)
            done(.success(report))
        case .dns, .connect, .timeout, .tls, .tooLarge, .httpStatus, .redirects, .protocolError, .truncated, .refusedScheme,
            .refusedAddress, .parseError:
            record.error = result.message
            mirror.recordLater(record, failed: true)
            logger.warning("fetch failed", metadata: Syncer.metadata(feed, result).merging(["error": "\(result.message)"]) { $1 })
            done(.success(report))
        }
    }

    /// Parses a small body here, before the write, so feeds finishing together parse in
    /// parallel and the single writer only stores. The write is queued without waiting; its
    /// counts arrive in `storedCounts`. Returns the body's bytes to `queued` once stored.
    func parseAndStore(
        _ feed: FeedConfig, result: FetchResult, record: FetchRecord, report: FeedReport,
        storedCounts: Locked<[String: ReconcileCounts]>
    ) -> FeedReport {
        let parsed: ParsedFeed
        let bytes = result.body.count, queued = self.queued
        do throws(FeedParseError) {
            parsed = try FeedParser.parse(result.body, format: feed.format, options: options(feed))
        } catch {
            queued.release(bytes)
            return rejected(feed, result: result, record: record, report: report, error: error)
        }
        let id = feed.id
        mirror.reconcileLater(
            record, plan: feed.plan, observations: parsed.observations, skipped: parsed.skipped,
            done: { counts in storedCounts.withLock { $0[id] = counts } }, finished: { queued.release(bytes) })
        for warning in parsed.warnings { logger.warning("\(warning)", metadata: Syncer.metadata(feed, result)) }
        return report
    }

    /// A body of 1 MiB or more: parsed inside the mirror's transaction, streaming observations
    /// into it, so a body that fails halfway rolls back and never sits in memory as a list.
    /// The parser runs on one thread while another stores, both at `parseNiceness` (the
    /// writer's queue waits), so a large sync gives way to the status socket's readers.
    func reconcileLarge(
        _ feed: FeedConfig, result: FetchResult, record: FetchRecord,
        report: FeedReport
    ) async -> Result<FeedReport, MirrorError> {
        let options = options(feed)
        let body = result.body, format = feed.format, niceness = parseNiceness
        let summary = Locked<[String]>([])
        let outcome = await mirror.reconcile(record, plan: feed.plan) { writer in
            let parsed = try Syncer.onThread(niceness: niceness) { () throws(FeedParseError) -> ParsedFeed in
                try PipelinedParser.parse(body, format: format, options: options, niceness: niceness) { writer.write($0) }
            }
            summary.withLock { $0 = parsed.warnings.lines }
            return parsed.skipped
        }
        switch outcome {
        case .success(let counts):
            for warning in summary.current { logger.warning("\(warning)", metadata: Syncer.metadata(feed, result)) }
            var report = report
            report.counts = counts
            return .success(report)
        case .failure(.database(let error)):
            return .failure(error)
        case .failure(.producer(let error)):
            return .success(rejected(feed, result: result, record: record, report: report, error: error))
        }
    }

    /// A body that does not parse: recorded as a failed fetch (`parse_error`) and logged.
    func rejected(_ feed: FeedConfig, result: FetchResult, record: FetchRecord, report: FeedReport, error: any Error) -> FeedReport {
        var message = "does not parse as \(feed.format.rawValue): \((error as? FeedParseError)?.description ?? "\(error)")"
        if let type = result.contentType, type.lowercased().contains("html") { message += " (the server sent \(type): an error page?)" }
        var record = record, report = report
        record.outcome = .parseError
        record.error = message
        report.outcome = .parseError
        report.message = message
        mirror.recordLater(record, failed: true)
        logger.warning("feed body rejected", metadata: Syncer.metadata(feed, result).merging(["error": "\(message)"]) { $1 })
        return report
    }

    /// Log metadata naming a feed and its fetch (built only when something is logged).
    static func metadata(_ feed: FeedConfig, _ result: FetchResult) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "feed.id": "\(feed.id)", "fetch.outcome": "\(result.outcome.rawValue)",
            "fetch.url": "\(result.effectiveURL)",
        ]
        if let status = result.httpStatus { metadata["fetch.http_status"] = "\(status)" }
        return metadata
    }
}

/// Gathers the outcomes of one cycle's feeds, arriving on any thread, and hands them over
/// once the last is in.
private final class CycleCollector: Sendable {
    private struct State {
        var reports: [FeedReport] = []
        var remaining: Int
        var error: MirrorError?
    }
    private let state: Mutex<State>
    private let whenDone: @Sendable (([FeedReport], MirrorError?)) -> Void

    init(count: Int, whenDone: @escaping @Sendable (([FeedReport], MirrorError?)) -> Void) {
        state = Mutex(State(remaining: count))
        self.whenDone = whenDone
        state.withLock { $0.reports.reserveCapacity(count) }
    }

    func add(_ outcome: Result<FeedReport, MirrorError>) {
        let finished = state.withLock { state -> ([FeedReport], MirrorError?)? in
            switch outcome {
            case .success(let report): state.reports.append(report)
            case .failure(let error): state.error = state.error ?? error
            }
            state.remaining -= 1
            return state.remaining == 0 ? (state.reports, state.error) : nil
        }
        if let finished { whenDone(finished) }
    }
}

extension Syncer {
    /// Runs `body` on a thread of its own at `niceness` (0: unchanged) and waits for it. Nice
    /// values are per thread on Linux and cannot be lowered again without privileges, hence a
    /// fresh thread rather than one of Dispatch's shared workers.
    static func onThread<T>(niceness: Int32, _ body: @escaping () throws(FeedParseError) -> T) throws(FeedParseError) -> T {
        guard niceness > 0 else { return try body() }
        let box = ThreadBox(body)
        let done = DispatchSemaphore(value: 0)
        LowPriorityThread.start(niceness: niceness) {
            box.run()
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}

/// Carries a closure and its result to another thread and back; the caller waits for the
/// thread, so the two never touch it at once.
private final class ThreadBox<T>: @unchecked Sendable {
    let body: () throws(FeedParseError) -> T
    var result: Result<T, FeedParseError>?
    init(_ body: @escaping () throws(FeedParseError) -> T) { self.body = body }
    func run() {
        do throws(FeedParseError) { result = .success(try body()) } catch { result = .failure(error) }
    }
}

/// The version of this build.
public enum PlansyncVersion {
    public static let string = "0.1.0"
}

/// A budget of bytes that threads take before work and give back after it: `acquire` waits
/// while the work in progress exceeds the limit (but never when nothing is in progress, so a
/// body larger than the limit still goes through, alone).
final class ByteBudget: @unchecked Sendable {
    private let condition = NSCondition()
    private var inUse = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Takes `bytes`, first waiting until they fit (or nothing else is in progress).
    func acquire(_ bytes: Int) {
        condition.lock()
        defer { condition.unlock() }
        while inUse > 0 && inUse + bytes > limit { condition.wait() }
        inUse += bytes
    }

    /// Gives back what `acquire` took.
    func release(_ bytes: Int) {
        condition.lock()
        inUse -= bytes
        condition.broadcast()
        condition.unlock()
    }
}
