import Configuration
import Fetch
import Foundation
import Logging
import Mirror
import PlanCore
import Support

/// What `/v1/sinks`, `plansync sinks` and `/metrics` show of one notification sink.
public struct SinkStatus: Sendable {
    public var id: String
    public var kind: String
    /// The sink's URL with credentials and tokens removed.
    public var url: String
    /// The `seq` through which the sink has every event.
    public var cursor: Int = 0
    public var delivered = 0
    /// Events refused for good (a 4xx other than 408/429) or given up after `max_age`.
    public var failed = 0
    public var attempts = 0
    public var lastSuccessAt: Date?
    public var lastError: String?
    public var lastErrorAt: Date?
    /// The `time` of the oldest event not yet delivered, while one waits.
    public var waitingSince: Date?

    /// The status as JSON (lag from the newest event's `seq`).
    func json(lastSeq: Int, now: Date) -> JSONValue {
        .object([
            ("id", .string(id)), ("kind", .string(kind)), ("url", .string(url)), ("cursor", .int(cursor)),
            ("lag_events", .int(max(0, lastSeq - cursor))),
            ("lag_seconds", waitingSince.map { .number(DecimalText.fixed(max(0, now.timeIntervalSince($0)), digits: 1)) } ?? .int(0)),
            ("delivered", .int(delivered)), ("failed", .int(failed)), ("attempts", .int(attempts)),
            ("last_success", .optional(lastSuccessAt.map(Timestamp.string))), ("last_error", .optional(lastError)),
            ("last_error_at", .optional(lastErrorAt.map(Timestamp.string))),
        ])
    }
}

/// Wakes a sink's loop: rung after every cycle that recorded events, and when it stops.
final class Doorbell: Sendable {
    private let state = Locked<(rung: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func ring() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let waiter = s.waiter else {
                s.rung = true
                return nil
            }
            s.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns once rung (at once if it was rung since the last wait) or after `timeout` seconds.
    func wait(timeout: Double) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.rung {
                    s.rung = false
                    return true
                }
                s.waiter = continuation
                return false
            }
            if now {
                continuation.resume()
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [self] in
                let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    defer { s.waiter = nil }
                    return s.waiter
                }
                waiter?.resume()
            }
        }
    }
}

/// Delivers the mirror's alert events to one sink from its durable cursor, in `seq` order, on
/// its own task: a sink that is down or slow holds up nothing else. Every event is offered
/// until the sink takes it, refuses it for good, or it is older than `max_age`; the cursor
/// moves past it only then, so a restart (even `kill -9`) offers it again.
public final class SinkWorker: Sendable {
    let config: SinkConfig
    private let mirror: Mirror
    private let engine: FetchEngine
    private let logger: Logger
    let status: Locked<SinkStatus>
    private let bell = Doorbell()
    private let stopped = Locked(false)
    private let task = Locked<Task<Void, Never>?>(nil)
    /// A failure was recorded in the mirror since the last delivery (cleared by the next one).
    /// Starts set, so that the first delivery clears what an earlier process recorded.
    private let unhealthy = Locked(true)
    /// Longest wait between attempts at one event.
    static let maxBackoff = 300.0

    init(config: SinkConfig, mirror: Mirror, engine: FetchEngine, logger: Logger) {
        self.config = config
        self.mirror = mirror
        self.engine = engine
        self.logger = logger
        status = Locked(SinkStatus(id: config.id, kind: config.kind.rawValue, url: Redaction.url(config.url)))
    }

    /// Starts the delivery loop.
    func start() {
        task.withLock { $0 = Task { await self.run() } }
    }

    /// New events may be there.
    func ring() { bell.ring() }

    /// Stops the loop (an attempt in flight ends with its timeout); returns when it has.
    func stop() async {
        stopped.withLock { $0 = true }
        bell.ring()
        await task.current?.value
    }

    private var isStopped: Bool { stopped.current }

