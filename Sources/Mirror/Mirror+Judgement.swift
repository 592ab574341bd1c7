import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

/// An alert event as stored in `alert_event`.
public struct StoredEvent: Sendable, Equatable {
    public var seq: Int
    public var line: String
    /// The event as recorded (set for events of this run; nil when read back from the table).
    public var action: AlertAction?
    /// The line as a JSON value (set with `action`).
    public var object: JSONValue?

    public init(seq: Int, line: String, action: AlertAction? = nil, object: JSONValue? = nil) {
        self.seq = seq
        self.line = line
        self.action = action
        self.object = object
    }
}

/// The result of judging: which plans were judged again and which events it recorded.
public struct Judgement: Sendable {
    /// Verdicts of the plans judged again, in plan order — when asked for (`collect`).
    public var verdicts: [Verdict]
    /// The events recorded, with their actions — when asked for (`collect`).
    public var events: [StoredEvent]
    /// The plans judged again in this call; the others' stored verdicts still hold.
    public var rejudged: [String]
    /// The plans among them whose stored verdicts changed (one written, or one removed).
    public var changed: [String] = []
    /// The plans the recorded events concern (a feed's alerts count for its plan).
    public var eventPlans: Set<String> = []
    /// The `seq` of every event recorded (read them with `events(after:limit:)`).
    public var eventSeqs: Range<Int>
}

extension Mirror {
    /// Judges the plans whose inputs changed since they were last judged (plan, feeds and
    /// priorities, or any of their feeds' observations), stores their verdicts, runs the
    /// alert state machine on their alerts and every feed's, and stores its events with their
    /// `seq` — one transaction, so an event exists in the database before anything writes it
    /// to the alert log. `full` judges every plan whatever changed.
    ///
    /// Plans are judged one at a time and what was decided is stored at once, so memory holds
    /// one plan's verdicts and alerts, however many plans there are — unless `collect` asks
    /// for every verdict and event back (tests, small configurations).
    public func judge(
        plans: [Plan], feeds: [FeedPolicy], sinks: [String] = [], now: Date, full: Bool = false, collect: Bool = true
    ) async throws(MirrorError) -> Judgement {
        let stamp = Timestamp.string(now)
        var feedsByPlan: [String: [FeedPolicy]] = [:]
        for feed in feeds { feedsByPlan[feed.plan, default: []].append(feed) }
        // Each plan's inputs hashed before the transaction, on every core (remembered between
        // calls for plans and feeds that did not change).
        let byPlan = feedsByPlan
        let inputs = plans.concurrentMap { self.inputsSHA256($0, feeds: byPlan[$0.id] ?? []) }
        do {
            return try await write { db in
                try self.judge(
                    db, plans: plans, inputs: inputs, feedsByPlan: byPlan, feeds: feeds, sinks: sinks, now: now, stamp: stamp,
                    full: full, collect: collect)
            }
        } catch {
            // Rolled back: the next judgement must not trust what this one saw.
            judgedDataVersion.withLock { $0 = nil }
            throw error
        }
    }

    /// The SHA-256 of a plan's judging inputs, remembered for the plan and feeds it was
    /// computed from.
    private func inputsSHA256(_ plan: Plan, feeds: [FeedPolicy]) -> String {
        if let known = inputsSHA.withLock({ $0[plan.id] }), known.plan == plan, known.feeds == feeds { return known.sha }
        let sha = SHA256.hex(Judging.inputsBytes(plan, feeds: feeds))
        inputsSHA.withLock { $0[plan.id] = (plan, feeds, sha) }
        return sha
    }

