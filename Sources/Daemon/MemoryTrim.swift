import Foundation

/// Gives memory back between sync cycles. An idle daemon spends hours between cycles; what
/// it touched during one (heap, SQLite caches, code pages of its libraries) need not stay
/// resident until the next.
enum MemoryTrim {
    /// `MADV_PAGEOUT` (Linux 5.4): reclaim these pages now.
    private static let pageOut: Int32 = 21

    /// How long the daemon must have been idle before its code pages are given back (cycles
    /// that follow each other closely keep theirs): 20 s, or `PLANSYNC_IDLE_PAGEOUT` seconds;
    /// `PLANSYNC_IDLE_PAGEOUT=off` keeps them resident.
    static let idleBeforePageOut: DispatchTimeInterval? = {
        guard let text = ProcessInfo.processInfo.environment["PLANSYNC_IDLE_PAGEOUT"] else { return .seconds(20) }
        guard text != "off", let seconds = Double(text), seconds >= 0 else { return nil }
        return .milliseconds(Int(seconds * 1000))
    }()

    /// How long the daemon waits, idle, before giving memory back (heap and SQLite caches
    /// always; code pages unless turned off).
    static var idle: DispatchTimeInterval { idleBeforePageOut ?? .seconds(20) }

    /// Returns freed heap to the system.
    static func trimHeap() {
        _ = glibcMallocTrim(0)
    }

    /// Asks the kernel to reclaim the read-only, file-backed pages (code and constants of the
    /// binary and its libraries) that only this process maps; they are read back from the
    /// page cache or disk when next executed (a few milliseconds at the next cycle). Pages
    /// shared with other processes are left alone by the kernel. Returns the bytes of
    /// mappings advised (0 where the kernel does not know the advice, before Linux 5.4).
    @discardableResult
    static func pageOutCode() -> Int {
        // Read to the end: /proc files report size 0, and a sized read stops after the first page.
        guard let data = FileHandle(forReadingAtPath: "/proc/self/maps")?.readDataToEndOfFile() else { return 0 }
        let maps = String(decoding: data, as: UTF8.self)
        var advised = 0
        for line in maps.split(separator: "\n") {
            // "start-end perms offset dev inode path": private, not writable, backed by a file.
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1].hasPrefix("r"), !fields[1].contains("w"), fields[1].hasSuffix("p"),
                fields[5].drop(while: { $0 == " " }).hasPrefix("/")
            else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start,
                let address = UnsafeMutableRawPointer(bitPattern: start)
            else { continue }
            if madvise(address, Int(end - start), pageOut) == 0 { advised += Int(end - start) }
        }
        return advised
    }
}
