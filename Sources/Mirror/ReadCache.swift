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
        let fd = open(shmPath, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            // The first copy of the WalIndexHdr: aligned 32-bit words, each read whole.
            if header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 48, 0) }) != 48 { header = Array(repeating: 0, count: 12) }
            close(fd)
        }
        return Version(commits: commits, walChange: header[2], walFrame: header[4], walSalt: header[8])
    }

    /// The cached value for `key` if it was read at `version`.
    func value<T: Sendable>(_ key: String, at version: Version) -> T? {
        state.withLock { state in
            guard let entry = state.entries[key], entry.version == version,
                  entry.stored.duration(to: .now) < ReadCache.maxAge else { return nil }
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