    private func run() async {
        var cursor: Int?
        while !isStopped, cursor == nil {
            do {
                if let known = try await mirror.sinkCursor(config.id) {
                    cursor = known
                } else {
                    let start = config.fromStart ? 0 : try await mirror.lastEventSeq()
                    try await mirror.advanceSink(config.id, to: start)
                    cursor = start
                }
            } catch {
                noteError("cannot read the sink's cursor: \(error)")
                await bell.wait(timeout: 5)
            }
        }
        guard var cursor else { return }
        status.withLock { $0.cursor = cursor }
        var nextResend = Date().addingTimeInterval(config.resendInterval)
        while !isStopped {
            let events: [StoredEvent]
            do { events = try await mirror.events(after: cursor, limit: 200) } catch {
                noteError("cannot read events: \(error)")
                await bell.wait(timeout: 5)
                continue
            }
            if events.isEmpty {
                status.withLock { $0.waitingSince = nil }
                if config.kind == .alertmanager {
                    if Date() >= nextResend {
                        await resendFiring()
                        nextResend = Date().addingTimeInterval(config.resendInterval)
                    }
                    await bell.wait(timeout: max(1, nextResend.timeIntervalSinceNow))
                } else {
                    await bell.wait(timeout: 3600)
                }
                continue
            }
            // The cursor is written every 100 events or quarter second (a backlog of 10,000
            // events drains without 10,000 transactions); a crash offers those again.
            var written = cursor
            var writtenAt = ContinuousClock.now
            var matching: [(event: StoredEvent, object: JSONValue)] = []
            for event in events {
                // Muted events (an acknowledged alert's, a silenced one's) stay in the alert log only.
                if let object = try? JSONParser.parse(Array(event.line.utf8)), object["muted"] == nil, config.match.matches(object) {
                    matching.append((event, object))
                }
            }
            // A robot gets digests (its rate limit is per message); the others an event a request.
            let groups = config.kind.isDigest ? SinkMessages.digests(matching, kind: config.kind, lang: config.lang) : matching.map { [$0] }
            for group in groups {
                guard !isStopped, let first = group.first else { break }
                let time = first.object["time"]?.stringValue.flatMap(Timestamp.date) ?? Date()
                status.withLock { $0.waitingSince = time }
                let label = group.count == 1 ? "event \(first.event.seq)" : "events \(first.event.seq)–\(group.last!.event.seq)"
                guard await deliverUntilDone(label, count: group.count, time: time, { await self.send(group) }) else { break }
                // Events before the group that matched nothing are passed over with it.
                cursor = group.last!.event.seq
                status.withLock { $0.cursor = cursor }
                if cursor - written >= 100 || writtenAt.duration(to: .now) > .milliseconds(250) {
                    try? await mirror.advanceSink(config.id, to: cursor)
                    written = cursor
                    writtenAt = .now
                }
            }
            if !isStopped { cursor = max(cursor, events.last!.seq) }
            // The batch done (or the worker stopping): its last delivered or passed-over event.
            try? await mirror.advanceSink(config.id, to: cursor)
            status.withLock { $0.cursor = cursor }
            if config.kind.isDigest, !groups.isEmpty {
                // Group robots take about 20 messages a minute.
                await bell.wait(timeout: 3)
            }
        }
    }

    /// Offers one message (one event, or a digest of `count`) until the sink takes it,
    /// refuses it for good, or its oldest event outlives `max_age`; false when the worker
    /// stopped first.
    private func deliverUntilDone(_ label: String, count: Int, time: Date, _ send: () async -> Outcome) async -> Bool {
        var attempt = 0
        while !isStopped {
            attempt += 1
            let outcome = await send()
            status.withLock { $0.attempts += 1 }
            switch outcome {
            case .delivered:
                status.withLock {
                    $0.delivered += count
                    $0.lastSuccessAt = Date()
                }
                let wasUnhealthy = unhealthy.withLock { flag -> Bool in
                    defer { flag = false }
                    return flag
                }
                if wasUnhealthy { try? await mirror.recordSinkHealth(config.id, outcome: .delivered) }
                return true
            case .refused(let reason):
                status.withLock { $0.failed += count }
                let message = "\(label) refused for good: \(reason)"
                noteError(message)
                await recordHealth(.eventLost, message)
                return true
            case .retry(let reason, let after):
                let message = "\(label) not delivered (attempt \(attempt)): \(reason)"
                noteError(message)
                await recordHealth(.attemptFailed, message)
                if Date().timeIntervalSince(time) > config.maxAge {
                    status.withLock { $0.failed += count }
                    let lost = "\(label) given up: older than max_age (\(DurationText.format(config.maxAge))); last error: \(reason)"
                    noteError(lost)
                    await recordHealth(.eventLost, lost)
                    return true
                }
                let backoff = min(SinkWorker.maxBackoff, pow(2, Double(min(attempt, 12) - 1)))
                await bell.wait(timeout: after.map { min($0, 3600) } ?? Double.random(in: backoff / 2...backoff))
            }
        }
        return false
    }

