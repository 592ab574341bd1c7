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
    /// The acknowledgement in force: who, the explanation, since and until when.
    public var ackBy: String? = nil
    public var ackNote: String? = nil
    public var ackSince: String? = nil
    public var ackUntil: String? = nil
}

/// What a report of one plan reads from the mirror, in one consistent read (its feeds come
/// from `feedStatuses`).
public struct PlanReportRecords: Sendable {
    public var verdicts: [Verdict]
    /// The plan's figures from its configured feeds (in no particular order: `PlanSection`
    /// sorts each indicator's).
    public var observations: [ReportObservation]
    public var alerts: [ReportAlert]
    /// The newest `updated_at` of the plan's figures (nil when it has none).
    public var latestData: String?
    /// When the plan was last judged.
    public var judgedAt: String?
}

extension Mirror {
    /// The stored verdicts, figures, firing alerts and feeds of `plan`, read in one transaction
    /// so the parts agree with each other. `history`: with each figure's earlier values and
    /// when it was first seen (else `revisions` is empty and `firstSeen` is `updatedAt`).
    public func reportRecords(plan: String, history: Bool = true) async throws(MirrorError) -> PlanReportRecords {
        try await read { db in try Mirror.reportRecords(db, plan: plan, history: history) }
    }

    /// `reportRecords`, read on the calling thread (the daemon writes its reports on a
    /// thread of lowered priority, off Swift's shared threads; `plansync report` reads
    /// plans on several threads at once).
    public func reportRecordsNow(plan: String, history: Bool = true) throws(MirrorError) -> PlanReportRecords {
        do { return try pool.read { db in try Mirror.reportRecords(db, plan: plan, history: history) } } catch {
            throw MirrorError.wrap(error, path: path)
        }
    }

