#if canImport(Glibc)
import Glibc
#endif

/// Background work (large feed bodies) runs on threads of its own at a lowered priority.
public enum ThreadPriority {
    /// Sets the calling thread's nice value (Linux keeps one per thread; `who = 0` is this
    /// thread). It cannot be raised again without privileges, so only call it on a thread
    /// that was made for the work. Values of 0 or less change nothing.
    public static func lowerCurrentThread(to niceness: Int32) {
        guard niceness > 0 else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
    }
}