    /// Tells the mirror of a failure (judging raises `sink_failing` from it).
    private func recordHealth(_ outcome: SinkHealthOutcome, _ message: String) async {
        unhealthy.withLock { $0 = true }
        try? await mirror.recordSinkHealth(config.id, outcome: outcome, error: Redaction.text(message))
    }

    private func noteError(_ message: String) {
        let shown = Redaction.text(message)
        status.withLock {
            $0.lastError = shown
            $0.lastErrorAt = Date()
        }
        logger.warning("notification sink: \(shown)", metadata: ["sink": "\(config.id)"])
    }

    enum Outcome {
        case delivered
        case refused(String)
        case retry(String, after: Double?)
    }

    /// One delivery attempt of one event, or of a robot's digest.
    private func send(_ group: [(event: StoredEvent, object: JSONValue)]) async -> Outcome {
        if config.kind.isDigest {
            let result = await engine.fetch(SinkMessages.robotRequest(config, objects: group.map(\.object)))
            return SinkMessages.classifyRobot(result, kind: config.kind)
        }
        let (event, object) = group[0]
        return SinkWorker.classify(await engine.fetch(SinkWorker.request(config, line: event.line, seq: event.seq, object: object)))
    }

    /// The request that delivers one event (its alert log line and that line's object).
    static func request(_ config: SinkConfig, line: String, seq: Int, object: JSONValue, now: Date = Date()) -> FetchRequest {
        var request = post(config)
        switch config.kind {
        case .webhook:
            request.body = line
            request.headers = ["Content-Type: application/json", "Idempotency-Key: \(seq)"]
            if let secret = config.secret {
                let mac = SHA256.hmac(key: Array(secret.utf8), message: Array(line.utf8))
                request.headers.append("X-Plansync-Signature: sha256=\(SHA256.hexDigits(mac))")
            }
        case .alertmanager:
            request.url = alertmanagerURL(config.url)
            request.body = JSONValue.array([alertmanagerAlert(object, resendInterval: config.resendInterval, now: now)]).text
            request.headers = ["Content-Type: application/json"]
        case .dingtalk, .wecom, .email:
            return SinkMessages.robotRequest(config, objects: [object], now: now)
        }
        return request
    }

    /// A POST to the sink's URL with its timeout, one attempt (the worker retries itself).
    static func post(_ config: SinkConfig, url: String? = nil) -> FetchRequest {
        var request = FetchRequest(id: "sink:\(config.id)", url: url ?? config.url)
        request.method = "POST"
        request.timeout = config.timeout
        request.connectTimeout = min(10, config.timeout)
        request.retries = 0
        request.maxBytes = 1 << 20
        return request
    }

