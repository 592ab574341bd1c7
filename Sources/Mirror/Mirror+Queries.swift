import Foundation
import GRDB
import PlanCore

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
            ("revisions", .array(revisions.map {
                .object([("value", Figure($0.value).map(JSONValue.figure) ?? .string($0.value)),
                         ("replaced_by", Figure($0.replacedBy).map(JSONValue.figure) ?? .string($0.replacedBy)),
                         ("replaced_at", .string($0.replacedAt)), ("fetch", .int(Int($0.fetchID)))])
            })),
        ])
    }
}

extension Mirror {
    /// The values and revisions of one indicator (in every plan that has it), newest period first.
    public func history(indicator: String) async throws(MirrorError) -> [HistoryEntry] {
        try await read { db in
            let rows = try db.rows("""
                SELECT o.*, COALESCE(f.priority, 0) AS priority FROM observation o LEFT JOIN feed f ON f.id = o.feed_id
                WHERE o.indicator = ?
                """, [indicator])
            var entries: [HistoryEntry] = []
            for row in rows {
                let base: Int = row["base_year"]
                let revisions = try db.rows("""
                    SELECT old_value, new_value, revised_at, fetch_id FROM revision
                    WHERE feed_id = ? AND indicator = ? AND period = ? AND measure = ? AND cumulative = ? AND base_year = ?
                    ORDER BY id DESC
                    """, [row["feed_id"], indicator, row["period"], row["measure"], row["cumulative"], base])
                entries.append(HistoryEntry(
                    plan: row["plan_id"], feed: row["feed_id"], priority: row["priority"], period: row["period"],
                    measure: row["measure"], cumulative: (row["cumulative"] as Int) != 0, baseYear: base == 0 ? nil : base,
                    value: row["value"], unit: row["unit"], note: row["note"], updatedAt: row["updated_at"],
                    revisions: revisions.map { ($0["old_value"], $0["revised_at"], $0["new_value"], $0["fetch_id"]) }))
            }
            return entries.sorted {
                let a = (try? Period(parsing: $0.period)) ?? .year(0), b = (try? Period(parsing: $1.period)) ?? .year(0)
                if a != b { return a > b }
                if $0.measure != $1.measure { return $0.measure < $1.measure }
                return $0.priority != $1.priority ? $0.priority > $1.priority : $0.feed < $1.feed
            }
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
