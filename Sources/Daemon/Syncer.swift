import Configuration
import FeedFormats
import Fetch
import Foundation
import Logging
import Mirror
import PlanCore
import Synchronization

/// What one sync did to one feed.
public struct FeedReport: Sendable {
    public var id: String
    /// A fetch outcome (`ok`, `not_modified`, `timeout`, ...) or `parse_error`.
    public var outcome: String
    public var httpStatus: Int?
    public var bytes: Int
    public var durationMs: Double
    public var counts: ReconcileCounts
    public var message: String
    public var url: String

    /// The feed gave a usable answer.
    public var succeeded: Bool { outcome == "ok" || outcome == "not_modified" }

    public var json: JSONValue {
        .object([
            ("id", .string(id)), ("outcome", .string(outcome)), ("http_status", httpStatus.map(JSONValue.int) ?? .null),
            ("bytes", .int(bytes)), ("duration_ms", .number(DecimalText.fixed(durationMs, digits: 1))),
            ("inserted", .int(counts.inserted)), ("revised", .int(counts.revised)), ("unchanged", .int(counts.unchanged)),
            ("skipped", .int(counts.skipped)), ("url", .string(url)), ("message", .string(message)),
        ])
    }
}

/// The result of one sync cycle.
public struct SyncReport: Sendable {
    public var feeds: [FeedReport]
    public var verdicts: [Verdict]
    public var events: [StoredEvent]
    /// Set when the alert log could not be written (the events are kept for next time).
    public var alertLogError: String?

    public var allSucceeded: Bool { feeds.allSatisfy(\.succeeded) && alertLogError == nil }
}

/// One sync cycle: fetch feeds concurrently, reconcile each into the mirror in its own
/// transaction, judge every plan, record alert events, then write them to the alert log.
public final class Syncer: Sendable {
    public let config: DaemonConfig
    public let mirror: Mirror
    let engine: FetchEngine
    let alertLog: AlertLog
    let logger: Logger
    /// Nice value of the threads that parse and store bodies of 1 MiB or more (the daemon uses
    /// 19, so a million-row feed gives way to status socket readers and to anything else on
    /// the machine; `plansync sync` uses 0 and runs at the caller's priority).
    let parseNiceness: Int32
    /// Mirroring the configuration, started by the first cycle and awaited by every cycle.
    private let configured = Mutex<Task<Void, any Error>?>(nil)
    public static let userAgent = "plansync/\(PlansyncVersion.string)"

    public init(config: DaemonConfig, mirror: Mirror, engine: FetchEngine, logger: Logger, parseNiceness: Int32 = 0) {
        self.config = config
        self.parseNiceness = parseNiceness
        self.mirror = mirror
        self.engine = engine
        self.alertLog = AlertLog(path: config.alertLog)
        self.logger = logger
    }

