import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

extension Mirror {
    /// A plan's verdicts judged on the figures as the mirror knew them at `time`
    /// (docs/plans.md, "As of"): a figure counts from the fetch that first brought it, with
    /// the value it had then — a value revised later shows its earlier value, from the
    /// revision history. Nothing is stored.
    /// - Parameter priorities: each feed's priority (the plan's feeds only are read).
    public func verdicts(plan: Plan, priorities: [String: Int], asOf time: Date, years: Set<Int>? = nil) async throws(MirrorError)
        -> [Verdict]
    {
        let stamp = Timestamp.string(time)
        let observations = try await read { db in try Mirror.observations(db, plan: plan, feeds: priorities.keys.sorted(), asOf: stamp) }
        return Evaluation.verdicts(plan: plan, index: ObservationIndex(observations, priorities: priorities), years: years)
    }

    /// The plan's observations as known at `stamp` (RFC 3339, UTC).
    static func observations(_ db: Database, plan: Plan, feeds: [String], asOf stamp: String) throws -> [Observation] {
        let sql = """
            SELECT o.indicator, o.period, o.measure, o.cumulative, o.base_year,
                COALESCE((
                    SELECT r.old_value FROM revision r
                    WHERE r.indicator = o.indicator AND r.period = o.period AND r.measure = o.measure
                        AND r.cumulative = o.cumulative AND r.base_year = o.base_year AND r.feed_id = o.feed_id
                        AND r.revised_at > ?2
                    ORDER BY r.id LIMIT 1
                ), o.value)
            FROM observation o JOIN fetch f ON f.id = o.first_fetch_id
            WHERE o.feed_id = ?1 AND f.finished_at <= ?2
            """
        let codes = Set(plan.indicators.map(\.code))
        var result: [Observation] = []
        for feed in feeds {
            try db.eachRow(
                sql,
                bind: { select in
                    DirectSQL.bind(select, 1, feed)
                    DirectSQL.bind(select, 2, stamp)
                }
            ) { row in
                guard let indicator = DirectSQL.text(row, 0), codes.contains(indicator),
                    let period = DirectSQL.bytes(row, 1).flatMap(Period.init(utf8:)),
                    let measure = DirectSQL.bytes(row, 2).flatMap(Measure.init(utf8:)),
                    let value = DirectSQL.bytes(row, 5).flatMap(Figure.init(utf8:))
                else { return }
                let base = Int(sqlite3_column_int64(row, 4))
                result.append(
                    Observation(
                        indicator: indicator, period: period, measure: measure, value: value,
                        cumulative: sqlite3_column_int64(row, 3) != 0, baseYear: base == 0 ? nil : base, feed: feed))
            }
        }
        return result
    }
}