    /// The body of `judge`, inside its write transaction: finds the plans to judge, loads
    /// their inputs, lets `Judging` decide, stores what it decided, plan by plan.
    private func judge(
        _ db: Database, plans: [Plan], inputs inputsByPosition: [String], feedsByPlan: [String: [FeedPolicy]],
        feeds: [FeedPolicy], sinks: [String], now: Date, stamp: String, full: Bool, collect: Bool
    ) throws -> Judgement {
        let dataVersion = try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0
        let seenVersion = judgedDataVersion.withLock { seen in
            defer { seen = dataVersion }
            return seen
        }
        let full = full || (seenVersion.map { $0 != dataVersion } ?? false)
        var dataSeq: [String: Int] = [:]
        try db.eachRow("SELECT id, data_seq FROM feed") { row in dataSeq[DirectSQL.text(row, 0) ?? ""] = Int(sqlite3_column_int64(row, 1)) }
        var judgedBefore: [String: (inputs: String, seq: Int, recheckDue: Bool)] = [:]
        try db.eachRow("SELECT plan_id, inputs, data_seq, recheck_at FROM judged_plan") { row in
            // Text comparison: both are `Timestamp.string`s (RFC 3339, UTC, whole seconds).
            let recheckDue = DirectSQL.text(row, 3).map { $0 <= stamp } ?? false
            judgedBefore[DirectSQL.text(row, 0) ?? ""] = (DirectSQL.text(row, 1) ?? "", Int(sqlite3_column_int64(row, 2)), recheckDue)
        }
        // A mirror never judged incrementally (new, or migrated from schema 3) may hold alerts
        // of plans removed long ago: then, and when judging in full, every stored alert is looked at.
        let everyAlert = judgedBefore.isEmpty || full
        let priorities = Dictionary(feeds.map { ($0.id, $0.priority) }, uniquingKeysWith: { a, _ in a })
        var recorder = EventRecorder(
            db: db, now: now, collect: collect,
            seq: try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq), 0) FROM alert_event")) ?? 0,
            book: try AckBook.load(db))
        let firstSeq = recorder.seq + 1
        try recorder.applyDeadlines()
        // Every stored alert by owner ("plan:<id>" or "feed"), when all are looked at.
        var everyStored: [String: [String: StoredAlert]] = [:]
        if everyAlert {
            for alert in try StoredAlert.read(db, "", []) { everyStored[alert.owner, default: [:]][alert.record.key] = alert }
        }
        func storedAlerts(plan: String) throws -> [String: StoredAlert] {
            if everyAlert { return everyStored.removeValue(forKey: "plan:\(plan)") ?? [:] }
            var result: [String: StoredAlert] = [:]
            for alert in try StoredAlert.read(db, "WHERE key >= ? AND key < ?", ["\(plan)/", "\(plan)0"]) where alert.owner == "plan:\(plan)" {
                result[alert.record.key] = alert
            }
            return result
        }
        var verdicts: [Verdict] = []
        var rejudged: [String] = []
        var changed: [String] = []
        var due: [(plan: Plan, inputs: String, feeds: [String], seq: Int)] = []
        for (plan, inputs) in zip(plans, inputsByPosition) {
            let planFeeds = feedsByPlan[plan.id] ?? []
            let seq = planFeeds.map { dataSeq[$0.id] ?? 0 }.max() ?? 0
            if !full, let before = judgedBefore[plan.id], before.inputs == inputs, before.seq == seq, !before.recheckDue { continue }
            due.append((plan, inputs, planFeeds.map(\.id), seq))
        }
        // Plans are judged on other threads (each on a reader connection: the observations and
        // the stored verdicts they read are those this transaction sees, as nothing else can
        // commit while it runs and it changes a plan's verdicts only after judging it), a few
        // plans ahead of this thread, which stores each plan's verdicts and events in order.
        let workers = due.count >= parallelJudgingMinimum ? judgingThreads : 0
        let pipeline = OrderedPipeline<Result<JudgedPlan, any Error>>(count: due.count, window: 64)
        if workers > 1 {
            let plansDue = due.map { ($0.plan, $0.feeds) }
            let expectedSeq = dataSeq
            pipeline.start(workers: workers, niceness: judgingNiceness, name: "plansync.judge") { pipeline in
                try? self.pool.read { reader in
                    // The snapshot must be this transaction's: the feeds' data_seq tell.
                    var seen: [String: Int] = [:]
                    try reader.eachRow("SELECT id, data_seq FROM feed") { row in seen[DirectSQL.text(row, 0) ?? ""] = Int(sqlite3_column_int64(row, 1)) }
                    guard seen == expectedSeq else { return }
                    while let index = pipeline.claim() {
                        let (plan, feeds) = plansDue[index]
                        pipeline.deliver(
                            index, Result { try Mirror.judgePlan(reader, plan: plan, feeds: feeds, priorities: priorities, now: now) })
                    }
                }
            }
        }
        defer { pipeline.finish() }
        for (index, item) in due.enumerated() {
            let judged =
                try (workers > 1 ? pipeline.take(index) : nil)?.get()
                ?? Mirror.judgePlan(db, plan: item.plan, feeds: item.feeds, priorities: priorities, now: now)
            try Mirror.storeVerdicts(db, plan: item.plan.id, judged: judged, stamp: stamp)
            // Rounded up to the second: judged again at or after the moment, never before.
            let recheck = SQLValue.text(judged.result.recheckAt.map { Timestamp.string($0.addingTimeInterval(0.999)) })
            try db.runBound(
                """
                INSERT INTO judged_plan (plan_id, inputs, data_seq, status_counts, judged_at, checked_at, recheck_at, releases)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(plan_id) DO UPDATE SET inputs = excluded.inputs, data_seq = excluded.data_seq,
                    status_counts = excluded.status_counts, judged_at = excluded.judged_at, checked_at = excluded.checked_at,
                    recheck_at = excluded.recheck_at, releases = excluded.releases
                """,
                [
                    .text(item.plan.id), .text(item.inputs), .integer(Int64(item.seq)), .text(judged.countsText), .text(stamp), .text(stamp),
                    recheck, .text(Mirror.releasesJSON(judged.result.releases, plan: item.plan.id)),
                ])
            try recorder.step(
                stored: storedAlerts(plan: item.plan.id), holding: judged.result.conditions, note: judged.result.resolutionNote,
                tolerance: item.plan.paceTolerance)
            if collect { verdicts += judged.result.verdicts }
            rejudged.append(item.plan.id)
            if !judged.changed.isEmpty || !judged.removed.isEmpty { changed.append(item.plan.id) }
        }
        // Plans no longer configured: their verdicts go, their alerts resolve.
        let configured = Set(plans.map(\.id))
        inputsSHA.withLock { known in known = known.filter { configured.contains($0.key) } }
        for plan in judgedBefore.keys.filter({ !configured.contains($0) }).sorted() {
            try db.run("DELETE FROM verdict WHERE plan_id = ?", [plan])
            try db.run("DELETE FROM judged_plan WHERE plan_id = ?", [plan])
            try recorder.step(stored: storedAlerts(plan: plan), holding: [], note: { _ in nil })
        }
        if everyAlert {
            try db.run(
                "DELETE FROM verdict WHERE plan_id NOT IN (SELECT value FROM json_each(?))",
                [JSONValue.array(plans.map { .string($0.id) }).text])
            // Alerts of plans unknown to judged_plan too (removed before schema 4).
            for owner in everyStored.keys.sorted() where owner != "feed" && owner != "sink" {
                try recorder.step(stored: everyStored[owner] ?? [:], holding: [], note: { _ in nil })
            }
        }
        try db.run("UPDATE judged_plan SET checked_at = ? WHERE checked_at <> ?", [stamp, stamp])
        // Feed health, judged on every call.
        var health: [String: FeedHealth] = [:]
        try db.eachRow("SELECT id, consecutive_failures, last_error, last_success_at, created_at FROM feed") { row in
            let lastSuccess = DirectSQL.text(row, 3)
            health[DirectSQL.text(row, 0) ?? ""] = FeedHealth(
                failures: Int(sqlite3_column_int64(row, 1)), lastError: DirectSQL.text(row, 2), lastSuccessText: lastSuccess,
                lastSuccess: lastSuccess.flatMap(Timestamp.date), created: DirectSQL.text(row, 4).flatMap(Timestamp.date))
        }
        var feedAlerts: [String: StoredAlert] = everyStored["feed"] ?? [:]
        if !everyAlert {
            for alert in try StoredAlert.read(db, "WHERE key >= 'feed/' AND key < 'feed0'", []) where alert.owner == "feed" {
                feedAlerts[alert.record.key] = alert
            }
        }
        try recorder.step(stored: feedAlerts, holding: Judging.feedConditions(feeds, health: health, now: now), note: { _ in nil })
        // Notification sinks' health, as their delivery loops recorded it: failing after 3
        // failed attempts in a row, or once an event was refused or given up, until one is taken.
        var sinkConditions: [AlertCondition] = []
        let configuredSinks = Set(sinks)
        try db.eachRow("SELECT sink, consecutive_failures, failed_events, last_error FROM sink_cursor") { row in
            let sink = DirectSQL.text(row, 0) ?? ""
            let failures = Int(sqlite3_column_int64(row, 1)), failed = Int(sqlite3_column_int64(row, 2))
            guard configuredSinks.contains(sink), failures >= 3 || failed > 0 else { return }
            sinkConditions.append(
                AlertConditions.sinkFailing(sink: sink, failures: failures, failedEvents: failed, lastError: DirectSQL.text(row, 3)))
        }
        var sinkAlerts: [String: StoredAlert] = everyStored["sink"] ?? [:]
        if !everyAlert {
            for alert in try StoredAlert.read(db, "WHERE key >= 'sink/' AND key < 'sink0'", []) where alert.owner == "sink" {
                sinkAlerts[alert.record.key] = alert
            }
        }
        try recorder.step(stored: sinkAlerts, holding: sinkConditions, note: { _ in nil })
        return Judgement(
            verdicts: verdicts, events: recorder.events, rejudged: rejudged, changed: changed, eventPlans: recorder.plans,
            eventSeqs: firstSeq..<(recorder.seq + 1))
    }

    /// The observations of `feeds` for the plan's indicators in `years`, found by primary-key
    /// range seeks (feed, indicator, period prefix): only this plan's rows are read, however
    /// many plans share its indicator codes. Units and notes are left out: judging never
    /// reads them.
    static func loadObservations(_ db: Database, plan: Plan, feeds: [String], years: Set<Int>) throws -> [Observation] {
        guard !feeds.isEmpty, !years.isEmpty else { return [] }
        var ranges: [(String, String)] = []
        var run: (Int, Int)?
        for year in years.sorted() {
            if let (first, last) = run, last + 1 == year {
                run = (first, year)
            } else {
                if let (first, last) = run { ranges.append((String(first), String(last + 1))) }
                run = (year, year)
            }
        }
        if let (first, last) = run { ranges.append((String(first), String(last + 1))) }
        let sql = """
            SELECT period, measure, cumulative, base_year, value FROM observation
            WHERE feed_id = ? AND indicator = ? AND period >= ? AND period < ?
            """
        var result: [Observation] = []
        // Room for monthly figures (the usual most), so the rows are not copied as it grows.
        result.reserveCapacity(min(16384, feeds.count * plan.indicators.count * years.count * 13))
        // Stepped through the SQLite C API, periods and figures read from the column bytes in
        // place (GRDB's row decoding, then a String per column, were most of judging's time).
        for feed in feeds {
            for indicator in plan.indicators {
                for (first, end) in ranges {
                    try db.eachRow(
                        sql,
                        bind: { select in
                            DirectSQL.bind(select, 1, feed)
                            DirectSQL.bind(select, 2, indicator.code)
                            DirectSQL.bind(select, 3, first)
                            DirectSQL.bind(select, 4, end)
                        }
                    ) { select in
                        guard let period = DirectSQL.bytes(select, 0).flatMap(Period.init(utf8:)),
                            let measure = DirectSQL.bytes(select, 1).flatMap(Measure.init(utf8:)),
                            let value = DirectSQL.bytes(select, 4).flatMap(Figure.init(utf8:))
                        else { return }
                        let base = Int(sqlite3_column_int64(select, 3))
                        result.append(
                            Observation(
                                indicator: indicator.code, period: period, measure: measure, value: value,
                                cumulative: sqlite3_column_int64(select, 2) != 0,
                                baseYear: base == 0 ? nil : base, feed: feed))
                    }
                }
            }
        }
        return result
    }

    /// Judges one plan on `db` (the writer's connection or a reader's): loads its
    /// observations, judges them, and compares the verdicts with those stored.
    static func judgePlan(_ db: Database, plan: Plan, feeds: [String], priorities: [String: Int], now: Date) throws -> JudgedPlan {
        let observations = try loadObservations(db, plan: plan, feeds: feeds, years: Judging.yearsNeeded(plan))
        let index = ObservationIndex(observations, priorities: priorities)
        let result = Judging.judge(plan, index: index, now: now)
        struct Cell: Hashable {
            var indicator: String
            var year: Int
        }
        var previous: [Cell: (status: String, json: String)] = [:]
        try db.eachRow(
            "SELECT indicator, year, status, json FROM verdict WHERE plan_id = ?", bind: { DirectSQL.bind($0, 1, plan.id) }
        ) { row in
            previous[Cell(indicator: DirectSQL.text(row, 0) ?? "", year: Int(sqlite3_column_int64(row, 1)))] =
                (DirectSQL.text(row, 2) ?? "", DirectSQL.text(row, 3) ?? "")
        }
        var judged = JudgedPlan(result: result, changed: [], removed: [], countsText: "")
        var counts: [VerdictStatus: Int] = [:]
        for verdict in result.verdicts {
            counts[verdict.status, default: 0] += 1
            let text = verdict.jsonText
            // Most judgements change no verdict: those rows are not written at all (when the
            // plan was judged is `judged_plan.judged_at`).
            let before = previous.removeValue(forKey: Cell(indicator: verdict.indicator, year: verdict.year))
            if before?.json == text { continue }
            judged.changed.append((verdict, text, before?.status != verdict.status.rawValue))
        }
        judged.removed = previous.keys.map { ($0.indicator, $0.year) }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        var countMembers: [(String, JSONValue)] = []
        for status in VerdictStatus.allCases {
            if let n = counts[status] { countMembers.append((status.rawValue, JSONValue.int(n))) }
        }
        judged.countsText = JSONValue.object(countMembers).text
        return judged
    }

    /// Stores what judging one plan changed: new and changed verdicts (the others' rows are
    /// left as they are), and verdicts of targets the plan no longer has removed.
    static func storeVerdicts(_ db: Database, plan: String, judged: JudgedPlan, stamp: String) throws {
        for (v, text, statusChanged) in judged.changed {
            try db.runBound(
                """
                INSERT INTO verdict (plan_id, indicator, year, status, rule, measure, actual, threshold, shortfall, unit,
                                     period, cumulative, feed, severity, derived, conflicts, json, evaluated_at, changed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(plan_id, indicator, year) DO UPDATE SET status = excluded.status, rule = excluded.rule,
                    measure = excluded.measure, actual = excluded.actual, threshold = excluded.threshold,
                    shortfall = excluded.shortfall, unit = excluded.unit, period = excluded.period,
                    cumulative = excluded.cumulative, feed = excluded.feed, severity = excluded.severity,
                    derived = excluded.derived, conflicts = excluded.conflicts, json = excluded.json,
                    evaluated_at = excluded.evaluated_at,
                    changed_at = CASE WHEN ? THEN excluded.changed_at ELSE verdict.changed_at END
                """,
                [
                    .text(plan), .text(v.indicator), .integer(Int64(v.year)), .text(v.status.rawValue), .text(v.rule.rawValue),
                    .text(v.measure?.rawValue), .text(v.actual?.description), .text(v.threshold?.description),
                    .text(v.shortfall?.description), .text(v.unit), .text(v.period?.description), .integer(v.cumulative ? 1 : 0),
                    .text(v.feed), .text(v.severity?.rawValue), .integer(v.derived ? 1 : 0),
                    .text(v.conflicts.isEmpty ? "[]" : v.conflictsJSON.text), .text(text), .text(stamp), .text(stamp),
                    .integer(statusChanged ? 1 : 0),
                ])
        }
        for (indicator, year) in judged.removed {
            try db.runBound(
                "DELETE FROM verdict WHERE plan_id = ? AND indicator = ? AND year = ?",
                [.text(plan), .text(indicator), .integer(Int64(year))])
        }
    }

    /// Committed events after `seq`, oldest first, at most `limit` (for a sink's next delivery).
    public func events(after seq: Int, limit: Int = 1000) async throws(MirrorError) -> [StoredEvent] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT seq, line FROM alert_event WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [seq, limit]
            ).map {
                StoredEvent(seq: $0["seq"], line: $0["line"], action: nil)
            }
        }
    }

    /// Seq, key and event (`firing`/`resolved`) of the events with a `seq` in `seqs`.
    public func eventKeys(in seqs: Range<Int>) async throws(MirrorError) -> [(Int, String, String)] {
        guard !seqs.isEmpty else { return [] }
        return try await read { db in
            var keys: [(Int, String, String)] = []
            try db.eachRow(
                "SELECT seq, key, event FROM alert_event WHERE seq >= ? AND seq < ? ORDER BY seq",
                bind: { statement in
                    sqlite3_bind_int64(statement, 1, Int64(seqs.lowerBound))
                    sqlite3_bind_int64(statement, 2, Int64(seqs.upperBound))
                }
            ) { row in
                keys.append((Int(sqlite3_column_int64(row, 0)), DirectSQL.text(row, 1) ?? "", DirectSQL.text(row, 2) ?? ""))
            }
            return keys
        }
    }

    /// The `seq` of the newest event (0 when there is none).
    public func lastEventSeq() async throws(MirrorError) -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM alert_event") ?? 0 }
    }

    /// How far a sink got: the `seq` through which it has every event, nil for a sink the
    /// mirror has not seen yet.
    public func sinkCursor(_ sink: String) async throws(MirrorError) -> Int? {
        try await read { db in try Int.fetchOne(db, sql: "SELECT delivered_seq FROM sink_cursor WHERE sink = ?", arguments: [sink]) }
    }

    /// Records a notification sink's delivery: taken (its failures cleared), an attempt that
    /// failed, or an event refused for good or given up. Read by judging (`sink_failing`).
    public func recordSinkHealth(_ sink: String, outcome: SinkHealthOutcome, error: String? = nil) async throws(MirrorError) {
        try await write { db in
            let set: String
            switch outcome {
            case .delivered: set = "consecutive_failures = 0, failed_events = 0"
            case .attemptFailed: set = "consecutive_failures = consecutive_failures + 1, last_error = ?"
            case .eventLost: set = "failed_events = failed_events + 1, last_error = ?"
            }
            var values: [SQLValue] = outcome == .delivered ? [] : [.text(error)]
            values.append(.text(sink))
            try db.runBound("UPDATE sink_cursor SET \(set) WHERE sink = ?", values)
        }
    }

    /// Records that `sink` has every event through `seq` (a cursor never moves back).
    public func advanceSink(_ sink: String, to seq: Int, now: Date = Date()) async throws(MirrorError) {
        let stamp = Timestamp.string(now)
        try await write { db in
            try db.run(
                """
                INSERT INTO sink_cursor (sink, delivered_seq, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(sink) DO UPDATE SET delivered_seq = MAX(delivered_seq, excluded.delivered_seq), updated_at = excluded.updated_at
                """, [sink, seq, stamp])
        }
    }
}

