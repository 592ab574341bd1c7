import Foundation
import Synchronization

/// Answers of frequent status reads, kept until the mirror changes. The status socket asks
/// the same few questions thousands of times between syncs; with the cache, a repeated
/// question costs no SQLite statement and no hop to a reader connection, which is what keeps
/// its latency low while a large sync keeps both cores busy.
///
/// An entry is valid while the *version* it was read at is current. The version combines a
/// counter this process bumps after each of its own commits with the change counter and
/// last committed frame of SQLite's WAL index (the header of the `-shm` file), which every
/// commit by any connection advances — so a commit by another process (a manual
/// `plansync sync`) is seen too, while the pages a large transaction spills into the WAL
/// before it commits are not mistaken for a change.
///
/// Entries stored with `survivesFeedWrites` (verdict texts) also outlive this process's
/// per-feed group commits, which write fetches and observations but never a verdict: while a
/// large sync stores rows, a dashboard's `?plan=` question is still answered from memory
/// instead of queueing for a reader connection behind busy cores. They end with any other
/// commit of this process (`invalidate`) and with any commit by another connection, seen
/// either in the WAL index or, for one landing between a group commit and the look at the
/// index after it, in the writer connection's `PRAGMA data_version`.
final class ReadCache: Sendable {
    struct Version: Equatable, Sendable {
        /// Every commit of this process.
        var commits: UInt64
        /// Commits that may change anything: this process's other than group commits, and
        /// those of other connections noticed at a group commit.
        var epoch: UInt64
        var header: WALHeader
    }

    /// `iChange`, `mxFrame` and the first salt of the WAL index header (zero when unreadable).
    struct WALHeader: Equatable, Sendable {
        var change: UInt32
        var frame: UInt32
        var salt: UInt32
        var readable: Bool { change != 0 || frame != 0 || salt != 0 }
    }

    private struct Entry {
        var version: Version
        var stored: ContinuousClock.Instant
        var survivesFeedWrites: Bool
        var value: any Sendable
    }

    private struct State {
        var commits: UInt64 = 0
        var epoch: UInt64 = 0
        /// The WAL index header just after this process's last group commit, when no other
        /// connection committed around it; nil otherwise.
        var afterOwnGroupCommit: WALHeader?
        /// The writer connection's `PRAGMA data_version` at the last group commit.
        var writerDataVersion: Int?
        var entries: [String: Entry] = [:]
        /// Writes between `writing` and `wrote`.
        var writesInProgress = 0
    }

    private let shmPath: String
    private let state = Mutex(State())
    /// Entries kept at most (distinct plan/year queries); older ones are dropped wholesale.
    static let capacity = 64
    /// A bound on staleness, should the WAL index ever not be readable (no `-shm` file).
    static let maxAge: Duration = .seconds(1)

    init(databasePath: String) {
        shmPath = databasePath + "-shm"
    }

    /// Called before this process queues a write other than a group commit: until the
    /// matching `wrote`, entries count only at their exact version (a group commit landing
    /// between that write's commit and `wrote` must not make an older answer look current).
    func writing() {
        state.withLock { $0.writesInProgress += 1 }
    }

    /// Called after every commit (or failed write) this process makes other than a group
    /// commit, each after a `writing`.
    func wrote() {
        state.withLock {
            $0.writesInProgress -= 1
            $0.commits &+= 1
            $0.epoch &+= 1
            $0.afterOwnGroupCommit = nil
            $0.entries.removeAll()
        }
    }

    /// Called on the writer connection after each group commit (per-feed writes: fetches,
    /// observations, revisions, feed state — never verdicts or indicators). `dataVersion` is
    /// the writer connection's `PRAGMA data_version`, read after the commit: it moves only
    /// when another connection committed.
    func groupCommitted(dataVersion: () -> Int?) {
        let before = walHeader()
        let version = dataVersion()
        let after = walHeader()
        state.withLock { state in
            state.commits &+= 1
            if version == nil || version != state.writerDataVersion {
                state.epoch &+= 1
                state.entries.removeAll()
            } else {
                state.entries = state.entries.filter { $0.value.survivesFeedWrites }
            }
            state.writerDataVersion = version
            // Another connection committing between the two looks leaves nothing to trust.
            state.afterOwnGroupCommit = before == after && before.readable ? after : nil
        }
    }

    /// The version to read under: take it *before* reading, so a commit that lands during
    /// the read makes the stored entry stale rather than wrongly current.
    func version() -> Version {
        let (commits, epoch) = state.withLock { ($0.commits, $0.epoch) }
        return Version(commits: commits, epoch: epoch, header: walHeader())
    }

    private func walHeader() -> WALHeader {
        var header = [UInt32](repeating: 0, count: 12)
        if let fd = ShmDescriptors.descriptor(for: shmPath) {
            // The first copy of the WalIndexHdr: aligned 32-bit words, each read whole.
            if header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 48, 0) }) != 48 { header = Array(repeating: 0, count: 12) }
        }
        return WALHeader(change: header[2], frame: header[4], salt: header[8])
    }

    /// The cached value for `key` if it is still current at `version`.
    func value<T: Sendable>(_ key: String, at version: Version) -> T? {
        state.withLock { state in
            guard let entry = state.entries[key] else { return nil }
            if !version.header.readable && entry.stored.duration(to: .now) >= ReadCache.maxAge { return nil }
            let current: Bool
            if entry.version == version {
                current = true
            } else if entry.survivesFeedWrites, state.writesInProgress == 0, entry.version.epoch == version.epoch {
                // Only group commits since (the WAL index is where the last one left it), or
                // nothing at all.
                current = entry.version.header == version.header || version.header == state.afterOwnGroupCommit
            } else {
                current = false
            }
            return current ? entry.value as? T : nil
        }
    }

    func store<T: Sendable>(_ value: T, for key: String, at version: Version, survivesFeedWrites: Bool = false) {
        state.withLock { state in
            if state.entries.count >= ReadCache.capacity { state.entries.removeAll() }
            state.entries[key] = Entry(version: version, stored: .now, survivesFeedWrites: survivesFeedWrites, value: value)
        }
    }
}

/// One read-only descriptor per `-shm` file, kept open for the life of the process and never
/// closed: on Linux, closing *any* descriptor of a file releases every POSIX lock the process
/// holds on it — including the locks SQLite's connections hold on the WAL index through their
/// own descriptors (the lock telling other processes the database is in use, and the read
/// marks protecting WAL frames a reader still needs). Opening and closing the file per read,
/// as this cache once did, let another process (`plansync sync`, the sqlite3 shell) believe
/// it was alone and rebuild the index under the daemon. See "How To Corrupt An SQLite
/// Database File", §2.2.
enum ShmDescriptors {
    private static let table = Mutex<[String: (device: UInt64, inode: UInt64, fd: Int32)]>([:])

    /// The descriptor of the file now at `path`; nil when there is none. A file replaced at the
    /// same path (all connections closed, then a new one) gets a new descriptor; the old one
    /// stays open, as closing it could still cancel a lock.
    static func descriptor(for path: String) -> Int32? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return table.withLock { table -> Int32? in
            if let known = table[path], known.device == UInt64(info.st_dev), known.inode == UInt64(info.st_ino) { return known.fd }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            var opened = stat()
            fstat(fd, &opened)
            table[path] = (UInt64(opened.st_dev), UInt64(opened.st_ino), fd)
            return fd
        }
    }
}
