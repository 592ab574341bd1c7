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
final class ReadCache: Sendable {
    struct Version: Equatable, Sendable {
        var commits: UInt64
        /// `iChange`, `mxFrame` and the first salt of the WAL index header (zero when unreadable).
        var walChange: UInt32
        var walFrame: UInt32
        var walSalt: UInt32
    }

    private struct State {
        var commits: UInt64 = 0
        var entries: [String: (version: Version, stored: ContinuousClock.Instant, value: any Sendable)] = [:]
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

    /// Called after every commit this process makes.
    func invalidate() {
        state.withLock {
            $0.commits &+= 1
            $0.entries.removeAll()
        }
    }

    /// The version to read under: take it *before* reading, so a commit that lands during
    /// the read makes the stored entry stale rather than wrongly current.
    func version() -> Version {
        let commits = state.withLock { $0.commits }
        var header = [UInt32](repeating: 0, count: 12)
        if let fd = ShmDescriptors.descriptor(for: shmPath) {
            // The first copy of the WalIndexHdr: aligned 32-bit words, each read whole.
            if header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 48, 0) }) != 48 { header = Array(repeating: 0, count: 12) }
        }
        return Version(commits: commits, walChange: header[2], walFrame: header[4], walSalt: header[8])
    }

    /// The cached value for `key` if it was read at `version`.
    func value<T: Sendable>(_ key: String, at version: Version) -> T? {
        state.withLock { state in
            guard let entry = state.entries[key], entry.version == version,
                entry.stored.duration(to: .now) < ReadCache.maxAge
            else { return nil }
            return entry.value as? T
        }
    }

    func store<T: Sendable>(_ value: T, for key: String, at version: Version) {
        state.withLock { state in
            if state.entries.count >= ReadCache.capacity { state.entries.removeAll() }
            state.entries[key] = (version, .now, value)
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
