import Dispatch
import GRDB
import Synchronization

/// Group commit for per-feed writes: writes that arrive while the writer is busy share the
/// next transaction, each inside its own savepoint. A write that throws rolls back only its
/// savepoint (its feed changes nothing); the others still commit. Callers resume only after
/// the commit, so "returned" still means "durable in the WAL", exactly as with one
/// transaction per write — only the per-transaction cost (BEGIN, COMMIT, WAL frame) is shared.
final class GroupCommit: Sendable {
    private struct Pending: Sendable {
        /// Runs the write inside its savepoint; returns what to do once the batch committed.
        let run: @Sendable (Database) throws -> @Sendable () -> Void
        let fail: @Sendable (any Error) -> Void
        /// Runs after the transaction ended, whatever happened to it.
        var finished: @Sendable () -> Void = {}
    }

    private struct State {
        var pending: [Pending] = []
        var draining = false
        /// A drain is set to start when its gather time ends (an awaited write may start it now).
        var gathering = false
        var transactions = 0
        /// The first failure of a `writeLater` since the last barrier.
        var laterError: (any Error)?
    }

    private let pool: DatabasePool
    private let state = Mutex(State())
    /// How long the first write of a batch waits for others before the transaction starts.
    /// Fetches finish a few hundred microseconds apart; without the wait an idle writer took
    /// them one by one and a 500-feed cycle still paid for hundreds of commits.
    private let gather: DispatchTimeInterval
    /// The gather time of a batch started by a `writeLater`: nobody waits for it, so it waits
    /// longer and a 500-feed cycle commits a handful of times rather than a few dozen. An
    /// awaited write arriving meanwhile starts the batch at once.
    private let laterGather: DispatchTimeInterval
    private let timerQueue = DispatchQueue(label: "plansync.group-commit")
    /// Called on the writer after each transaction ends (committed or not), before anyone
    /// resumes and before the writer does anything else.
    private let committed: @Sendable (Database) -> Void

    init(
        pool: DatabasePool, gather: DispatchTimeInterval = .milliseconds(2), laterGather: DispatchTimeInterval = .milliseconds(8),
        committed: @escaping @Sendable (Database) -> Void = { _ in }
    ) {
        self.pool = pool
        self.gather = gather
        self.laterGather = laterGather
        self.committed = committed
    }

    /// How many shared transactions ran so far (for tests and diagnostics).
    var transactions: Int { state.withLock { $0.transactions } }

    /// Runs `body` in the next shared transaction and returns its result once committed.
    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue(
                awaited: true,
                Pending(
                    run: { db in
                        let value = try body(db)
                        return { continuation.resume(returning: value) }
                    },
                    fail: { continuation.resume(throwing: $0) }))
        }
    }

    /// Queues `body` for the next shared transaction without waiting for it; its failure is
    /// kept and thrown by the next `barrier()`. Writes commit in the order they were queued.
    /// `finished` runs once its transaction ended, committed or not.
    func writeLater(_ body: @Sendable @escaping (Database) throws -> Void, finished: @escaping @Sendable () -> Void = {}) {
        enqueue(
            awaited: false,
            Pending(
                run: { db in
                    try body(db)
                    return {}
                },
                fail: { error in self.state.withLock { $0.laterError = $0.laterError ?? error } },
                finished: finished))
    }

    /// Waits until every write queued before it has committed (or failed); throws the first
    /// failure of a `writeLater` since the last barrier.
    func barrier() async throws {
        try await write { _ in }
        if let error = state.withLock({ state -> (any Error)? in
            defer { state.laterError = nil }
            return state.laterError
        }) {
            throw error
        }
    }

    private enum Start { case none, after(DispatchTimeInterval), now }

    private func enqueue(awaited: Bool, _ pending: Pending) {
        let start = state.withLock { state -> Start in
            state.pending.append(pending)
            if !state.draining {
                state.draining = true
                state.gathering = true
                return .after(awaited ? gather : laterGather)
            }
            if awaited, state.gathering, laterGather != gather {
                state.gathering = false
                return .now
            }
            return .none
        }
        switch start {
        case .none: break
        case .now: startDrain()
        case .after(let delay): timerQueue.asyncAfter(deadline: .now() + delay) { self.startDrain() }
        }
    }

    /// Hands the waiting writes to the writer. Two drains may end up queued (a timer and an
    /// awaited write); the second finds nothing or only newer writes, which is harmless.
    private func startDrain() {
        pool.asyncWriteWithoutTransaction { db in self.drain(db) }
    }

    /// On the writer: commits batches until no write is waiting.
    private func drain(_ db: Database) {
        while true {
            let batch = state.withLock { state -> [Pending] in
                state.gathering = false
                if state.pending.isEmpty { state.draining = false } else { state.transactions += 1 }
                defer { state.pending.removeAll(keepingCapacity: false) }
                return state.pending
            }
            if batch.isEmpty { return }
            commit(batch[...], db)
        }
    }

    /// Commits `batch` in one transaction, a savepoint per write. Should SQLite roll the whole
    /// transaction back by itself (disk full, I/O error), the writes before the failure report
    /// that error and the rest of the batch is committed in a new transaction.
    private func commit(_ batch: ArraySlice<Pending>, _ db: Database) {
        var succeeded: [(Pending, @Sendable () -> Void)] = []
        var failed: [(Pending, any Error)] = []
        var rest: ArraySlice<Pending> = []
        do {
            try db.inTransaction {
                for index in batch.indices {
                    let pending = batch[index]
                    do {
                        // Savepoints through cached statements stepped directly (GRDB's
                        // inSavepoint prepares its statements on every call, a third of a small
                        // feed's write). No transaction observer is registered on this pool, so
                        // GRDB has no savepoint stack to keep in step.
                        try db.runBound("SAVEPOINT feed", [])
                        do {
                            let resume = try pending.run(db)
                            try db.runBound("RELEASE SAVEPOINT feed", [])
                            succeeded.append((pending, resume))
                        } catch {
                            if db.isInsideTransaction {
                                try? db.runBound("ROLLBACK TO SAVEPOINT feed", [])
                                try? db.runBound("RELEASE SAVEPOINT feed", [])
                            }
                            throw error
                        }
                    } catch {
                        failed.append((pending, error))
                        if !db.isInsideTransaction {
                            rest = batch[(index + 1)...]
                            throw error
                        }
                    }
                }
                return .commit
            }
        } catch {
            // BEGIN or COMMIT failed, or the transaction was lost: nothing stored so far.
            for (pending, _) in succeeded { pending.fail(error) }
            succeeded = []
        }
        committed(db)
        for (_, resume) in succeeded { resume() }
        for (pending, error) in failed { pending.fail(error) }
        for pending in batch[..<(rest.isEmpty ? batch.endIndex : rest.startIndex)] { pending.finished() }
        if !rest.isEmpty { commit(rest, db) }
    }
}

extension Database {
    /// Executes `sql` through the connection's statement cache: prepared once per
    /// connection instead of on every call (preparing dominated per-feed writes).
    func run(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    /// All rows of a cached statement.
    func rows(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws -> [Row] {
        try Row.fetchAll(cachedStatement(sql: sql), arguments: arguments)
    }

    /// The first row of a cached statement.
    func row(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