    /// Runs one cycle over `only` these feeds (all when nil).
    /// - Parameter feedDone: called as each feed's fetch and reconcile finish, before judging.
    public func run(only: Set<String>? = nil, now: @escaping @Sendable () -> Date = { Date() },
                    feedDone: @escaping @Sendable (FeedReport) -> Void = { _ in }) async throws(MirrorError) -> SyncReport {
        let config = self.config
        let clock = ContinuousClock(), started = clock.now
        var phases: [(String, ContinuousClock.Instant)] = []
        try await mirrorConfigurationOnce(now: now())
        let states = try await mirror.feedStates()
        phases.append(("prepare", clock.now))
        let selected = config.feeds.filter { only?.contains($0.id) ?? true }
        var reports: [FeedReport] = []
        var firstError: MirrorError?
        let storedCounts = Locked<[String: ReconcileCounts]>([:])
        await withTaskGroup(of: Result<FeedReport, MirrorError>.self) { group in
            for feed in selected {
                group.addTask { [self] in
                    do throws(MirrorError) {
                        return .success(try await syncFeed(feed, state: states[feed.id], now: now, storedCounts: storedCounts))
                    }
                    catch { return .failure(error) }
                }
            }
            for await result in group {
                switch result {
                case .success(let report):
                    reports.append(report)
                    feedDone(report)
                case .failure(let error): firstError = firstError ?? error
                }
            }
        }
        // Small feeds' observations and the fetch records of unchanged and failed feeds were
        // queued without waiting: all committed now (a database failure surfaces here).
        do throws(MirrorError) { try await mirror.flushRecords() } catch { firstError = firstError ?? error }
        let counts = storedCounts.current
        for index in reports.indices {
            if let stored = counts[reports[index].id] { reports[index].counts = stored }
            let report = reports[index]
            guard report.succeeded else { continue }
            logger.info("feed synced", metadata: [
                "feed.id": "\(report.id)", "fetch.outcome": "\(report.outcome)", "fetch.url": "\(report.url)",
                "fetch.http_status": "\(report.httpStatus.map(String.init) ?? "-")",
                "sync.inserted": "\(report.counts.inserted)", "sync.revised": "\(report.counts.revised)",
                "sync.unchanged": "\(report.counts.unchanged)", "sync.skipped": "\(report.counts.skipped)",
            ])
        }
        phases.append(("fetch_reconcile", clock.now))
        if let firstError { throw firstError }
        let order = Dictionary(selected.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        reports.sort { (order[$0.id] ?? 0) < (order[$1.id] ?? 0) }
        let judgement = try await mirror.judge(
            plans: config.plans,
            feeds: config.feeds.map { FeedPolicy(id: $0.id, plan: $0.plan, priority: $0.priority,
                                                  failingAfter: $0.settings.failingAfter, staleAfter: $0.settings.staleAfter) },
            now: now())
        for event in judgement.events {
            logger.notice("alert event", metadata: ["alert.seq": "\(event.seq)", "alert.key": "\(event.action?.key ?? "")",
                                                    "alert.event": "\(event.action?.event.rawValue ?? "")"])
        }
        phases.append(("judge", clock.now))
        FaultPoint.fromEnvironment?.trigger(.beforeAlertLog)
        var logError: String?
        do {
            try await alertLog.deliver(from: mirror)
        } catch {
            logError = "\(error)"
            logger.error("cannot write the alert log; events are kept and written later",
                         metadata: ["alert_log.path": "\(config.alertLog)", "error": "\(error)"])
        }
        phases.append(("alert_log", clock.now))
        var previous = started
        var timings: Logger.Metadata = ["feeds": "\(selected.count)"]
        for (name, instant) in phases {
            timings["ms.\(name)"] = "\(DecimalText.fixed(Double((instant - previous) / .microseconds(1)) / 1000, digits: 1))"
            previous = instant
        }
        logger.debug("cycle timings", metadata: timings)
        return SyncReport(feeds: reports, verdicts: judgement.verdicts, events: judgement.events, alertLogError: logError)
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
                    feeds: config.feeds.map { FeedDescription(id: $0.id, plan: $0.plan, url: $0.displayURL, format: $0.format.rawValue,
                                                              priority: $0.priority, interval: $0.settings.interval) },
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

    /// Fetches, parses and reconciles one feed; failures are recorded, never thrown.
    /// - Parameter storedCounts: receives the counts of small bodies, which are stored without
    ///   waiting (the cycle fills them into the reports after its flush).
    func syncFeed(_ feed: FeedConfig, state: FeedState?, now: @Sendable () -> Date,
                  storedCounts: Locked<[String: ReconcileCounts]>) async throws(MirrorError) -> FeedReport {
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
        request.userAgent = Syncer.userAgent
        request.largeBodyNiceness = parseNiceness
        let started = now()
        let result = await engine.fetch(request)
        var record = FetchRecord(
            feed: feed.id, startedAt: started, finishedAt: now(), outcome: result.outcome.rawValue,
            httpStatus: result.httpStatus, bytes: result.bytes, durationMs: result.elapsed * 1000,
            connectMs: result.timings.connect * 1000, firstByteMs: result.timings.firstByte * 1000,
            attempts: result.attempts, url: result.effectiveURL, etag: result.etag, lastModified: result.lastModified,
            bodySHA256: result.sha256, contentType: result.contentType)
        var report = FeedReport(id: feed.id, outcome: result.outcome.rawValue, httpStatus: result.httpStatus,
                                bytes: result.bytes, durationMs: result.elapsed * 1000, counts: ReconcileCounts(),
                                message: result.message, url: feed.displayURL)
        var metadata: Logger.Metadata = ["feed.id": "\(feed.id)", "fetch.outcome": "\(result.outcome.rawValue)",
                                         "fetch.url": "\(result.effectiveURL)"]
        if let status = result.httpStatus { metadata["fetch.http_status"] = "\(status)" }
        switch result.outcome {
        case .ok where result.sha256 != nil && result.sha256 == state?.bodySHA256:
            record.outcome = FetchOutcome.notModified.rawValue
            record.error = nil
            report.outcome = record.outcome
            report.message = "body unchanged (same SHA-256 as the last fetch)"
            mirror.recordLater(record, failed: false)
        case .ok:
            let options = feed.parseOptions(plan: config.plan(feed.plan))
            let body = result.body, format = feed.format, niceness = parseNiceness
            let outcome: Result<ReconcileCounts, ReconcileError>
            var warnings: [String] = []
            if body.count >= 1 << 20 {
                // Large bodies: parsed inside the mirror's transaction, streaming observations into
                // it, so a body that fails halfway rolls back and never sits in memory as a list.
                // The parser runs on one thread while another stores, both at `niceness` (the
                // writer's queue waits), so a large sync gives way to the status socket's readers.
                let summary = Locked<[String]>([])
                outcome = await mirror.reconcile(record, plan: feed.plan) { writer in
                    let parsed = try Syncer.onThread(niceness: niceness) { () throws(FeedParseError) -> ParsedFeed in
                        try PipelinedParser.parse(body, format: format, options: options, niceness: niceness) { writer.write($0) }
                    }
                    summary.withLock { $0 = parsed.warnings }
                    return parsed.skipped
                }
                warnings = summary.current
            } else {
                // Small bodies: parsed here, before the write, so feeds finishing together parse
                // in parallel and the single writer only stores.
                // The write is queued without waiting; its counts arrive in `storedCounts`.
                do throws(FeedParseError) {
                    let parsed = try FeedParser.parse(body, format: format, options: options)
                    warnings = parsed.warnings
                    let id = feed.id
                    mirror.reconcileLater(record, plan: feed.plan, observations: parsed.observations, skipped: parsed.skipped) { counts in
                        storedCounts.withLock { $0[id] = counts }
                    }
                    outcome = .success(ReconcileCounts())
                } catch {
                    outcome = .failure(.producer(error))
                }
            }
            switch outcome {
            case .success(let counts):
                report.counts = counts
            case .failure(.database(let error)):
                throw error
            case .failure(.producer(let error)):
                var message = "does not parse as \(feed.format.rawValue): \((error as? FeedParseError)?.description ?? "\(error)")"
                if let type = result.contentType, type.lowercased().contains("html") { message += " (the server sent \(type): an error page?)" }
                record.outcome = "parse_error"
                record.error = message
                report.outcome = "parse_error"
                report.message = message
                try await mirror.recordFailure(record)
                logger.warning("feed body rejected", metadata: metadata.merging(["error": "\(message)"]) { $1 })
                return report
            }
            for warning in warnings { logger.warning("\(warning)", metadata: metadata) }
        case .notModified:
            mirror.recordLater(record, failed: false)
        default:
            record.error = result.message
            mirror.recordLater(record, failed: true)
            logger.warning("fetch failed", metadata: metadata.merging(["error": "\(result.message)"]) { $1 })
            return report
        }
        return report
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
        let thread = Thread {
            ThreadPriority.lowerCurrentThread(to: niceness)
            box.run()
            done.signal()
        }
        thread.stackSize = 1 << 22
        thread.start()
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
