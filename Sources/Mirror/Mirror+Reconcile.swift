import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

extension Mirror {
    /// Reconciles one fetched feed into the mirror in a single transaction: new figures are
    /// inserted, changed ones updated with the old value kept in `revision`, identical ones
    /// untouched, and figures missing from the body left as they are.
    public func reconcile(
        _ record: FetchRecord, plan: String, observations: [Observation],
        skipped: Int
    ) async throws(MirrorError) -> ReconcileCounts {
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
    public func reconcile(
        _ record: FetchRecord, plan: String,
        produce: @escaping @Sendable (ObservationWriter) throws -> Int
    ) async -> Result<ReconcileCounts, ReconcileError> {
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
    /// the cycle's `flushRecords()`. Writes commit in the order they were queued. `finished`
    /// runs once the write's transaction ended, committed or not (its rows are freed then).
    public func reconcileLater(
        _ record: FetchRecord, plan: String, observations: [Observation], skipped: Int,
        done: @escaping @Sendable (ReconcileCounts) -> Void, finished: @escaping @Sendable () -> Void = {}
    ) {
        commits.writeLater(
            { db in
                done(
                    try self.storeNoting(db, record, plan: plan) { writer in
                        for o in observations where !writer.write(o) { break }
                        return skipped
                    })
            }, finished: finished)
    }

    /// `store`, noting for judging when an observation changed: the feed's `data_seq` moves
    /// past every other feed's, so the plans reading it are judged again (and only those).
    func storeNoting(
        _ db: Database, _ record: FetchRecord, plan: String,
        produce: (ObservationWriter) throws -> Int
    ) throws -> ReconcileCounts {
        let counts = try Mirror.store(db, record, plan: plan, produce: produce)
        if counts.changedObservations {
            try db.run("UPDATE feed SET data_seq = (SELECT MAX(data_seq) FROM feed) + 1 WHERE id = ?", [record.feed])
        }
        return counts
    }

    /// One fetch's observations, its `fetch` row and its feed's state, inside the caller's
    /// transaction (savepoint). A producer's failure is thrown as `ProducerFailure`.
    static func store(
        _ db: Database, _ record: FetchRecord, plan: String,
        produce: (ObservationWriter) throws -> Int
    ) throws -> ReconcileCounts {
        let fetchID = try Mirror.insertFetch(db, record)
        let writer = try ObservationWriter(
            db: db, plan: plan, feed: record.feed, fetchID: fetchID,
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
        try db.runBound(
            "UPDATE fetch SET inserted = ?, revised = ?, unchanged = ?, skipped = ? WHERE id = ?",
            [
                .integer(Int64(counts.inserted)), .integer(Int64(counts.revised)), .integer(Int64(counts.unchanged)),
                .integer(Int64(counts.skipped)), .integer(fetchID),
            ])
        // The observation count is kept here so status and metrics never count a million rows.
        try Mirror.markSuccess(db, record: record, fetchID: fetchID, addedObservations: counts.inserted)
        return counts
    }
}
