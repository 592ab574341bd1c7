import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

/// A feed as the mirror records it (its URL already stripped of credentials).
public struct FeedDescription: Sendable {
    public var id: String
    public var plan: String
    public var url: String
    public var format: String
    public var priority: Int
    public var interval: Double

    public init(id: String, plan: String, url: String, format: String, priority: Int, interval: Double) {
        self.id = id
        self.plan = plan
        self.url = url
        self.format = format
        self.priority = priority
        self.interval = interval
    }
}

/// What the mirror remembers of a feed between fetches.
public struct FeedState: Sendable, Equatable {
    public var id: String
    public var etag: String?
    public var lastModified: String?
    public var bodySHA256: String?
    public var consecutiveFailures: Int
    public var lastAttemptAt: Date?
    public var lastSuccessAt: Date?
    public var lastError: String?
    public var lastFetchID: Int64?
    public var createdAt: Date
}

/// One fetch attempt cycle, as stored in the `fetch` table.
public struct FetchRecord: Sendable {
    public var feed: String
    public var startedAt: Date
    public var finishedAt: Date
    /// A fetch outcome (`ok`, `not_modified`, `timeout`, ...) or `parse_error`.
    public var outcome: String
    public var httpStatus: Int?
    public var bytes: Int
    public var durationMs: Double?
    public var connectMs: Double?
    public var firstByteMs: Double?
    public var attempts: Int
    public var url: String?
    public var etag: String?
    public var lastModified: String?
    public var bodySHA256: String?
    public var contentType: String?
    /// Bounded to `DisplayText.messageLimit` characters: it may quote a feed's body.
    public var error: String? { didSet { if let error, error.utf8.count > DisplayText.messageLimit { self.error = DisplayText.message(error) } } }

    public init(feed: String, startedAt: Date, finishedAt: Date, outcome: String, httpStatus: Int? = nil, bytes: Int = 0,
                durationMs: Double? = nil, connectMs: Double? = nil, firstByteMs: Double? = nil, attempts: Int = 1,
                url: String? = nil, etag: String? = nil, lastModified: String? = nil, bodySHA256: String? = nil,
                contentType: String? = nil, error: String? = nil) {
        self.feed = feed
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.bytes = bytes
        self.durationMs = durationMs
        self.connectMs = connectMs
        self.firstByteMs = firstByteMs
        self.attempts = attempts
        self.url = url
        self.etag = etag
        self.lastModified = lastModified
        self.bodySHA256 = bodySHA256
        self.contentType = contentType
        self.error = error.map { DisplayText.message($0) }
    }
}

/// What a reconciliation did.
public struct ReconcileCounts: Sendable, Equatable {
    public var inserted = 0
    public var revised = 0
    public var unchanged = 0
    public var skipped = 0
    /// Of the unchanged values, how many got a new unit or note.
    public var annotated = 0

    public init(inserted: Int = 0, revised: Int = 0, unchanged: Int = 0, skipped: Int = 0, annotated: Int = 0) {
        self.inserted = inserted
        self.revised = revised
        self.unchanged = unchanged
        self.skipped = skipped
        self.annotated = annotated
    }

    /// Whether any stored observation changed (what judging reads).
    public var changedObservations: Bool { inserted + revised + annotated > 0 }
}