    static func reportRecords(_ db: Database, plan: String, history: Bool) throws -> PlanReportRecords {
        do {
            // Verdicts from their columns; the JSON (parsed: slower) only for those with
            // conflicts or pace fields, which have no columns of their own.
            var verdicts: [Verdict] = []
            try db.eachRow(
                """
                SELECT v.indicator, v.year, v.status, v.rule, v.measure, v.actual, v.threshold, v.shortfall, v.unit, v.period,
                       v.cumulative, v.feed, v.severity, v.derived, v.json
                FROM verdict v LEFT JOIN indicator i ON i.plan_id = v.plan_id AND i.code = v.indicator
                WHERE v.plan_id = ? ORDER BY i.position, v.year
                """, bind: { DirectSQL.bind($0, 1, plan) }
            ) { row in
                let json = DirectSQL.text(row, 14) ?? ""
                if !json.hasSuffix(",\"conflicts\":[]}") {
                    if let v = (try? JSONParser.parse(Array(json.utf8))).flatMap(Verdict.init(json:)) { verdicts.append(v) }
                    return
                }
                guard let status = DirectSQL.text(row, 2).flatMap(VerdictStatus.init(rawValue:)),
                    let rule = DirectSQL.text(row, 3).flatMap(RuleKind.init(rawValue:))
                else { return }
                func figure(_ column: Int32) -> Figure? { DirectSQL.text(row, column).flatMap { Figure($0) } }
                verdicts.append(
                    Verdict(
                        plan: plan, indicator: DirectSQL.text(row, 0) ?? "", year: Int(sqlite3_column_int64(row, 1)), status: status,
                        rule: rule, measure: DirectSQL.text(row, 4).flatMap(Measure.init(rawValue:)), actual: figure(5),
                        threshold: figure(6), shortfall: figure(7), unit: DirectSQL.text(row, 8),
                        period: DirectSQL.text(row, 9).flatMap { try? Period(parsing: $0) }, cumulative: sqlite3_column_int64(row, 10) != 0,
                        feed: DirectSQL.text(row, 11), severity: DirectSQL.text(row, 12).flatMap(Severity.init(rawValue:)),
                        derived: sqlite3_column_int64(row, 13) != 0))
            }
            /// A figure's key as the revision and observation rows hold it (short texts: no allocation).
            struct FigureKey: Hashable {
                var feed: String, indicator: String, period: String, measure: String
                var cumulative: Int64, baseYear: Int64
                init(_ row: OpaquePointer) {
                    feed = DirectSQL.text(row, 0) ?? ""
                    indicator = DirectSQL.text(row, 1) ?? ""
                    period = DirectSQL.text(row, 2) ?? ""
                    measure = DirectSQL.text(row, 3) ?? ""
                    cumulative = sqlite3_column_int64(row, 4)
                    baseYear = sqlite3_column_int64(row, 5)
                }
            }
            var revisions: [FigureKey: [(value: String, replacedAt: String)]] = [:]
            if history {
                try db.eachRow(
                    """
                    SELECT feed_id, indicator, period, measure, cumulative, base_year, old_value, revised_at
                    FROM revision WHERE plan_id = ?1 AND feed_id IN (SELECT id FROM feed WHERE plan_id = ?1 AND active = 1)
                    ORDER BY id
                    """, bind: { DirectSQL.bind($0, 1, plan) }
                ) { row in
                    revisions[FigureKey(row), default: []].append((DirectSQL.text(row, 6) ?? "", DirectSQL.text(row, 7) ?? ""))
                }
            }
            var observations: [ReportObservation] = []
            try db.eachRow(
                """
                SELECT o.feed_id, o.indicator, o.period, o.measure, o.cumulative, o.base_year, o.value, o.unit,
                       f.priority, \(history ? "COALESCE(x.finished_at, o.updated_at)" : "NULL"), o.updated_at
                FROM feed f JOIN observation o ON o.feed_id = f.id
                \(history ? "LEFT JOIN fetch x ON x.id = o.first_fetch_id" : "")
                WHERE f.plan_id = ? AND f.active = 1
                """, bind: { DirectSQL.bind($0, 1, plan) }
            ) { row in
                guard let period = DirectSQL.text(row, 2).flatMap({ try? Period(parsing: $0) }),
                    let measure = DirectSQL.text(row, 3).flatMap(Measure.init(rawValue:))
                else { return }
                let base = Int(sqlite3_column_int64(row, 5))
                let updated = DirectSQL.text(row, 10) ?? ""
                observations.append(
                    ReportObservation(
                        indicator: DirectSQL.text(row, 1) ?? "", period: period, measure: measure,
                        cumulative: sqlite3_column_int64(row, 4) != 0, baseYear: base == 0 ? nil : base,
                        value: DirectSQL.text(row, 6) ?? "", unit: DirectSQL.text(row, 7), feed: DirectSQL.text(row, 0) ?? "",
                        priority: Int(sqlite3_column_int64(row, 8)), firstSeen: DirectSQL.text(row, 9) ?? updated,
                        updatedAt: updated, revisions: revisions.isEmpty ? [] : revisions[FigureKey(row)] ?? []))
            }
            // Alert keys start with the plan (`<plan>/…`) or the feed (`feed/<id>/…`): key ranges
            // of the primary key, not a scan of every alert.
            var ranges = [(plan + "/", plan + "0")]
            for feed in try String.fetchAll(db.cachedStatement(sql: "SELECT id FROM feed WHERE plan_id = ?"), arguments: [plan]) {
                ranges.append(("feed/\(feed)/", "feed/\(feed)0"))
            }
            let alerts = try db.rows(
                """
                SELECT a.key, a.alert, a.severity, a.since, a.message, k.by, k.note, k.since AS ack_since, k.until
                FROM alert a LEFT JOIN ack k ON k.key = a.key AND k.ended_at IS NULL
                WHERE a.state = 'firing' AND (\(ranges.map { _ in "(a.key >= ? AND a.key < ?)" }.joined(separator: " OR ")))
                ORDER BY a.severity = 'critical' DESC, a.since, a.key
                """, StatementArguments(ranges.flatMap { [$0.0, $0.1] })
            ).map {
                ReportAlert(
                    key: $0["key"], alert: $0["alert"], severity: $0["severity"], since: $0["since"], message: $0["message"], ackBy: $0["by"],
                    ackNote: $0["note"], ackSince: $0["ack_since"], ackUntil: $0["until"])
            }
            let judgedAt = try String.fetchOne(db.cachedStatement(sql: "SELECT judged_at FROM judged_plan WHERE plan_id = ?"), arguments: [plan])
            return PlanReportRecords(
                verdicts: verdicts, observations: observations, alerts: alerts,
                latestData: observations.map(\.updatedAt).max(), judgedAt: judgedAt)
        }
    }
}
