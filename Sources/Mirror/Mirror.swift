import Foundation
import GRDB
import Synchronization
import PlanCore
import Support

/// A database problem, with the file and what to do about it.
public struct MirrorError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "database \(path): \(message)" }

    /// Maps SQLite and file errors to one line an operator can act on.
    static func wrap(_ error: any Error, path: String) -> MirrorError {
        if let error = error as? MirrorError { return error }
        if let error = error as? DatabaseError {
            let hint: String
            switch error.resultCode {
            case .SQLITE_FULL: hint = " — the disk is full; free space and plansync continues by itself"
            case .SQLITE_READONLY: hint = " — the file or its folder is read-only for this user"
            case .SQLITE_CANTOPEN: hint = " — check that the folder exists and is writable"
            case .SQLITE_NOTADB, .SQLITE_CORRUPT: hint = " — this is not a plansync database (or it is damaged)"
            case .SQLITE_BUSY, .SQLITE_LOCKED: hint = " — another process holds a lock for too long"
            default: hint = ""
            }
            return MirrorError(path: path, message: "\(error.message ?? "\(error.resultCode)") (SQLite \(error.resultCode.rawValue))\(hint)")
        }
        return MirrorError(path: path, message: "\(error)")
    }
}

/// The local SQLite mirror (docs/database.md): plans, feeds, fetches, observations with their
/// revisions, verdicts and alerts. WAL mode, so readers never wait for the writer.
public final class Mirror: Sendable {
    /// The schema version this build writes (also stored in `PRAGMA user_version`).
    public static let schemaVersion = 8

    public let path: String
    let pool: DatabasePool
    /// Per-feed writes (fetch records, reconciliations) share transactions through this.
    let commits: GroupCommit
    /// Status answers kept until the next commit.
    let cache: ReadCache
    /// The writer connection's `PRAGMA data_version` at the last judgement: when it moved,
    /// another connection (the sqlite3 shell, another process) committed, and the next
    /// judgement judges every plan (its edits need not have moved a feed's `data_seq`).
    let judgedDataVersion = Locked<Int?>(nil)
    /// Each plan's inputs SHA-256 (`Judging.inputsBytes`) with the plan and feeds it was
    /// computed from: a daemon's cycle compares values (equal arrays of one configuration
    /// share storage, so this is quick) instead of writing and hashing every plan again.
    let inputsSHA = Locked<[String: (plan: Plan, feeds: [FeedPolicy], sha: String)]>([:])

    /// Threads that judge plans while the writer stores verdicts (the cores, by default).
    let judgingThreads: Int
    /// The nice value of those threads: judging a province takes seconds of both cores, and
    /// the status socket's event loop (nice 0) must get a core at once meanwhile.
    let judgingNiceness: Int32 = Int32(ProcessInfo.processInfo.environment["PLANSYNC_JUDGING_NICE"] ?? "") ?? 10
    /// The fewest plans due for judging that are worth those threads.
    let parallelJudgingMinimum: Int