extension Mirror {
    /// Copies plans (indicators, targets) and feeds from the configuration into the mirror,
    /// so the file explains itself. Plans no longer configured are removed (their observations
    /// stay); feeds no longer configured are marked inactive.
    public func mirrorConfiguration(plans: [(plan: Plan, file: String)], feeds: [FeedDescription], now: Date) async throws(MirrorError) {
        let stamp = Timestamp.string(now)
        let planList = plans.map { ($0.plan, $0.file) }
        try await write { db in
            let ids = planList.map(\.0.id)
            let existing = try String.fetchAll(db.cachedStatement(sql: "SELECT id FROM plan"))
            for id in existing where !ids.contains(id) {
                try db.run("DELETE FROM plan WHERE id = ?", [id])
                try db.run("DELETE FROM verdict WHERE plan_id = ?", [id])
            }
            for (plan, file) in planList {
                // A plan whose stored rows already say the same is left alone (this runs at the
                // start of every `plansync sync`).
                if try Mirror.storedRows(db, plan: plan.id) == Mirror.rows(of: plan, file: file) { continue }
                try db.run("""
                    INSERT INTO plan (id, title, title_en, region, file, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET title = excluded.title, title_en = excluded.title_en,
                        region = excluded.region, file = excluded.file, updated_at = excluded.updated_at
                    """, [plan.id, plan.title, plan.titleEN, plan.region, file, stamp])
                try db.run("DELETE FROM indicator WHERE plan_id = ?", [plan.id])
                for (position, indicator) in plan.indicators.enumerated() {
                    try db.run("""
                        INSERT INTO indicator (plan_id, code, position, name, name_en, category, unit)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """, [plan.id, indicator.code, position, indicator.name, indicator.nameEN,
                                         indicator.category.rawValue, indicator.unit])
                    for target in indicator.targets {
                        try db.run("""
                            INSERT INTO target (plan_id, indicator, year, rule, value, base_year, text)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            """, [plan.id, indicator.code, target.year, target.rule.name,
                                             target.rule.value?.description, target.rule.baseYear, target.text])
                    }
                }
            }
            // Feeds no longer configured become inactive; configured ones are inserted or, when
            // something changed, updated. Stored rows are read once and compared here, so an
            // unchanged configuration of 500 feeds costs one query rather than 500 upserts.
            var stored: [String: [DatabaseValue]] = [:]
            for row in try db.rows("SELECT id, plan_id, url, format, priority, interval_seconds, active FROM feed") {
                stored[row[0]] = Array(row.databaseValues.dropFirst())
            }
            let configured = Set(feeds.map(\.id))
            if stored.contains(where: { !configured.contains($0.key) && $0.value.last != 0.databaseValue }) {
                try db.run("UPDATE feed SET active = 0 WHERE active = 1 AND id NOT IN (SELECT value FROM json_each(?))",
                           [JSONValue.array(feeds.map { .string($0.id) }).text])
            }
            for feed in feeds {
                let wanted = [feed.plan.databaseValue, feed.url.databaseValue, feed.format.databaseValue,
                              feed.priority.databaseValue, feed.interval.databaseValue, 1.databaseValue]
                if stored[feed.id] == wanted { continue }
                try db.runBound("""
                    INSERT INTO feed (id, plan_id, url, format, priority, interval_seconds, active, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                    ON CONFLICT(id) DO UPDATE SET plan_id = excluded.plan_id, url = excluded.url,
                        format = excluded.format, priority = excluded.priority,
                        interval_seconds = excluded.interval_seconds, active = 1
                    """, [.text(feed.id), .text(feed.plan), .text(feed.url), .text(feed.format), .integer(Int64(feed.priority)),
                          .real(feed.interval), .text(stamp)])
            }
        }
    }

    /// A plan as the rows `mirrorConfiguration` stores: the plan, its indicators in order,
    /// their targets by indicator and year.
    static func rows(of plan: Plan, file: String) -> [[DatabaseValue]] {
        var rows: [[DatabaseValue]] = [[plan.title.databaseValue, plan.titleEN.databaseValue, plan.region.databaseValue, file.databaseValue]]
        for (position, indicator) in plan.indicators.enumerated() {
            rows.append([indicator.code.databaseValue, position.databaseValue, indicator.name.databaseValue,
                         indicator.nameEN.databaseValue, indicator.category.rawValue.databaseValue, indicator.unit.databaseValue])
        }
        let targets = plan.indicators.flatMap { indicator in indicator.targets.map { (indicator.code, $0) } }
            .sorted { ($0.0, $0.1.year) < ($1.0, $1.1.year) }
        for (code, target) in targets {
            rows.append([code.databaseValue, target.year.databaseValue, target.rule.name.databaseValue,
                         target.rule.value?.description.databaseValue ?? .null, target.rule.baseYear.databaseValue,
                         target.text.databaseValue])
        }
        return rows
    }

    /// What the mirror holds for a plan, in the shape of `rows(of:file:)` (empty when none).
    static func storedRows(_ db: Database, plan: String) throws -> [[DatabaseValue]] {
        let head = try db.rows("SELECT title, title_en, region, file FROM plan WHERE id = ?", [plan])
        guard !head.isEmpty else { return [] }
        return try (head + db.rows("SELECT code, position, name, name_en, category, unit FROM indicator WHERE plan_id = ? ORDER BY position", [plan])
            + db.rows("SELECT indicator, year, rule, value, base_year, text FROM target WHERE plan_id = ? ORDER BY indicator, year", [plan]))
            .map { Array($0.databaseValues) }
    }