/// What a notification sink's delivery loop tells the mirror of its health.
public enum SinkHealthOutcome: Sendable {
    case delivered
    case attemptFailed
    case eventLost
}

/// One plan judged, and what storing its verdicts changes.
extension Mirror {
    /// A plan's release statuses as stored in `judged_plan.releases` (nil when it watches none):
    /// `[{"plan", "indicator", "next_period", "next_due", "overdue": ["2024-03", ...]}]`.
    static func releasesJSON(_ releases: [ReleaseStatus], plan: String) -> String? {
        guard !releases.isEmpty else { return nil }
        return JSONValue.array(
            releases.map { r in
                .object([
                    ("plan", .string(plan)), ("indicator", .string(r.indicator)), ("next_period", .optional(r.next?.period.description)),
                    ("next_due", .optional(r.next.map { Timestamp.string($0.due) })),
                    ("overdue", .array(r.overdue.map { .string($0.period.description) })),
                ])
            }
        ).text
    }
}

struct JudgedPlan: Sendable {
    var result: PlanJudgement
    /// Verdicts that are new or differ from the stored ones, with their JSON text and whether
    /// the status changed.
    var changed: [(verdict: Verdict, json: String, statusChanged: Bool)]
    /// Stored verdicts of targets the plan no longer has.
    var removed: [(indicator: String, year: Int)]
    /// `{"met": n, ...}` for `judged_plan.status_counts`.
    var countsText: String
}

