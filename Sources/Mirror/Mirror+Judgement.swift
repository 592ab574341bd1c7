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

/// The result of judging: the verdicts of the plans judged again and the events it caused.
public struct Judgement: Sendable {
    /// Verdicts of the plans whose inputs changed (`rejudged`), in plan order.
    public var verdicts: [Verdict]
    public var events: [StoredEvent]
    /// The plans judged again in this call; the others' stored verdicts still hold.
    public var rejudged: [String]
}

extension Mirror {
    /// Judges the plans whose inputs changed since they were last judged (plan, feeds and
    /// priorities, or any of their feeds' observations), stores their verdicts, runs the
    /// alert state machine on their alerts and every feed's, and stores its events with their
    /// `seq` — one transaction, so an event exists in the database before anything writes it
    /// to the alert log. `full` judges every plan whatever changed.
    public func judge(plans: [Plan], feeds: [FeedPolicy], now: Date, full: Bool = false) async throws(MirrorError) -> Judgement {
        let stamp = Timestamp.string(now)
        do {
            return try await write { db in try self.judge(db, plans: plans, feeds: feeds, now: now, stamp: stamp, full: full) }
        } catch {
            // Rolled back: the next judgement must not trust what this one saw.
            judgedDataVersion.withLock { $0 = nil }
            throw error
        }
    }