    /// Every feed's remembered state, by id.
    public func feedStates() async throws(MirrorError) -> [String: FeedState] {
        try await read { db in
            var states: [String: FeedState] = [:]
            try db.eachRow("""
                SELECT id, etag, last_modified, body_sha256, consecutive_failures, last_attempt_at, last_success_at,
                       last_error, last_fetch_id, created_at FROM feed
                """) { row in
                func text(_ column: Int32) -> String? { DirectSQL.text(row, column) }
                let id = text(0) ?? ""
                states[id] = FeedState(
                    id: id, etag: text(1), lastModified: text(2), bodySHA256: text(3),
                    consecutiveFailures: Int(sqlite3_column_int64(row, 4)),
                    lastAttemptAt: text(5).flatMap(Timestamp.date), lastSuccessAt: text(6).flatMap(Timestamp.date),
                    lastError: text(7),
                    lastFetchID: sqlite3_column_type(row, 8) == SQLITE_NULL ? nil : sqlite3_column_int64(row, 8),
                    createdAt: text(9).flatMap(Timestamp.date) ?? Date(timeIntervalSince1970: 0))
            }
            return states
        }
    }

    static func insertFetch(_ db: Database, _ r: FetchRecord) throws -> Int64 {
        try db.runBound("""
            INSERT INTO fetch (feed_id, started_at, finished_at, outcome, http_status, bytes, duration_ms, connect_ms,
                               first_byte_ms, attempts, url, etag, last_modified, body_sha256, content_type, error)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(r.feed), .text(Timestamp.string(r.startedAt)), .text(Timestamp.string(r.finishedAt)), .text(r.outcome),
                  .integer(r.httpStatus.map(Int64.init)), .integer(Int64(r.bytes)), .real(r.durationMs), .real(r.connectMs),
                  .real(r.firstByteMs), .integer(Int64(r.attempts)), .text(r.url), .text(r.etag), .text(r.lastModified),
                  .text(r.bodySHA256), .text(r.contentType), .text(r.error)])
        return db.lastInsertedRowID
    }

    /// Records a failed fetch (or a body that did not parse): only the `fetch` row and the
    /// feed's failure count change.
    @discardableResult
    public func recordFailure(_ record: FetchRecord) async throws(MirrorError) -> Int64 {
        try await feedWrite { db in try Mirror.storeRecord(db, record, failed: true) }
    }

    /// Records a fetch that found the feed unchanged (304, same file, same body hash).
    @discardableResult
    public func recordUnchanged(_ record: FetchRecord) async throws(MirrorError) -> Int64 {
        try await feedWrite { db in try Mirror.storeRecord(db, record, failed: false) }
    }

    /// `recordUnchanged` / `recordFailure` without waiting for the commit: for a cycle of many
    /// feeds, which calls `flushRecords()` before judging (a database failure is thrown there).
    public func recordLater(_ record: FetchRecord, failed: Bool) {
        commits.writeLater { db in _ = try Mirror.storeRecord(db, record, failed: failed) }
    }

    /// Waits for every `recordLater` so far to be committed; throws the first that failed.
    public func flushRecords() async throws(MirrorError) {
        do { try await commits.barrier() } catch { throw MirrorError.wrap(error, path: path) }
    }

    /// A fetch that brought no observations: its `fetch` row and the feed's success or
    /// failure state. Returns the fetch id.
    static func storeRecord(_ db: Database, _ record: FetchRecord, failed: Bool) throws -> Int64 {
        let id = try insertFetch(db, record)
        if failed {
            try markFailure(db, record: record, fetchID: id)
        } else {
            try markSuccess(db, record: record, fetchID: id)
        }
        return id
    }

    static func markFailure(_ db: Database, record: FetchRecord, fetchID: Int64) throws {
        try db.runBound("""
            UPDATE feed SET consecutive_failures = consecutive_failures + 1, last_fetch_id = ?,
                last_attempt_at = ?, last_error = ? WHERE id = ?
            """, [.integer(fetchID), .text(Timestamp.string(record.finishedAt)), .text(record.error), .text(record.feed)])
    }

    /// The feed's state after a successful fetch (and `addedObservations` more observations).
    static func markSuccess(_ db: Database, record: FetchRecord, fetchID: Int64, addedObservations: Int = 0) throws {
        let finished = Timestamp.string(record.finishedAt)
        try db.runBound("""
            UPDATE feed SET consecutive_failures = 0, last_fetch_id = ?, last_attempt_at = ?, last_success_at = ?,
                last_error = NULL, etag = ?, last_modified = ?, body_sha256 = COALESCE(?, body_sha256),
                observation_count = observation_count + ? WHERE id = ?
            """, [.integer(fetchID), .text(finished), .text(finished), .text(record.etag), .text(record.lastModified),
                  .text(record.bodySHA256), .integer(Int64(addedObservations)), .text(record.feed)])
    }

    /// Reconciles one fetched feed into the mirror in a single transaction: new figures are
    /// inserted, changed ones updated with the old value kept in `revision`, identical ones
    /// untouched, and figures missing from the body left as they are.
    public func reconcile(_ record: FetchRecord, plan: String, observations: [Observation],
                          skipped: Int) async throws(MirrorError) -> ReconcileCounts {
        let result = await reconcile(record, plan: plan) { writer in
            for o in observations where !writer.write(o) { break }
            return skipped
        }
        switch result {
        case .success(let counts): return counts
        case .failure(.database(let error)): throw error
        case .failure(.producer(let error)): throw MirrorError(path: path, message: "\(error)")
        }
    }

    /// Streams observations from `produce` into the mirror in one transaction (the body is
    /// parsed inside it, so a million-row feed never sits in memory as a list). If `produce`
    /// throws — a body that does not parse halfway — everything it wrote is rolled back.
    /// - Parameter produce: writes observations to the writer and returns how many records it skipped.
    public func reconcile(_ record: FetchRecord, plan: String,
                          produce: @escaping @Sendable (ObservationWriter) throws -> Int) async -> Result<ReconcileCounts, ReconcileError> {
        do {
            let counts = try await commits.write { db in try self.storeNoting(db, record, plan: plan, produce: produce) }
            return .success(counts)
        } catch let failure as ProducerFailure {
            return .failure(.producer(failure.underlying))
        } catch {
            return .failure(.database(MirrorError.wrap(error, path: path)))
        }
    }

    /// `reconcile` of parsed observations without waiting for the commit: `done` receives the
    /// counts once they are stored (inside the transaction); a database failure is thrown by
    /// the cycle's `flushRecords()`. Writes commit in the order they were queued.
    public func reconcileLater(_ record: FetchRecord, plan: String, observations: [Observation], skipped: Int,
                               done: @escaping @Sendable (ReconcileCounts) -> Void) {
        commits.writeLater { db in
            done(try self.storeNoting(db, record, plan: plan) { writer in
                for o in observations where !writer.write(o) { break }
                return skipped
            })
        }
    }

    /// `store`, noting for judging (`observationEdits`) when an observation changed.
    func storeNoting(_ db: Database, _ record: FetchRecord, plan: String,
                     produce: (ObservationWriter) throws -> Int) throws -> ReconcileCounts {
        let counts = try Mirror.store(db, record, plan: plan, produce: produce)
        if counts.changedObservations { observationEdits.add(1, ordering: .relaxed) }
        return counts
    }

    /// One fetch's observations, its `fetch` row and its feed's state, inside the caller's
    /// transaction (savepoint). A producer's failure is thrown as `ProducerFailure`.
    static func store(_ db: Database, _ record: FetchRecord, plan: String,
                      produce: (ObservationWriter) throws -> Int) throws -> ReconcileCounts {
        let fetchID = try Mirror.insertFetch(db, record)
        let writer = try ObservationWriter(db: db, plan: plan, feed: record.feed, fetchID: fetchID,
                                           stamp: Timestamp.string(record.finishedAt))
        var skipped = 0
        do {
            skipped = try produce(writer)
        } catch {
            if let databaseError = writer.error { throw databaseError }
            throw ProducerFailure(underlying: error)
        }
        if let databaseError = writer.error { throw databaseError }
        var counts = writer.counts
        counts.skipped = skipped
        try db.runBound("UPDATE fetch SET inserted = ?, revised = ?, unchanged = ?, skipped = ? WHERE id = ?",
                        [.integer(Int64(counts.inserted)), .integer(Int64(counts.revised)), .integer(Int64(counts.unchanged)),
                         .integer(Int64(counts.skipped)), .integer(fetchID)])
        // The observation count is kept here so status and metrics never count a million rows.
        try Mirror.markSuccess(db, record: record, fetchID: fetchID, addedObservations: counts.inserted)
        return counts
    }
}

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
        let insert = try db.cachedStatement(sql: """
            INSERT INTO observation (plan_id, feed_id, indicator, period, measure, cumulative, base_year, value,
                                     value_num, unit, note, first_fetch_id, fetch_id, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """)
        let select = try db.cachedStatement(sql: """
            SELECT value, unit, note, fetch_id FROM observation
            WHERE feed_id = ? AND indicator = ? AND period = ? AND measure = ? AND cumulative = ? AND base_year = ?
            """)
        let update = try db.cachedStatement(sql: """
            UPDATE observation SET value = ?, value_num = ?, unit = ?, note = ?, fetch_id = ?, updated_at = ?
            WHERE feed_id = ? AND indicator = ? AND period = ? AND measure = ? AND cumulative = ? AND base_year = ?
            """)
        let annotate = try db.cachedStatement(sql: """
            UPDATE observation SET unit = ?, note = ?
            WHERE feed_id = ? AND indicator = ? AND period = ? AND measure = ? AND cumulative = ? AND base_year = ?
            """)
        let revise = try db.cachedStatement(sql: """
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