/// An alert as stored, with its owner: `plan:<id>` for alerts a plan's judging raises,
/// `feed` for feed health. Details stay text until the alert resolves (a source conflict's
/// details list every source).
struct StoredAlert {
    var record: AlertRecord
    var details: String
    var owner: String

    static func read(_ db: Database, _ condition: String, _ arguments: [String]) throws -> [StoredAlert] {
        var result: [StoredAlert] = []
        try db.eachRow(
            "SELECT key, alert, state, severity, details, message FROM alert \(condition)",
            bind: { statement in
                for (offset, argument) in arguments.enumerated() { DirectSQL.bind(statement, Int32(offset + 1), argument) }
            }
        ) { row in
            guard let kind = DirectSQL.text(row, 1).flatMap(AlertKind.init(rawValue:)),
                let severity = DirectSQL.text(row, 3).flatMap(Severity.init(rawValue:))
            else { return }
            let key = DirectSQL.text(row, 0) ?? ""
            var owner = "feed"
            if AlertKind.sinkScoped.contains(kind) {
                owner = "sink"
            } else if !AlertKind.feedScoped.contains(kind) {
                let plan: Substring = key.split(separator: "/", maxSplits: 1).first ?? Substring(key)
                owner = "plan:\(plan)"
            }
            result.append(
                StoredAlert(
                    record: AlertRecord(
                        key: key, kind: kind, firing: DirectSQL.text(row, 2) == "firing", severity: severity,
                        details: .object([]), message: DirectSQL.text(row, 5) ?? ""),
                    details: DirectSQL.text(row, 4) ?? "", owner: owner))
        }
        return result
    }
}