    /// `plansync test-sink`: sends one test event (`alert` "plansync_test", `seq` 0, resolved
    /// for Alertmanager so that it shows and goes) and says how the receiver answered.
    public static func test(_ config: SinkConfig, engine: FetchEngine = FetchEngine(maxConcurrent: 1)) async -> (ok: Bool, message: String) {
        let now = Date()
        let object = JSONValue.object([
            ("time", .string(Timestamp.string(now))), ("seq", .int(0)), ("event", .string(config.kind == .alertmanager ? "resolved" : "firing")),
            ("alert", .string("plansync_test")), ("severity", .string("warning")), ("key", .string("plansync/test/\(config.id)")),
            ("message", .string("plansync test message for sink \(config.id)")),
        ])
        let result = await engine.fetch(request(config, line: object.text, seq: 0, object: object, now: now))
        let answer = String(decoding: result.body.prefix(300), as: UTF8.self)
        switch config.kind.isDigest ? SinkMessages.classifyRobot(result, kind: config.kind) : classify(result) {
        case .delivered:
            return (true, "\(config.description): delivered (\(result.message))\(answer.isEmpty ? "" : ": \(Redaction.text(answer))")")
        case .refused(let reason):
            return (false, "\(config.description): refused for good: \(reason)")
        case .retry(let reason, _):
            return (false, "\(config.description): not delivered (the daemon would retry): \(reason)")
        }
    }

    /// 2xx delivered; 408, 429, 5xx and transport failures retried; other answers refused.
    static func classify(_ result: FetchResult) -> Outcome {
        switch result.outcome {
        case .ok: return .delivered
        case .httpStatus:
            let status = result.httpStatus ?? 0
            if status == 408 || status == 429 || status >= 500 { return .retry(result.message, after: result.retryAfter) }
            return .refused(result.message)
        default:
            return .retry(result.message, after: nil)
        }
    }

    /// `…/api/v2/alerts` under the configured Alertmanager URL.
    static func alertmanagerURL(_ base: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base.hasSuffix("/api/v2/alerts") ? base : base + "/api/v2/alerts"
    }

    /// An event as an Alertmanager alert: firing ones end 4 re-send intervals from now (so
    /// Alertmanager keeps them while plansync keeps telling it), resolved ones at their time.
    static func alertmanagerAlert(_ event: JSONValue, resendInterval: Double, now: Date = Date()) -> JSONValue {
        var labels: [(String, JSONValue)] = [("alertname", .string(event["alert"]?.stringValue ?? "plansync"))]
        for name in ["plan", "indicator", "year", "severity", "feed"] {
            switch event[name] {
            case .string(let s)?: labels.append((name, .string(s)))
            case .number(let n)?: labels.append((name, .string(n)))
            default: break
            }
        }
        labels.append(("key", .string(event["key"]?.stringValue ?? "")))
        let time = event["time"]?.stringValue ?? Timestamp.string(now)
        // An acknowledged alert leaves Alertmanager (its summary says who and why) and comes
        // back when the acknowledgement ends while it fires.
        let resolved = event["event"]?.stringValue.flatMap(AlertEventKind.init(rawValue:)).map { !$0.saysFiring } ?? false
        var alert: [(String, JSONValue)] = [
            ("labels", .object(labels)),
            (
                "annotations",
                .object([
                    ("summary", .string(event["message"]?.stringValue ?? "")),
                    ("description", .string(event.text)),
                ])
            ),
        ]
        alert.append(("startsAt", .string(time)))
        alert.append(("endsAt", .string(resolved ? time : Timestamp.string(now.addingTimeInterval(4 * resendInterval)))))
        return .object(alert)
    }

    /// Tells Alertmanager again of every firing alert this sink takes (their latest events).
    private func resendFiring() async {
        guard let alerts = try? await mirror.alertsJSON(state: "firing") else { return }
        var batch: [JSONValue] = []
        for alert in alerts {
            // Acknowledged and silenced alerts are not told again.
            guard case .raw(let line)? = alert["latest_event"], let event = try? JSONParser.parse(Array(line.utf8)),
                config.match.matches(event), event["event"]?.stringValue == "firing", alert["ack"] == .null,
                alert["silenced_by"] == .array([])
            else { continue }
            batch.append(SinkWorker.alertmanagerAlert(event, resendInterval: config.resendInterval))
        }
        guard !batch.isEmpty else { return }
        var request = SinkWorker.post(config, url: SinkWorker.alertmanagerURL(config.url))
        request.retries = 1
        request.body = JSONValue.array(batch).text
        request.headers = ["Content-Type: application/json"]
        if case .retry(let reason, _) = SinkWorker.classify(await engine.fetch(request)) {
            noteError("re-sending \(batch.count) firing alerts failed: \(reason)")
        }
    }
}
