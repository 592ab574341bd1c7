import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

/// One figure of one feed with its earlier values, for `plansync history`.
public struct HistoryEntry: Sendable {
    public var plan: String
    public var feed: String
    public var priority: Int
    public var period: String
    public var measure: String
    public var cumulative: Bool
    public var baseYear: Int?
    public var value: String
    public var unit: String?
    public var note: String?
    public var updatedAt: String
    /// Earlier values, newest first.
    public var revisions: [(value: String, replacedAt: String, replacedBy: String, fetchID: Int64)]

    /// As JSON (the socket's `/v1/observations` answer uses the same shape).
    public var json: JSONValue {
        .object([
            ("plan", .string(plan)), ("feed", .string(feed)), ("priority", .int(priority)), ("period", .string(period)),
            ("measure", .string(measure)), ("cumulative", .bool(cumulative)), ("base_year", baseYear.map(JSONValue.int) ?? .null),
            ("value", Figure(value).map(JSONValue.figure) ?? .string(value)), ("unit", .optional(unit)), ("note", .optional(note)),
            ("updated_at", .string(updatedAt)),
            (
                "revisions",
                .array(
                    revisions.map {
                        .object([
                            ("value", Figure($0.value).map(JSONValue.figure) ?? .string($0.value)),
                            ("replaced_by", Figure($0.replacedBy).map(JSONValue.figure) ?? .string($0.replacedBy)),
                            ("replaced_at", .string($0.replacedAt)), ("fetch", .int(Int($0.fetchID))),
                        ])
                    })
            ),
        ])
    }
}

/// Where a page of `/v1/observations` ended: the sort key of its last entry. Written as
/// text (`ordinal,measure,priority,cumulative,base_year,feed`) in the answer's `next`, and
/// read back from `?after=`.
public struct HistoryCursor: Sendable, Equatable {
    var periodOrder: Int
    var measure: String
    var priority: Int
    var cumulative: Int
    var baseYear: Int
    var feed: String

    public var text: String { "\(periodOrder),\(measure),\(priority),\(cumulative),\(baseYear),\(feed)" }

    /// Reads a cursor from its text; nil when it is not one this plansync wrote.
    public init?(text: String) {
        let parts = text.split(separator: ",", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, let order = Int(parts[0]), let priority = Int(parts[2]), let cumulative = Int(parts[3]),
            let base = Int(parts[4]), Measure(rawValue: String(parts[1])) != nil, !parts[5].isEmpty
        else { return nil }
        self.init(periodOrder: order, measure: String(parts[1]), priority: priority, cumulative: cumulative, baseYear: base, feed: String(parts[5]))
    }

    init(periodOrder: Int, measure: String, priority: Int, cumulative: Int, baseYear: Int, feed: String) {
        self.periodOrder = periodOrder
        self.measure = measure
        self.priority = priority
        self.cumulative = cumulative
        self.baseYear = baseYear
        self.feed = feed
    }
}

extension Mirror {
    /// `plansync_period_order(period)`: a number that orders period texts as `Period` does
    /// (0 for text that is not a period), so SQLite can sort and page an indicator's history.
    static let periodOrder = DatabaseFunction("plansync_period_order", argumentCount: 1, pure: true) { values in
        guard let text = String.fromDatabaseValue(values[0]), let period = try? Period(parsing: text) else { return 0 }
        return period.ordinal
    }

    /// The history query, newest period first, then measure, highest priority, feed; `after`
    /// continues behind a cursor. Observations are keyed by feed first: the query seeks the
    /// indicator within each feed (every feed ever configured stays in `feed`) instead of
    /// scanning the table. Sort keys are negated where the order is descending, so one
    /// row-value comparison pages it.
    private static func historySQL(after: Bool, limit: Bool) -> String {
        """
        SELECT * FROM (
            SELECT o.feed_id, o.plan_id, o.period, o.measure, o.cumulative, o.base_year, o.value, o.unit, o.note, o.updated_at,
                   COALESCE(f.priority, 0) AS priority, -plansync_period_order(o.period) AS k_period, -COALESCE(f.priority, 0) AS k_priority
            FROM observation o LEFT JOIN feed f ON f.id = o.feed_id
            WHERE o.feed_id IN (SELECT id FROM feed) AND o.indicator = ?)
        \(after ? "WHERE (k_period, measure, k_priority, cumulative, base_year, feed_id) > (?, ?, ?, ?, ?, ?)" : "")
        ORDER BY k_period, measure, k_priority, cumulative, base_year, feed_id
        \(limit ? "LIMIT ?" : "")
        """
    }