/// Runs the alert state machine on one group of alerts at a time (a plan's, the feeds') and
/// stores each event and the alert's new state as it is decided. With acknowledgements and
/// silences in force it also decides which events are muted (not notified), ends
/// acknowledgements that resolve, worsen or run out, and records those events.
struct EventRecorder {
    let db: Database
    let now: Date
    let stamp: String
    let collect: Bool
    var seq: Int
    var events: [StoredEvent] = []
    var book: AckBook
    /// Plans whose alerts got an event.
    var plans: Set<String> = []

    init(db: Database, now: Date, collect: Bool, seq: Int, book: AckBook) {
        self.db = db
        self.now = now
        self.stamp = Timestamp.string(now)
        self.collect = collect
        self.seq = seq
        self.book = book
    }

    /// Steps `stored` (the group's alerts) against the conditions `holding` now. `tolerance` is
    /// the plan's (`pace_tolerance_pp`): how much an acknowledged shortfall may grow.
    mutating func step(
        stored: [String: StoredAlert], holding: [AlertCondition], note: (String) -> String?, tolerance: Figure = Figure(0)
    ) throws {
        guard !stored.isEmpty || !holding.isEmpty else { return }
        var actions = AlertMachine.step(stored: stored.mapValues(\.record), holding: holding, resolutionNote: note)
        for index in actions.indices where actions[index].event == .resolved {
            actions[index].details = stored[actions[index].key]?.parsedDetails ?? .object([])
        }
        guard !book.isEmpty else {
            for action in actions { try record(action) }
            return
        }
        let firing = Set(actions.lazy.filter { $0.event == .firing }.map(\.key))
        for var action in actions {
            if action.event == .resolved, let ack = book.acks[action.key] {
                if let missed = AckBook.missedKey(forAtRisk: action.key), firing.contains(missed) {
                    // At risk → missed: worse. Its one notification is the missed alert's firing.
                    let ended = try endAck(ack, reason: "broken")
                    try recordLifecycle(
                        .ackBroken, key: action.key, kind: action.kind, severity: action.severity, details: action.details, ack: ended,
                        message: "acknowledgement by \(ack.by) broken: now \(AlertKind.targetMissed.rawValue) (\(missed))",
                        muted: "notified as \(missed)")
                    action.ack = ended
                    action.muted = "acknowledged"
                } else {
                    action.ack = try endAck(ack, reason: "resolved")
                }
            }
            if action.muted == nil, let silence = book.silence(kind: action.kind, details: action.details) { action.muted = silence.mutedText }
            try record(action)
        }
        // Alerts still firing with an acknowledgement: worse than acknowledged, or its next figure in?
        guard !book.acks.isEmpty else { return }
        for condition in holding where stored[condition.key]?.record.firing == true {
            guard let ack = book.acks[condition.key] else { continue }
            if let why = ack.worsening(condition, tolerance: tolerance) {
                try recordLifecycle(
                    .ackBroken, key: ack.key, kind: condition.kind, severity: condition.severity, details: condition.details,
                    ack: try endAck(ack, reason: "broken"), message: "acknowledgement by \(ack.by) broken (\(why)): \(condition.message)")
            } else if ack.untilNextRelease, let plan = condition.details["plan"]?.stringValue,
                let indicator = condition.details["indicator"]?.stringValue,
                try AckBook.figuresMark(db, plan: plan, indicator: indicator) > ack.figuresMark
            {
                try recordLifecycle(
                    .ackExpired, key: ack.key, kind: condition.kind, severity: condition.severity, details: condition.details,
                    ack: try endAck(ack, reason: "next_release"),
                    message: "acknowledgement by \(ack.by) ended: a new figure of \(indicator) arrived; still firing: \(condition.message)")
            }
        }
    }

