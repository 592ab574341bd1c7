import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

/// Why a streamed reconciliation changed nothing.
public enum ReconcileError: Error {
    /// The producer failed (e.g. the body does not parse); the transaction was rolled back.
    case producer(any Error)
    case database(MirrorError)
}

struct ProducerFailure: Error {
    let underlying: any Error
}

/// Writes one fetch's observations inside its transaction. Not thread-safe; lives only
/// within `Mirror.reconcile`. After `init` it uses the SQLite C API only (no GRDB call), so
/// the writer's thread may hand it to a thread of its own — the daemon stores large bodies
/// on a lowered-priority thread while the writer's queue waits.
public final class ObservationWriter {
    let connection: OpaquePointer?
    let plan: String
    let feed: String
    let fetchID: Int64
    let stamp: String
    private(set) var counts = ReconcileCounts()
    private var lookUpFirst = false
    /// The first database error; writing stops there.
    private(set) var error: (any Error)?
    /// The GRDB statements stay referenced so their SQLite statements stay valid.
    private let statements: [Statement]
    private let insert: OpaquePointer
    private let select: OpaquePointer
    private let update: OpaquePointer
    private let annotate: OpaquePointer
    private let revise: OpaquePointer

    init(db: Database, plan: String, feed: String, fetchID: Int64, stamp: String) throws {
        self.connection = db.sqliteConnection
        self.plan = plan
        self.feed = feed
        self.fetchID = fetchID
        self.stamp = stamp
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO observation (plan_id, feed_id, indicator, period, measure, cumulative, base_year, value,
                                         value_num, unit, note, first_fetch_id, fetch_id, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """)
        let select = try db.cachedStatement(
            sql: """
                SELECT value, unit, note, fetch_id FROM observation
                WHERE feed_id = ? AND indicator = ? AND period = ? AND measure = ? AND cumulative = ? AND base_year = ?
                """)
        let update = try db.cachedStatement(
            sql: """
                UPDATE observation SET value = ?, value_num = ?, unit = ?, note = ?, fetch_id = ?, updated_at = ?
                WHERE feed_id = ? AND indicator = ? AND period = ? AND measure = ? AND cumulative = ? AND base_year = ?
                """)
        let annotate = try db.cachedStatement(
            sql: """
                UPDATE observation SET unit = ?, note = ?
                WHERE feed_id = ? AND indicator = ? AND period = ? AND measure = ? AND cumulative = ? AND base_year = ?
                """)
        let revise = try db.cachedStatement(
            sql: """
                INSERT INTO revision (plan_id, feed_id, indicator, period, measure, cumulative, base_year, old_value,
                                      new_value, old_fetch_id, fetch_id, revised_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        statements = [insert, select, update, annotate, revise]
        self.insert = insert.sqliteStatement
        self.select = select.sqliteStatement
        self.update = update.sqliteStatement
        self.annotate = annotate.sqliteStatement
        self.revise = revise.sqliteStatement
    }

    /// Inserts, revises or leaves one observation; false after a database error.
    /// Every statement binds through the SQLite C API directly: on million-row feeds GRDB's
    /// argument boxing dominated the time.
    @discardableResult
    public func write(_ o: Observation) -> Bool {
        guard error == nil else { return false }
        do {
            let key = o.key
            let period = o.period.description
            let value = o.value.description
            let cumulative: Int64 = key.cumulative ? 1 : 0
            let base = Int64(key.baseYear ?? 0)
            let ins = insert, sel = select
            func tryInsert() throws -> Bool {
                sqlite3_reset(ins)
                bind(ins, 1, plan); bind(ins, 2, feed); bind(ins, 3, o.indicator); bind(ins, 4, period)
                bind(ins, 5, o.measure.rawValue); sqlite3_bind_int64(ins, 6, cumulative); sqlite3_bind_int64(ins, 7, base)
                bind(ins, 8, value); sqlite3_bind_double(ins, 9, o.value.doubleValue); bind(ins, 10, o.unit); bind(ins, 11, o.note)
                sqlite3_bind_int64(ins, 12, fetchID); sqlite3_bind_int64(ins, 13, fetchID); bind(ins, 14, stamp)
                try step(ins)
                return sqlite3_changes(connection) == 1
            }
            func lookUp() -> (value: String, unit: String?, note: String?, fetch: Int64)? {
                sqlite3_reset(sel)
                bind(sel, 1, feed); bind(sel, 2, o.indicator); bind(sel, 3, period); bind(sel, 4, o.measure.rawValue)
                sqlite3_bind_int64(sel, 5, cumulative); sqlite3_bind_int64(sel, 6, base)
                defer { sqlite3_reset(sel) }
                guard sqlite3_step(sel) == SQLITE_ROW else { return nil }
                func column(_ i: Int32) -> String? { DirectSQL.text(sel, i) }
                return (column(0) ?? "", column(1), column(2), sqlite3_column_int64(sel, 3))
            }
            /// Binds the observation's key (feed, indicator, period, measure, cumulative, base year) from `index`.
            func bindKey(_ statement: OpaquePointer, from index: Int32) {
                bind(statement, index, feed); bind(statement, index + 1, o.indicator); bind(statement, index + 2, period)
                bind(statement, index + 3, o.measure.rawValue); sqlite3_bind_int64(statement, index + 4, cumulative)
                sqlite3_bind_int64(statement, index + 5, base)
            }
            // A first sync inserts nearly every row, a re-sync finds nearly every row: try first
            // whatever worked for the previous row, so either costs one statement per row.
            var existing: (value: String, unit: String?, note: String?, fetch: Int64)?
            if lookUpFirst {
                existing = lookUp()
                if existing == nil {
                    lookUpFirst = false
                    if try tryInsert() { counts.inserted += 1 }
                    return true
                }
            } else {
                if try tryInsert() {
                    counts.inserted += 1
                    return true
                }
                lookUpFirst = true
                existing = lookUp()
            }
            guard let existing else { return true }
            if existing.value == value || Figure(existing.value) == o.value {
                counts.unchanged += 1
                if existing.unit != o.unit || existing.note != o.note {
                    counts.annotated += 1
                    sqlite3_reset(annotate)
                    bind(annotate, 1, o.unit); bind(annotate, 2, o.note)
                    bindKey(annotate, from: 3)
                    try step(annotate)
                }
            } else {
                counts.revised += 1
                sqlite3_reset(revise)
                bind(revise, 1, plan); bindKey(revise, from: 2)
                bind(revise, 8, existing.value); bind(revise, 9, value); sqlite3_bind_int64(revise, 10, existing.fetch)
                sqlite3_bind_int64(revise, 11, fetchID); bind(revise, 12, stamp)
                try step(revise)
                sqlite3_reset(update)
                bind(update, 1, value); sqlite3_bind_double(update, 2, o.value.doubleValue); bind(update, 3, o.unit)
                bind(update, 4, o.note); sqlite3_bind_int64(update, 5, fetchID); bind(update, 6, stamp)
                bindKey(update, from: 7)
                try step(update)
            }
            return true
        } catch {
            self.error = error
            return false
        }
    }

    private func bind(_ statement: OpaquePointer, _ index: Int32, _ text: String?) {
        DirectSQL.bind(statement, index, text)
    }

    private func step(_ statement: OpaquePointer) throws {
        try DirectSQL.step(statement, connection: connection)
    }
}
