import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Opening the alert log safely. plansync appends only to a **regular file** it names
/// directly: a FIFO or a pipe (`/dev/stdout`) would block every write until someone reads,
/// a device like `/dev/full` never ends when read, and a symbolic link in a log folder could
/// send the service's appends into another file it owns (its database). All are refused.
public enum AlertLogFile {
    /// Why `path` cannot be the alert log, or nil when it is a regular file or does not exist yet.
    public static func problem(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return kindProblem(info.st_mode)
    }

    public static func kindProblem(_ mode: mode_t) -> String? {
        let kind: String
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFLNK: kind = "a symbolic link"
        case S_IFIFO: kind = "a FIFO (named pipe)"
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFDIR: kind = "a directory"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a regular file"
        }
        return
            "is \(kind); the alert log must be a regular file named directly (symbolic links are not followed): point alert_log at a file path, e.g. /var/log/plansync/alerts.jsonl"
    }
}