    /// Ends acknowledgements and silences whose time has come; what still fires is notified once.
    mutating func applyDeadlines() throws {
        for ack in book.acks.values.sorted(by: { $0.id < $1.id }) {
            guard let until = ack.until, until <= now else { continue }
            let alert = try StoredAlert.read(db, "WHERE key = ?", [ack.key]).first
            guard let alert, alert.record.firing else {
                _ = try endAck(ack, reason: "resolved")
                continue
            }
            try recordLifecycle(
                .ackExpired, alert: alert, details: alert.parsedDetails, ack: try endAck(ack, reason: "expired"),
                message: "acknowledgement by \(ack.by) expired; still firing: \(alert.record.message)")
        }
        for silence in book.silences where silence.until <= now { try endSilence(silence, reason: "expired", by: nil) }
    }

    /// Ends a silence: each alert it matched that still fires, and is not acknowledged or
    /// matched by another silence in force, is notified once (`silence_ended`).
    mutating func endSilence(_ silence: Silence, reason: String, by: String?) throws {
        try db.runBound(
            "UPDATE silence SET ended_at = ?, end_reason = ?, ended_by = ? WHERE id = ?",
            [.text(stamp), .text(reason), .text(by), .integer(Int64(silence.id))])
        book.silences.removeAll { $0.id == silence.id }
        var condition = "WHERE state = 'firing'"
        var arguments: [String] = []
        if !silence.alerts.isEmpty {
            condition += " AND alert IN (\(silence.alerts.map { _ in "?" }.joined(separator: ", ")))"
            arguments += silence.alerts
        }
        for alert in try StoredAlert.read(db, condition + " ORDER BY key", arguments) {
            let details = alert.parsedDetails
            guard silence.matches(kind: alert.record.kind, details: details), book.acks[alert.record.key] == nil,
                book.silence(kind: alert.record.kind, details: details) == nil
            else { continue }
            try recordLifecycle(
                .silenceEnded, alert: alert, details: details, ack: nil,
                message: "silence \(silence.id) ended (\(silence.note)); still firing: \(alert.record.message)")
        }
    }

