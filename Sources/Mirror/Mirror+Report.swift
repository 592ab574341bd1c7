import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

/// One stored figure of a plan as a report shows it: its value, where and when it was first
/// seen, and the values it replaced.
public struct ReportObservation: Sendable, Equatable {
    public var indicator: String
    public var period: Period
    public var measure: Measure
    public var cumulative: Bool
    public var baseYear: Int?
    /// The exact decimal text as stored.
    public var value: String
    public var unit: String?
    public var feed: String
    public var priority: Int
    /// When the mirror first had this figure (its first fetch's end), RFC 3339 UTC.
    public var firstSeen: String
    public var updatedAt: String
    /// Earlier values, oldest first, with when each was replaced.
    public var revisions: [(value: String, replacedAt: String)]

    public static func == (lhs: ReportObservation, rhs: ReportObservation) -> Bool {
        lhs.indicator == rhs.indicator && lhs.period == rhs.period && lhs.measure == rhs.measure && lhs.cumulative == rhs.cumulative
            && lhs.baseYear == rhs.baseYear && lhs.value == rhs.value && lhs.unit == rhs.unit && lhs.feed == rhs.feed
            && lhs.priority == rhs.priority && lhs.firstSeen == rhs.firstSeen && lhs.updatedAt == rhs.updatedAt
            && lhs.revisions.map(\.value) == rhs.revisions.map(\.value) && lhs.revisions.map(\.replacedAt) == rhs.revisions.map(\.replacedAt)
    }
}

/// A firing alert of one plan, for reports.
public struct ReportAlert: Sendable, Equatable {
    public var key: String
    public var alert: String
    public var severity: String
    public var since: String
    public var message: String
}

/// What a report of one plan reads from the mirror, in one consistent read (its feeds come
/// from `feedStatuses`).
public struct PlanReportRecords: Sendable {
    public var verdicts: [Verdict]
    /// The plan's figures from its configured feeds, by indicator, then period.
    public var observations: [ReportObservation]
    public var alerts: [ReportAlert]
    /// The newest `updated_at` of the plan's figures (nil when it has none).
    public var latestData: String?
    /// When the plan was last judged.
    public var judgedAt: String?
}

extension Mirror {
    /// The stored verdicts, figures (with revisions), firing alerts and feeds of `plan`, read
    /// in one transaction so the parts agree with each other.
    public func reportRecords(plan: String) async throws(MirrorError) -> PlanReportRecords {
        try await read { db in try Mirror.reportRecords(db, plan: plan) }
    }

    /// `reportRecords`, read on the calling thread (the daemon writes its reports on a
    /// thread of lowered priority, off Swift's shared threads).
    public func reportRecordsNow(plan: String) throws(MirrorError) -> PlanReportRecords {
        do { return try pool.read { db in try Mirror.reportRecords(db, plan: plan) } } catch { throw MirrorError.wrap(error, path: path) }
    }