    /// The body of `judge`, inside its write transaction: finds the plans to judge, loads
    /// their inputs, lets `Judging` decide, stores what it decided.
    private func judge(_ db: Database, plans: [Plan], feeds: [FeedPolicy], now: Date, stamp: String, full: Bool) throws -> Judgement {
        let dataVersion = try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0
        let seenVersion = judgedDataVersion.withLock { seen in
            defer { seen = dataVersion }
            return seen
        }
        let full = full || (seenVersion.map { $0 != dataVersion } ?? false)
        var feedsByPlan: [String: [FeedPolicy]] = [:]
        for feed in feeds { feedsByPlan[feed.plan, default: []].append(feed) }
        var dataSeq: [String: Int] = [:]
        try db.eachRow("SELECT id, data_seq FROM feed") { row in dataSeq[DirectSQL.text(row, 0) ?? ""] = Int(sqlite3_column_int64(row, 1)) }
        var judgedBefore: [String: (inputs: String, seq: Int)] = [:]
        try db.eachRow("SELECT plan_id, inputs, data_seq FROM judged_plan") { row in
            judgedBefore[DirectSQL.text(row, 0) ?? ""] = (DirectSQL.text(row, 1) ?? "", Int(sqlite3_column_int64(row, 2)))
        }
        // A mirror never judged incrementally (new, or migrated from schema 3) may hold alerts
        // of plans removed long ago: the first judgement looks at every stored alert.
        let everyAlert = judgedBefore.isEmpty
        let priorities = Dictionary(feeds.map { ($0.id, $0.priority) }, uniquingKeysWith: { a, _ in a })
        var judgedPlans: [PlanJudgement] = []
        var rejudged: [String] = []
        for plan in plans {
            let planFeeds = feedsByPlan[plan.id] ?? []
            let inputs = SHA256.hex(Array(Judging.inputsText(plan, feeds: planFeeds).utf8))
            let seq = planFeeds.map { dataSeq[$0.id] ?? 0 }.max() ?? 0
            if !full, let before = judgedBefore[plan.id], before.inputs == inputs, before.seq == seq { continue }
            let observations = try Mirror.loadObservations(db, plan: plan, feeds: planFeeds.map(\.id), years: Judging.yearsNeeded(plan))
            let result = Judging.judge(plan, index: ObservationIndex(observations, priorities: priorities))
            try Mirror.storeVerdicts(db, plan: plan.id, verdicts: result.verdicts, stamp: stamp)
            try db.run(
                """
                INSERT INTO judged_plan (plan_id, inputs, data_seq, judged_at, checked_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(plan_id) DO UPDATE SET inputs = excluded.inputs, data_seq = excluded.data_seq,
                    judged_at = excluded.judged_at, checked_at = excluded.checked_at
                """, [plan.id, inputs, seq, stamp, stamp])
            judgedPlans.append(result)
            rejudged.append(plan.id)
        }
        // Plans no longer configured: their verdicts go, their alerts resolve (below).
        let configured = Set(plans.map(\.id))
        let removed = judgedBefore.keys.filter { !configured.contains($0) }.sorted()
        for plan in removed {
            try db.run("DELETE FROM verdict WHERE plan_id = ?", [plan])
            try db.run("DELETE FROM judged_plan WHERE plan_id = ?", [plan])
        }
        if everyAlert || full {
            try db.run(
                "DELETE FROM verdict WHERE plan_id NOT IN (SELECT value FROM json_each(?))",
                [JSONValue.array(plans.map { .string($0.id) }).text])
        }
        try db.run("UPDATE judged_plan SET checked_at = ? WHERE checked_at <> ?", [stamp, stamp])
        var health: [String: FeedHealth] = [:]
        try db.eachRow("SELECT id, consecutive_failures, last_error, last_success_at, created_at FROM feed") { row in
            let lastSuccess = DirectSQL.text(row, 3)
            health[DirectSQL.text(row, 0) ?? ""] = FeedHealth(
                failures: Int(sqlite3_column_int64(row, 1)), lastError: DirectSQL.text(row, 2), lastSuccessText: lastSuccess,
                lastSuccess: lastSuccess.flatMap(Timestamp.date), created: DirectSQL.text(row, 4).flatMap(Timestamp.date))
        }
        // The alerts whose conditions were worked out now: those of the plans judged again or
        // removed, and every feed's (feed health is judged on every call). The others keep
        // their state. Stored details are only needed for the alerts that resolve now:
        // decoded then, not for every alert on every cycle.
        var stored: [String: AlertRecord] = [:]
        var storedDetails: [String: String] = [:]
        func readAlerts(_ condition: String, _ arguments: StatementArguments, kinds: Set<AlertKind>) throws {
            for row in try db.rows("SELECT key, alert, state, severity, details, message FROM alert \(condition)", arguments) {
                guard let kind = AlertKind(rawValue: row["alert"]), kinds.contains(kind),
                    let severity = Severity(rawValue: row["severity"])
                else { continue }
                let key: String = row["key"]
                storedDetails[key] = row["details"]
                stored[key] = AlertRecord(
                    key: key, kind: kind, firing: (row["state"] as String) == "firing",
                    severity: severity, details: .object([]), message: row["message"])
            }
        }
        if everyAlert || full {
            try readAlerts("", [], kinds: Set(AlertKind.allCases))
        } else {
            for plan in rejudged + removed {
                try readAlerts("WHERE key >= ? AND key < ?", ["\(plan)/", "\(plan)0"], kinds: AlertKind.planScoped)
            }
            try readAlerts("WHERE key >= 'feed/' AND key < 'feed0'", [], kinds: AlertKind.feedScoped)
        }
        let actions = Judging.actions(
            plans: judgedPlans, feedConditions: Judging.feedConditions(feeds, health: health, now: now), stored: stored,
            details: { key in storedDetails[key].flatMap { try? JSONParser.parse(Array($0.utf8)) } ?? .object([]) })
        var events: [StoredEvent] = []
        var seq = try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq), 0) FROM alert_event")) ?? 0
        for action in actions {
            seq += 1
            let object = AlertMachine.logObject(seq: seq, time: stamp, action: action)
            let line = object.text
            try db.run(
                """
                INSERT INTO alert_event (seq, time, key, event, alert, severity, line) VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    seq, stamp, action.key, action.event.rawValue, action.kind.rawValue,
                    action.severity.rawValue, line,
                ])
            try db.run(
                """
                INSERT INTO alert (key, alert, state, severity, details, message, since, last_seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET state = excluded.state, severity = excluded.severity,
                    details = excluded.details, message = excluded.message, since = excluded.since,
                    last_seq = excluded.last_seq
                """,
                [
                    action.key, action.kind.rawValue, action.event == .firing ? "firing" : "resolved",
                    action.severity.rawValue, action.details.text, action.message, stamp, seq,
                ])
            events.append(StoredEvent(seq: seq, line: line, action: action, object: object))
        }
        return Judgement(verdicts: judgedPlans.flatMap(\.verdicts), events: events, rejudged: rejudged)
    }

    /// The observations of `feeds` for the plan's indicators in `years`, found by primary-key
    /// range seeks (feed, indicator, period prefix): only this plan's rows are read, however
    /// many plans share its indicator codes.
    static func loadObservations(_ db: Database, plan: Plan, feeds: [String], years: Set<Int>) throws -> [Observation] {
        guard !feeds.isEmpty, !years.isEmpty else { return [] }
        var ranges: [(Int, Int)] = []
        for year in years.sorted() {
            if let last = ranges.last, last.1 + 1 == year { ranges[ranges.count - 1].1 = year } else { ranges.append((year, year)) }
        }
        let sql = """
            SELECT indicator, period, measure, cumulative, base_year, value, unit, note FROM observation
            WHERE feed_id = ? AND indicator = ? AND period >= ? AND period < ?
            """
        var result: [Observation] = []
        // Stepped through the SQLite C API (GRDB's row decoding was most of judging's time).
        for feed in feeds {
            for indicator in plan.indicators {
                for (first, last) in ranges {
                    try db.eachRow(
                        sql,
                        bind: { select in
                            DirectSQL.bind(select, 1, feed)
                            DirectSQL.bind(select, 2, indicator.code)
                            DirectSQL.bind(select, 3, String(first))
                            DirectSQL.bind(select, 4, String(last + 1))
                        }
                    ) { select in
                        func text(_ column: Int32) -> String? { DirectSQL.text(select, column) }
                        guard let periodText = text(1), let period = try? Period(parsing: periodText),
                            let measure = text(2).flatMap(Measure.init(rawValue:)), let value = text(5).flatMap({ Figure($0) })
                        else { return }
                        let base = Int(sqlite3_column_int64(select, 4))
                        result.append(
                            Observation(
                                indicator: indicator.code, period: period, measure: measure, value: value,
                                unit: text(6), cumulative: sqlite3_column_int64(select, 3) != 0,
                                baseYear: base == 0 ? nil : base, note: text(7), feed: feed))
                    }
                }
            }
        }
        return result
    }

    /// Stamps every verdict of `plan` as evaluated now (rows already stamped are not rewritten).
    static func markEvaluated(_ db: Database, plan: String, stamp: String) throws {
        try db.run("UPDATE verdict SET evaluated_at = ? WHERE plan_id = ? AND evaluated_at <> ?", [stamp, plan, stamp])
    }

    static func storeVerdicts(_ db: Database, plan: String, verdicts: [Verdict], stamp: String) throws {
        var previous: [String: (status: String, json: String)] = [:]
        for row in try db.rows("SELECT indicator, year, status, json FROM verdict WHERE plan_id = ?", [plan]) {
            previous["\(row[0] as String)/\(row[1] as Int)"] = (row[2], row[3])
        }
        var kept: Set<String> = []
        for v in verdicts {
            let id = "\(v.indicator)/\(v.year)"
            kept.insert(id)
            let json = v.json
            let text = json.text
            // Most cycles change no verdict: those rows only get the new evaluated_at (below).
            if previous[id]?.json == text { continue }
            let changed = previous[id]?.status != v.status.rawValue
            try db.run(
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
                    plan, v.indicator, v.year, v.status.rawValue, v.rule.rawValue, v.measure?.rawValue,
                    v.actual?.description, v.threshold?.description, v.shortfall?.description, v.unit,
                    v.period?.description, v.cumulative ? 1 : 0, v.feed, v.severity?.rawValue, v.derived ? 1 : 0,
                    json["conflicts"]?.text ?? "[]", text, stamp, stamp, changed,
                ])
        }
        try markEvaluated(db, plan: plan, stamp: stamp)
        for id in previous.keys where !kept.contains(id) {
            let parts = id.split(separator: "/")
            try db.run(
                "DELETE FROM verdict WHERE plan_id = ? AND indicator = ? AND year = ?",
                [plan, String(parts[0]), Int(parts[1]) ?? 0])
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

    /// The `seq` of the newest event (0 when there is none).
    public func lastEventSeq() async throws(MirrorError) -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM alert_event") ?? 0 }
    }

    /// How far a sink got: the `seq` through which it has every event, nil for a sink the
    /// mirror has not seen yet.
    public func sinkCursor(_ sink: String) async throws(MirrorError) -> Int? {
        try await read { db in try Int.fetchOne(db, sql: "SELECT delivered_seq FROM sink_cursor WHERE sink = ?", arguments: [sink]) }
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