    /// Ends `ack` now (stored, and out of the book); returns it as it ended, for the event's `ack`.
    mutating func endAck(_ ack: Acknowledgement, reason: String, by: String? = nil) throws -> JSONValue {
        try book.end(db, key: ack.key, stamp: stamp, reason: reason, by: by)
        return ack.json(ended: (now, reason, by))
    }

    /// Records an event about a stored alert (not a change of its state).
    mutating func recordLifecycle(_ event: AlertEventKind, alert: StoredAlert, details: JSONValue, ack: JSONValue?, message: String) throws {
        try recordLifecycle(
            event, key: alert.record.key, kind: alert.record.kind, severity: alert.record.severity, details: details, ack: ack,
            message: message)
    }

    /// `muted` given: why the sinks do not get it; else a silence matching the alert mutes it.
    mutating func recordLifecycle(
        _ event: AlertEventKind, key: String, kind: AlertKind, severity: Severity, details: JSONValue, ack: JSONValue?, message: String,
        muted: String? = nil
    ) throws {
        let muted = muted ?? book.silence(kind: kind, details: details)?.mutedText
        try record(AlertAction(event: event, key: key, kind: kind, severity: severity, details: details, message: message, ack: ack, muted: muted))
    }

    /// Stores one event with the next `seq`; a firing or resolved one also sets the alert's state.
    mutating func record(_ action: AlertAction) throws {
        seq += 1
        let object = AlertMachine.logObject(seq: seq, time: stamp, action: action)
        let line = object.text
        try db.runBound(
            "INSERT INTO alert_event (seq, time, key, event, alert, severity, line) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                .integer(Int64(seq)), .text(stamp), .text(action.key), .text(action.event.rawValue), .text(action.kind.rawValue),
                .text(action.severity.rawValue), .text(line),
            ])
        if action.event == .firing || action.event == .resolved {
            try db.runBound(
                """
                INSERT INTO alert (key, alert, state, severity, details, message, since, last_seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET state = excluded.state, severity = excluded.severity,
                    details = excluded.details, message = excluded.message, since = excluded.since,
                    last_seq = excluded.last_seq
                """,
                [
                    .text(action.key), .text(action.kind.rawValue), .text(action.event == .firing ? "firing" : "resolved"),
                    .text(action.severity.rawValue), .text(action.details.text), .text(action.message), .text(stamp),
                    .integer(Int64(seq)),
                ])
        }
        if case .string(let plan)? = action.details["plan"] { plans.insert(plan) }
        if collect { events.append(StoredEvent(seq: seq, line: line, action: action, object: object)) }
    }
}
