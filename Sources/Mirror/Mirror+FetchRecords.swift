import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

extension Mirror {
    /// Every feed's remembered state, by id.
    public func feedStates() async throws(MirrorError) -> [String: FeedState] {
        try await read { db in
            var states: [String: FeedState] = [:]
            try db.eachRow(
                """
                SELECT id, etag, last_modified, body_sha256, consecutive_failures, last_attempt_at, last_success_at,
                       last_error, last_fetch_id, created_at FROM feed
                """
            ) { row in
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
        try db.runBound(
            """
            INSERT INTO fetch (feed_id, started_at, finished_at, outcome, http_status, bytes, duration_ms, connect_ms,
                               first_byte_ms, attempts, url, etag, last_modified, body_sha256, content_type, error)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(r.feed), .text(Timestamp.string(r.startedAt)), .text(Timestamp.string(r.finishedAt)), .text(r.outcome.rawValue),
                .integer(r.httpStatus.map(Int64.init)), .integer(Int64(r.bytes)), .real(r.durationMs), .real(r.connectMs),
                .real(r.firstByteMs), .integer(Int64(r.attempts)), .text(r.url), .text(r.etag), .text(r.lastModified),
                .text(r.bodySHA256), .text(r.contentType), .text(r.error),
            ])
        let id = db.lastInsertedRowID
        try db.runBound(
            "INSERT INTO fetch_count (feed_id, outcome, n) VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1",
            [.text(r.feed), .text(r.outcome.rawValue)])
        return id
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
        try db.runBound(
            """
            UPDATE feed SET consecutive_failures = consecutive_failures + 1, last_fetch_id = ?,
                last_attempt_at = ?, last_error = ? WHERE id = ?
            """, [.integer(fetchID), .text(Timestamp.string(record.finishedAt)), .text(record.error), .text(record.feed)])
    }

    /// The feed's state after a successful fetch (and `addedObservations` more observations).
    static func markSuccess(_ db: Database, record: FetchRecord, fetchID: Int64, addedObservations: Int = 0) throws {
        let finished = Timestamp.string(record.finishedAt)
        try db.runBound(
            """
            UPDATE feed SET consecutive_failures = 0, last_fetch_id = ?, last_attempt_at = ?, last_success_at = ?,
                last_error = NULL, etag = ?, last_modified = ?, body_sha256 = COALESCE(?, body_sha256),
                observation_count = observation_count + ? WHERE id = ?
            """,
            [
                .integer(fetchID), .text(finished), .text(finished), .text(record.etag), .text(record.lastModified),
                .text(record.bodySHA256), .integer(Int64(addedObservations)), .text(record.feed),
            ])
    }

    /// Deletes fetch rows finished before `cutoff` that nothing points at: fetches that
    /// inserted or revised no observation (observations and revisions name only those) and
    /// are no feed's last fetch. Their counts stay in `fetch_count`. Returns how many went.
    @discardableResult
    public func pruneFetches(before cutoff: Date) async throws(MirrorError) -> Int {
        let stamp = Timestamp.string(cutoff)
        return try await write { db in
            try db.run(
                """
                DELETE FROM fetch WHERE finished_at < ? AND inserted = 0 AND revised = 0
                    AND id NOT IN (SELECT last_fetch_id FROM feed WHERE last_fetch_id IS NOT NULL)
                """, [stamp])
            return db.changesCount
        }
    }
}