    /// Opens (creating and migrating when `readOnly` is false) the mirror at `path`.
    /// `judgingThreads` overrides how many threads judge plans (tests: even a few plans then
    /// take the parallel path); otherwise `PLANSYNC_JUDGING_THREADS` or the number of cores
    /// (1: the writer judges alone).
    /// - Throws: `MirrorError` for a newer schema, an unreadable file or a missing folder.
    public init(path: String, readOnly: Bool = false, judgingThreads: Int? = nil) throws(MirrorError) {
        self.path = path
        self.judgingThreads =
            judgingThreads ?? ProcessInfo.processInfo.environment["PLANSYNC_JUDGING_THREADS"].flatMap { Int($0) }.map { max(1, $0) }
            ?? ProcessInfo.processInfo.activeProcessorCount
        self.parallelJudgingMinimum = judgingThreads == nil ? 8 : 2
        var config = GRDB.Configuration()
        config.busyMode = .timeout(10)
        config.readonly = readOnly
        config.label = "plansync.mirror"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -32768")  // 32 MiB per connection
            db.add(function: Mirror.periodOrder)
        }
        var opening: FolderLock?
        do {
            if readOnly {
                guard FileManager.default.fileExists(atPath: path) else {
                    throw MirrorError(path: path, message: "no such file; run `plansync sync` (or the daemon) first")
                }
            } else {
                let folder = (path as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                // Creating, switching to WAL and migrating is one step per machine: a second
                // process opening a new mirror waits here, then finds it done. (Two daemons
                // starting together on a new database died with "table plan already exists"
                // or "database is locked" in 4 of 10 runs.)
                opening = try FolderLock(folder, waitSeconds: 10)
            }
            defer { opening?.release() }
            pool = try DatabasePool(path: path, configuration: config)
            let cache = ReadCache(databasePath: path)
            self.cache = cache
            commits = GroupCommit(
                pool: pool,
                committed: { db in
                    cache.groupCommitted { try? Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) }
                })
            let migrator = Mirror.migrator
            let (version, superseded) = try pool.read { db in
                (try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0, try migrator.hasBeenSuperseded(db))
            }
            if version > Mirror.schemaVersion || superseded {
                throw MirrorError(
                    path: path,
                    message:
                        "written by a newer plansync (schema \(version); this plansync knows up to \(Mirror.schemaVersion)); upgrade plansync, or point `database` at another file"
                )
            }
            if !readOnly {
                try migrator.migrate(pool)
                // Written only when it changes: every `plansync sync` opens the mirror.
                if version != Mirror.schemaVersion {
                    try pool.write { db in try db.execute(sql: "PRAGMA user_version = \(Mirror.schemaVersion)") }
                }
                // The writer's `data_version` from here on tells other connections' commits.
                pool.writeWithoutTransaction { db in cache.groupCommitted { try? Int.fetchOne(db, sql: "PRAGMA data_version") } }
            } else if version < Mirror.schemaVersion {
                throw MirrorError(
                    path: path, message: "schema \(version) is older than this plansync's \(Mirror.schemaVersion); run `plansync sync` once to upgrade it")
            }
        } catch {
            throw MirrorError.wrap(error, path: path)
        }
    }

    /// Runs a write transaction, mapping errors.
    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(MirrorError) -> T {
        cache.writing()
        defer { cache.wrote() }
        do { return try await pool.write(body) } catch { throw MirrorError.wrap(error, path: path) }
    }

    /// Runs a read whose answer is kept (under `key`) until the mirror changes; with
    /// `survivesFeedWrites`, through group commits too (the read must not touch what they
    /// write: fetches, feeds, observations, revisions).
    func cachedRead<T: Sendable>(_ key: String, survivesFeedWrites: Bool = false, _ body: @Sendable @escaping (Database) throws -> T) async throws(MirrorError)
        -> T
    {
        let version = cache.version()
        if let hit: T = cache.value(key, at: version) { return hit }
        let value = try await read(body)
        cache.store(value, for: key, at: version, survivesFeedWrites: survivesFeedWrites)
        return value
    }

    /// Runs a per-feed write in the next group commit (its own savepoint), mapping errors.
    func feedWrite<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(MirrorError) -> T {
        do { return try await commits.write(body) } catch { throw MirrorError.wrap(error, path: path) }
    }

    /// Runs a read, mapping errors. Reads never wait for a write in progress.
    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(MirrorError) -> T {
        do { return try await pool.read(body) } catch { throw MirrorError.wrap(error, path: path) }
    }

    /// Copies the WAL into the database file (and empties it), then closes every connection:
    /// afterwards the file alone holds everything. SQLite's own checkpoint at close would not
    /// do it here, as the last connection GRDB closes is a read-only reader; and without an
    /// explicit close, connections were closed (or not) by a deinit racing the process's exit.
    ///
    /// Another process reading or writing the mirror at that moment (a second `plansync sync`,
    /// the daemon, `sqlite3`) can keep the WAL from being emptied: nothing is lost then (the WAL
    /// is part of the database and the next checkpoint takes it), so that case is not an error.
    public func close() throws(MirrorError) {
        do {
            try pool.writeWithoutTransaction { db in
                do { _ = try db.checkpoint(.truncate) } catch let error as DatabaseError
                    where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
                {
                    _ = try? db.checkpoint(.passive)
                }
            }
            try pool.close()
        } catch {
            throw MirrorError.wrap(error, path: path)
        }
    }

    /// Frees SQLite's caches (after a sync cycle, so an idle daemon stays small).
    public func releaseMemory() {
        pool.releaseMemory()
    }

    /// `PRAGMA integrity_check` (for tests and operators).
    public func integrityCheck() async throws(MirrorError) -> String {
        try await read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }
}

/// An exclusive `flock` on a folder, held while a mirror in it is created and migrated.
/// A lock on the folder (not on the database file) never touches SQLite's own POSIX locks,
/// which closing any descriptor of the database file would drop.
struct FolderLock {
    private let fd: Int32

    /// Takes the lock, waiting up to `waitSeconds` for another process to release it.
    init(_ folder: String, waitSeconds: Double) throws(MirrorError) {
        fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw MirrorError(path: folder, message: "cannot open the folder: \(String(cString: strerror(errno)))")
        }
        let deadline = Date().addingTimeInterval(waitSeconds)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, Date() < deadline else {
                let reason =
                    errno == EWOULDBLOCK
                    ? "another plansync process kept it locked for \(Int(waitSeconds)) s while opening the mirror" : String(cString: strerror(errno))
                close(fd)
                throw MirrorError(path: folder, message: "cannot lock the folder: \(reason)")
            }
            usleep(10_000)
        }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