    /// Walks one indicator's history in order inside one read, calling `each` per entry
    /// (with its revisions) until it returns false. Memory stays bounded whatever the count:
    /// SQLite sorts (spilling to temporary files when large) and rows are handed on one by one.
    private static func walkHistory(
        _ db: Database, indicator: String, after: HistoryCursor?, limit: Int?,
        _ each: (HistoryEntry, HistoryCursor) throws -> Bool
    ) throws {
        var arguments: [DatabaseValueConvertible?] = [indicator]
        if let after {
            arguments += [-after.periodOrder, after.measure, -after.priority, after.cumulative, after.baseYear, after.feed]
        }
        if let limit { arguments.append(limit) }
        let revisions = try db.cachedStatement(
            sql: """
                SELECT old_value, new_value, revised_at, fetch_id FROM revision
                WHERE indicator = ? AND period = ? AND measure = ? AND cumulative = ? AND base_year = ? AND feed_id = ?
                ORDER BY id DESC
                """)
        let cursor = try Row.fetchCursor(
            db, sql: historySQL(after: after != nil, limit: limit != nil),
            arguments: StatementArguments(arguments))
        while let row = try cursor.next() {
            let base: Int = row["base_year"], cumulative: Int = row["cumulative"]
            let feed: String = row["feed_id"], period: String = row["period"], measure: String = row["measure"]
            let earlier = try Row.fetchAll(revisions, arguments: [indicator, period, measure, cumulative, base, feed])
            let entry = HistoryEntry(
                plan: row["plan_id"], feed: feed, priority: row["priority"], period: period,
                measure: measure, cumulative: cumulative != 0, baseYear: base == 0 ? nil : base,
                value: row["value"], unit: row["unit"], note: row["note"], updatedAt: row["updated_at"],
                revisions: earlier.map { ($0["old_value"], $0["revised_at"], $0["new_value"], $0["fetch_id"]) })
            let key = HistoryCursor(
                periodOrder: -(row["k_period"] as Int), measure: measure, priority: row["priority"],
                cumulative: cumulative, baseYear: base, feed: feed)
            guard try each(entry, key) else { return }
        }
    }

    /// One page of an indicator's values and revisions (in every plan that has it), newest
    /// period first: at most `limit` entries after `after`, and the cursor of the next page
    /// (nil on the last one).
    public func history(
        indicator: String, after: HistoryCursor? = nil,
        limit: Int
    ) async throws(MirrorError) -> (entries: [HistoryEntry], next: HistoryCursor?) {
        try await read { db in
            var entries: [HistoryEntry] = []
            var last: HistoryCursor?
            var more = false
            try Mirror.walkHistory(db, indicator: indicator, after: after, limit: limit + 1) { entry, key in
                guard entries.count < limit else {
                    more = true
                    return false
                }
                entries.append(entry)
                last = key
                return true
            }
            return (entries, more ? last : nil)
        }
    }

    /// Every entry of an indicator's history, in order, handed to `each` as it is read (for
    /// `plansync history`, which prints as it goes); stops when `each` returns false.
    public func streamHistory(indicator: String, _ each: @escaping @Sendable (HistoryEntry) -> Bool) async throws(MirrorError) {
        try await read { db in
            try Mirror.walkHistory(db, indicator: indicator, after: nil, limit: nil) { entry, _ in each(entry) }
        }
    }

    /// Row counts of the main tables (for status and tests).
    public func counts() async throws(MirrorError) -> [String: Int] {
        try await read { db in
            var result: [String: Int] = [:]
            for table in ["plan", "indicator", "target", "feed", "fetch", "observation", "revision", "verdict", "alert", "alert_event"] {
                result[table] = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM \(table)")) ?? 0
            }
            return result
        }
    }
}

/// What the mirror holds for one plan's verdicts without decoding them: counts by status and
/// when the plan was last judged and last checked.
public struct PlanVerdictSummary: Sendable {
    public var counts: [VerdictStatus: Int]
    public var judgedAt: String?
    public var checkedAt: String?
}

extension Mirror {
    /// The stored verdicts of `plan`, decoded, in the plan's order.
    public func storedVerdicts(plan: String) async throws(MirrorError) -> [Verdict] {
        try await verdictTexts(plan: plan, cached: false).compactMap { text in
            (try? JSONParser.parse(Array(text.utf8))).flatMap(Verdict.init(json:))
        }
    }

    /// Every plan's verdict counts by status and judging times.
    public func verdictSummaries() async throws(MirrorError) -> [String: PlanVerdictSummary] {
        try await read { db in try Mirror.verdictSummaries(db) }
    }

    /// `verdictSummaries` inside a read: counted when each plan was judged (a GROUP BY over
    /// every verdict took 100 ms at 2,800 plans); SQLite's `json_each` reads the counts.
    static func verdictSummaries(_ db: Database) throws -> [String: PlanVerdictSummary] {
        var result: [String: PlanVerdictSummary] = [:]
        try db.eachRow("SELECT plan_id, judged_at, checked_at FROM judged_plan") { row in
            guard let plan = DirectSQL.text(row, 0) else { return }
            result[plan] = PlanVerdictSummary(counts: [:], judgedAt: DirectSQL.text(row, 1), checkedAt: DirectSQL.text(row, 2))
        }
        try db.eachRow(
            """
            SELECT j.plan_id, e.key, e.value FROM judged_plan j, json_each(CASE WHEN json_valid(j.status_counts)
                THEN j.status_counts ELSE '{}' END) e WHERE e.type = 'integer'
            """
        ) { row in
            guard let plan = DirectSQL.text(row, 0), let status = DirectSQL.text(row, 1).flatMap(VerdictStatus.init(rawValue:)) else { return }
            result[plan]?.counts[status] = Int(sqlite3_column_int64(row, 2))
        }
        return result
    }
}