    static func reportRecords(_ db: Database, plan: String) throws -> PlanReportRecords {
        do {
            let verdicts = try String.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT v.json FROM verdict v LEFT JOIN indicator i ON i.plan_id = v.plan_id AND i.code = v.indicator
                        WHERE v.plan_id = ? ORDER BY i.position, v.year
                        """), arguments: [plan]
            ).compactMap { text in (try? JSONParser.parse(Array(text.utf8))).flatMap(Verdict.init(json:)) }
            var revisions: [String: [(value: String, replacedAt: String)]] = [:]
            try db.eachRow(
                """
                SELECT feed_id, indicator, period, measure, cumulative, base_year, old_value, revised_at
                FROM revision WHERE plan_id = ?1 AND feed_id IN (SELECT id FROM feed WHERE plan_id = ?1 AND active = 1)
                ORDER BY id
                """, bind: { DirectSQL.bind($0, 1, plan) }
            ) { row in
                let key = (0..<6).map { DirectSQL.text(row, Int32($0)) ?? "" }.joined(separator: "\u{1F}")
                revisions[key, default: []].append((DirectSQL.text(row, 6) ?? "", DirectSQL.text(row, 7) ?? ""))
            }
            var observations: [ReportObservation] = []
            try db.eachRow(
                """
                SELECT o.feed_id, o.indicator, o.period, o.measure, o.cumulative, o.base_year, o.value, o.unit,
                       f.priority, COALESCE(x.finished_at, o.updated_at), o.updated_at
                FROM feed f JOIN observation o ON o.feed_id = f.id
                LEFT JOIN fetch x ON x.id = o.first_fetch_id
                WHERE f.plan_id = ? AND f.active = 1
                """, bind: { DirectSQL.bind($0, 1, plan) }
            ) { row in
                guard let period = DirectSQL.text(row, 2).flatMap({ try? Period(parsing: $0) }),
                    let measure = DirectSQL.text(row, 3).flatMap(Measure.init(rawValue:))
                else { return }
                let key = (0..<6).map { DirectSQL.text(row, Int32($0)) ?? "" }.joined(separator: "\u{1F}")
                let base = Int(sqlite3_column_int64(row, 5))
                observations.append(
                    ReportObservation(
                        indicator: DirectSQL.text(row, 1) ?? "", period: period, measure: measure,
                        cumulative: sqlite3_column_int64(row, 4) != 0, baseYear: base == 0 ? nil : base,
                        value: DirectSQL.text(row, 6) ?? "", unit: DirectSQL.text(row, 7), feed: DirectSQL.text(row, 0) ?? "",
                        priority: Int(sqlite3_column_int64(row, 8)), firstSeen: DirectSQL.text(row, 9) ?? "",
                        updatedAt: DirectSQL.text(row, 10) ?? "", revisions: revisions[key] ?? []))
            }
            observations.sort {
                ($0.indicator, $0.period.ordinal, $0.measure.rawValue, $1.priority, $0.feed)
                    < ($1.indicator, $1.period.ordinal, $1.measure.rawValue, $0.priority, $1.feed)
            }
            let alerts = try db.rows(
                """
                SELECT key, alert, severity, since, message FROM alert
                WHERE state = 'firing' AND (key LIKE ?1 ESCAPE '\\' OR json_extract(details, '$.plan') = ?2)
                ORDER BY severity = 'critical' DESC, since, key
                """, [Mirror.likePrefix(plan + "/"), plan]
            ).map { ReportAlert(key: $0["key"], alert: $0["alert"], severity: $0["severity"], since: $0["since"], message: $0["message"]) }
            let judgedAt = try String.fetchOne(db.cachedStatement(sql: "SELECT judged_at FROM judged_plan WHERE plan_id = ?"), arguments: [plan])
            return PlanReportRecords(
                verdicts: verdicts, observations: observations, alerts: alerts,
                latestData: observations.map(\.updatedAt).max(), judgedAt: judgedAt)
        }
    }

    /// The plans the alert events `seqs` concern (feed alerts count for their feed's plan).
    public func eventPlans(_ seqs: Range<Int>) async throws(MirrorError) -> Set<String> {
        try await read { db in
            Set(
                try String.fetchAll(
                    db.cachedStatement(
                        sql:
                            "SELECT DISTINCT json_extract(line, '$.plan') FROM alert_event WHERE seq >= ? AND seq < ? AND json_extract(line, '$.plan') IS NOT NULL"
                    ),
                    arguments: [seqs.lowerBound, seqs.upperBound]))
        }
    }

    /// `prefix` as a LIKE pattern matching texts that start with it (`%`, `_` and `\` escaped).
    static func likePrefix(_ prefix: String) -> String {
        var pattern = ""
        for c in prefix {
            if c == "%" || c == "_" || c == "\\" { pattern.append("\\") }
            pattern.append(c)
        }
        return pattern + "%"
    }
}
