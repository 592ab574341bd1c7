import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

/// A feed as the status socket shows it.
public struct FeedStatus: Sendable {
    public var id: String
    public var plan: String
    public var url: String
    public var format: String
    public var priority: Int
    public var active: Bool
    public var etag: String?
    public var lastModified: String?
    public var consecutiveFailures: Int
    public var lastSuccessAt: String?
    public var lastError: String?
    public var lastOutcome: String?
    public var lastHTTPStatus: Int?
    public var lastBytes: Int?
    public var lastDurationMs: Double?
    public var lastFetchAt: String?
    public var fetchCounts: [String: Int]
}

/// Aggregates for `/metrics`.
public struct MirrorMetrics: Sendable {
    public var observationsByPlan: [String: Int]
    public var verdictsByPlanStatus: [String: [String: Int]]
    public var firingBySeverity: [String: Int]
    public var revisions: Int
    public var alertEvents: Int
    /// Firing alerts acknowledged, by severity; silences in force.
    public var acknowledgedBySeverity: [String: Int] = [:]
    public var silencesActive = 0
}

extension Mirror {
    /// `SELECT 1`: true when the database answers.
    public func isHealthy() async -> Bool {
        (try? await read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT 1")) }) == 1
    }

    /// Stored verdicts as their JSON text (docs/plans.md), in plan order — served as stored, so
    /// the status socket does not parse and re-render them per request.
    /// `cached: false` reads without keeping the answer (a streamed answer's pieces).
    public func verdictTexts(plan: String? = nil, year: Int? = nil, cached: Bool = true) async throws(MirrorError) -> [String] {
        let body: @Sendable (Database) throws -> [String] = { db in
            var sql = """
                SELECT v.json FROM verdict v LEFT JOIN indicator i ON i.plan_id = v.plan_id AND i.code = v.indicator
                WHERE 1 = 1
                """
            var arguments: StatementArguments = []
            if let plan { sql += " AND v.plan_id = ?"; arguments += [plan] }
            if let year { sql += " AND v.year = ?"; arguments += [year] }
            sql += " ORDER BY v.plan_id, i.position, v.year"
            return try String.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
        }
        // Group commits write no verdict and no indicator: the answer outlives them.
        return cached ? try await cachedRead(Mirror.verdictsKey(plan: plan, year: year), survivesFeedWrites: true, body) : try await read(body)
    }

    /// The release statuses of `plan`'s watched indicators (or every plan's), as the JSON
    /// members of one array (`Mirror.releasesJSON`'s elements joined by commas; empty when none).
    public func releasesText(plan: String?, cached: Bool = true) async throws(MirrorError) -> String {
        let body: @Sendable (Database) throws -> String = { db in
            var texts: [String] = []
            let sql = "SELECT releases FROM judged_plan WHERE releases IS NOT NULL" + (plan == nil ? " ORDER BY plan_id" : " AND plan_id = ?")
            for text in try String.fetchAll(db.cachedStatement(sql: sql), arguments: plan.map { [$0] } ?? []) {
                texts.append(String(text.dropFirst().dropLast()))
            }
            return texts.joined(separator: ",")
        }
        // judged_plan is written by judging only (never by a group commit).
        return cached ? try await cachedRead("releases \(plan ?? "*")", survivesFeedWrites: true, body) : try await read(body)
    }

    /// `releasesText` from the read cache only.
    public func cachedReleasesText(plan: String) -> String? {
        cache.value("releases \(plan)", at: cache.version())
    }

    /// The earliest moment the clock alone changes a plan's judgement (`judged_plan.recheck_at`),
    /// and the plans due for it at `now`.
    public func recheck(now: Date) async throws(MirrorError) -> (next: Date?, due: [String]) {
        let stamp = Timestamp.string(now)
        return try await read { db in
            let due = try String.fetchAll(db, sql: "SELECT plan_id FROM judged_plan WHERE recheck_at <= ? ORDER BY plan_id", arguments: [stamp])
            let next = try String.fetchOne(db, sql: "SELECT MIN(recheck_at) FROM judged_plan WHERE recheck_at > ?", arguments: [stamp])
            return (next.flatMap(Timestamp.date), due)
        }
    }

    private static func verdictsKey(plan: String?, year: Int?) -> String {
        "verdicts \(plan ?? "*") \(year.map(String.init) ?? "*")"
    }

    /// `verdictTexts` from the read cache only (no database access): nil unless the answer
    /// was read since the mirror last changed.
    public func cachedVerdictTexts(plan: String? = nil, year: Int? = nil) -> [String]? {
        cache.value(Mirror.verdictsKey(plan: plan, year: year), at: cache.version())
    }

    /// `statusCounts` from the read cache only (no database access).
    public func cachedStatusCounts() -> StatusCounts? {
        cache.value("status counts", at: cache.version())
    }

    /// Feed and alert counts for `/v1/status`.
    public typealias StatusCounts = (feeds: Int, failing: Int, critical: Int, warning: Int, events: Int)

    /// Feed and alert counts for `/v1/status`, from small tables only.
    public func statusCounts() async throws(MirrorError) -> StatusCounts {
        try await cachedRead("status counts") { db in
            let feeds = try db.row("SELECT COUNT(*) AS n, COALESCE(SUM(consecutive_failures > 0), 0) AS failing FROM feed WHERE active = 1")
            let alerts = try db.row(
                """
                SELECT COALESCE(SUM(n * (severity = 'critical')), 0) AS critical, COALESCE(SUM(n * (severity = 'warning')), 0) AS warning
                FROM alert_count WHERE state = 'firing'
                """)
            let events = try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq), 0) FROM alert_event")) ?? 0
            return (feeds?["n"] ?? 0, feeds?["failing"] ?? 0, alerts?["critical"] ?? 0, alerts?["warning"] ?? 0, events)
        }
    }

    /// Alerts with their latest event, firing first.
    public func alertsJSON(state: String? = nil) async throws(MirrorError) -> [JSONValue] {
        try await read { db in
            var sql = """
                SELECT a.key, a.alert, a.state, a.severity, a.since, a.message, a.details, e.line,
                       k.id, k.key, k.by, k.note, k.since, k.until, k.until_next_release, k.severity, k.shortfall, k.unit, k.figures_mark
                FROM alert a LEFT JOIN alert_event e ON e.seq = a.last_seq LEFT JOIN ack k ON k.key = a.key AND k.ended_at IS NULL
                """
            if state != nil { sql += " WHERE a.state = ?" }
            sql += " ORDER BY a.state = 'firing' DESC, a.severity = 'critical' DESC, a.since DESC, a.key"
            let silences = try AckBook.load(db).silences
            var alerts: [JSONValue] = []
            try db.eachRow(sql, bind: { if let state { DirectSQL.bind($0, 1, state) } }) { row in
                func text(_ column: Int32) -> String { DirectSQL.text(row, column) ?? "" }
                // Both JSON columns are what plansync wrote: embedded as they are, not parsed back.
                let details = text(6)
                var silencedBy: [JSONValue] = []
                if !silences.isEmpty, text(2) == "firing", let kind = AlertKind(rawValue: text(1)) {
                    let parsed = (try? JSONParser.parse(Array(details.utf8))) ?? .object([])
                    silencedBy = silences.filter { $0.matches(kind: kind, details: parsed) }.map { .int($0.id) }
                }
                alerts.append(
                    JSONValue.object([
                        ("key", .string(text(0))), ("alert", .string(text(1))), ("state", .string(text(2))), ("severity", .string(text(3))),
                        ("since", .string(text(4))), ("message", .string(text(5))), ("details", .raw(details)),
                        ("latest_event", DirectSQL.text(row, 7).map(JSONValue.raw) ?? .null),
                        ("ack", sqlite3_column_type(row, 8) == SQLITE_NULL ? .null : AckBook.acknowledgement(row, from: 8).json()),
                        ("silenced_by", .array(silencedBy)),
                    ]))
            }
            return alerts
        }
    }

    /// Every feed with its last fetch and fetch counts by outcome. Read column by position
    /// (/metrics asks for 2,800 feeds at a time).
    public func feedStatuses() async throws(MirrorError) -> [FeedStatus] {
        try await read { db in
            var counts: [String: [String: Int]] = [:]
            try db.eachRow("SELECT feed_id, outcome, n FROM fetch_count") { row in
                counts[DirectSQL.text(row, 0) ?? "", default: [:]][DirectSQL.text(row, 1) ?? ""] = Int(sqlite3_column_int64(row, 2))
            }
            func int(_ row: OpaquePointer, _ column: Int32) -> Int? {
                sqlite3_column_type(row, column) == SQLITE_NULL ? nil : Int(sqlite3_column_int64(row, column))
            }
            func double(_ row: OpaquePointer, _ column: Int32) -> Double? {
                sqlite3_column_type(row, column) == SQLITE_NULL ? nil : sqlite3_column_double(row, column)
            }
            var feeds: [FeedStatus] = []
            try db.eachRow(
                """
                SELECT f.id, f.plan_id, f.url, f.format, f.priority, f.active, f.etag, f.last_modified,
                       f.consecutive_failures, f.last_success_at, f.last_error,
                       l.outcome, l.http_status, l.bytes, l.duration_ms, l.finished_at
                FROM feed f LEFT JOIN fetch l ON l.id = f.last_fetch_id ORDER BY f.active DESC, f.id
                """
            ) { row in
                let id = DirectSQL.text(row, 0) ?? ""
                feeds.append(
                    FeedStatus(
                        id: id, plan: DirectSQL.text(row, 1) ?? "", url: DirectSQL.text(row, 2) ?? "",
                        format: DirectSQL.text(row, 3) ?? "", priority: int(row, 4) ?? 0, active: int(row, 5) != 0,
                        etag: DirectSQL.text(row, 6), lastModified: DirectSQL.text(row, 7),
                        consecutiveFailures: int(row, 8) ?? 0, lastSuccessAt: DirectSQL.text(row, 9),
                        lastError: DirectSQL.text(row, 10), lastOutcome: DirectSQL.text(row, 11), lastHTTPStatus: int(row, 12),
                        lastBytes: int(row, 13), lastDurationMs: double(row, 14), lastFetchAt: DirectSQL.text(row, 15),
                        fetchCounts: counts[id] ?? [:]))
            }
            return feeds
        }
    }

    /// Counts for `/metrics` and `/v1/status`.
    public func metrics() async throws(MirrorError) -> MirrorMetrics {
        try await read { db in
            var observations: [String: Int] = [:]
            try db.eachRow("SELECT plan_id, SUM(observation_count) FROM feed GROUP BY plan_id") { row in
                observations[DirectSQL.text(row, 0) ?? ""] = Int(sqlite3_column_int64(row, 1))
            }
            var verdicts: [String: [String: Int]] = [:]
            for (plan, summary) in try Mirror.verdictSummaries(db) {
                for (status, n) in summary.counts { verdicts[plan, default: [:]][status.rawValue] = n }
            }
            var firing: [String: Int] = ["warning": 0, "critical": 0]
            for row in try db.rows("SELECT severity, n FROM alert_count WHERE state = 'firing'") {
                firing[row["severity"]] = row["n"]
            }
            var metrics = MirrorMetrics(
                observationsByPlan: observations, verdictsByPlanStatus: verdicts, firingBySeverity: firing,
                revisions: try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(id), 0) FROM revision")) ?? 0,
                alertEvents: try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq), 0) FROM alert_event")) ?? 0)
            metrics.acknowledgedBySeverity = ["warning": 0, "critical": 0]
            for row in try db.rows(
                // CROSS JOIN: from the few acknowledgements to their alerts (left to itself,
                // SQLite scanned every alert, 60 ms at 170,000 of them).
                "SELECT a.severity, COUNT(*) AS n FROM ack k CROSS JOIN alert a ON a.key = k.key WHERE k.ended_at IS NULL AND a.state = 'firing' GROUP BY 1")
            {
                metrics.acknowledgedBySeverity[row["severity"]] = row["n"]
            }
            metrics.silencesActive = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM silence WHERE ended_at IS NULL") ?? 0
            return metrics
        }
    }
}
