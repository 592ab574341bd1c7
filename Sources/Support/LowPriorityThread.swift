import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Background work (large feed bodies: hashing, parsing, storing) runs on threads of its own
/// at a lowered priority. Nice values are per thread on Linux and cannot be raised again
/// without privileges, hence a fresh thread rather than one of Dispatch's shared workers.
public enum LowPriorityThread {
    /// Starts `body` on a new thread whose nice value is `niceness` (0 or less: unchanged).
    public static func start(niceness: Int32, stackSize: Int = 1 << 22, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            lowerCurrentThread(to: niceness)
            body()
        }
        thread.stackSize = stackSize
        thread.start()
    }

    /// Sets the calling thread's nice value (`who = 0` is this thread). Only for a thread made
    /// for the work: it cannot be raised again. Values of 0 or less change nothing.
    public static func lowerCurrentThread(to niceness: Int32) {
        guard niceness > 0 else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
    }
}
