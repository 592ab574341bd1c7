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

/// A fixed set of threads at a lowered priority running jobs in order of arrival: for
/// background work too small to pay for a thread each (parsing a 100 KB feed body) that must
/// still give way to the status socket — a province's cycle parses thousands of them.
public final class LowPriorityPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var next = 0

    /// Starts `threads` threads at `niceness`; they live as long as the process.
    public init(threads: Int, niceness: Int32) {
        for _ in 0..<max(1, threads) {
            LowPriorityThread.start(niceness: niceness) { [self] in self.work() }
        }
    }

    /// Queues `job` to run on one of the pool's threads.
    public func async(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while next == jobs.count { condition.wait() }
            let job = jobs[next]
            next += 1
            if next == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                next = 0
            }
            condition.unlock()
            job()
        }
    }
}
