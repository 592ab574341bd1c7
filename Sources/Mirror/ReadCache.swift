import Foundation
import Synchronization

/// Answers of frequent status reads, kept until the mirror changes. The status socket asks
/// the same few questions thousands of times between syncs; with the cache, a repeated
/// question costs no SQLite statement and no hop to a reader connection, which is what keeps
/// its latency low while a large sync keeps both cores busy.
///
/// An entry is valid while the *version* it was read at is current. The version combines a
/// counter this process bumps after each of its own commits with the size and modification
/// time of the `-wal` file, so a commit by another process (a manual `plansync sync`) is seen
/// as well: in WAL mode every commit appends to, or restarts, that file.
final class ReadCache: Sendable {
    struct Version: Equatable, Sendable {
        var commits: UInt64
        var walSize: Int64
        var walModified: Int64
    }

    private struct State {
        var commits: UInt64 = 0
        var entries: [String: (version: Version, stored: ContinuousClock.Instant, value: any Sendable)] = [:]
    }

    private let walPath: String
    private let state = Mutex(State())
    /// Entries kept at most (distinct plan/year queries); older ones are dropped wholesale.
    static let capacity = 64
    /// A bound on staleness should another process commit within the file system's
    /// timestamp granularity without changing the WAL's size (a restarted WAL).
    static let maxAge: Duration = .seconds(1)

    init(databasePath: String) {
        walPath = databasePath + "-wal"
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
        var info = stat()
        let found = stat(walPath, &info) == 0
        let commits = state.withLock { $0.commits }
        return Version(commits: commits, walSize: found ? Int64(info.st_size) : -1,
                       walModified: found ? Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec) : -1)
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
