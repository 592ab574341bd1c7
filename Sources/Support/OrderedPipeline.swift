import Foundation

/// Work on items 0..<count done by worker threads, a bounded number of items ahead of one
/// consumer that takes the results in order: judging a province's plans on every core
/// while the database writer stores each plan's verdicts as soon as they are ready.
///
/// Workers loop on `claim()` and `deliver(_:_:)`; the consumer calls `take(_:)` for 0, 1, 2, …
/// and `finish()` once done (or giving up), which waits for every worker to return. A worker
/// that stops early (`workerDone()` without delivering what it claimed) leaves that item to
/// the consumer: `take` answers nil for it and the consumer does it itself.
public final class OrderedPipeline<Result: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private let window: Int
    private var nextClaim = 0
    /// Items the consumer took so far (workers stay within `window` of it).
    private var taken = 0
    private var results: [Int: Result] = [:]
    /// Claimed and not delivered: the items a worker is on.
    private var inProgress: Set<Int> = []
    private var workersRunning = 0
    private var stopped = false
    private let group = DispatchGroup()

    /// - Parameters:
    ///   - count: the number of items.
    ///   - window: how many items workers may run ahead of the consumer (memory bound).
    public init(count: Int, window: Int) {
        self.count = count
        self.window = max(1, window)
    }

    /// Starts `workers` threads running `body(self)`; each returns when `claim()` answers nil.
    ///
    /// Threads of their own, not Dispatch's global queues: on Linux those share their few
    /// threads (one per core) with Swift's concurrency runtime, and workers busy for the
    /// seconds a province takes to judge held back every task meanwhile — the status socket's
    /// answers waited up to 8 s.
    /// `niceness` lowers the threads' priority (nice values are per thread on Linux; a new
    /// thread inherits its creator's, which may be above the default).
    public func start(workers: Int, niceness: Int32 = 0, name: String = "pipeline", body: @escaping @Sendable (OrderedPipeline<Result>) -> Void) {
        condition.withLock { workersRunning += workers }
        for _ in 0..<workers {
            group.enter()
            let thread = Thread {
                // Named for `top -H` and perf (Foundation's `Thread.name` does not reach the
                // OS thread on Linux, and Glibc's module does not export pthread_setname_np).
                let fd = open("/proc/thread-self/comm", O_WRONLY)
                if fd >= 0 {
                    let bytes = Array(name.utf8.prefix(15))
                    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                }
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
                body(self)
                self.workerDone()
                self.group.leave()
            }
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    /// The next item to work on, waiting while the workers are a window ahead; nil when
    /// every item is claimed or the consumer finished.
    public func claim() -> Int? {
        condition.withLock {
            while !stopped, nextClaim < count, nextClaim >= taken + window { condition.wait() }
            guard !stopped, nextClaim < count else { return nil }
            defer { nextClaim += 1 }
            inProgress.insert(nextClaim)
            return nextClaim
        }
    }

    /// Hands over the result of item `index`.
    public func deliver(_ index: Int, _ result: Result) {
        condition.withLock {
            inProgress.remove(index)
            results[index] = result
            condition.broadcast()
        }
    }

    /// A worker stops: the items it claimed and did not deliver are the consumer's.
    private func workerDone() {
        condition.withLock {
            workersRunning -= 1
            condition.broadcast()
        }
    }

    /// The result of item `index` (taken in order), waiting for it; nil when no worker will
    /// deliver it (they all stopped, or it was never claimed and nobody is left to claim it).
    public func take(_ index: Int) -> Result? {
        condition.withLock {
            defer {
                taken = index + 1
                condition.broadcast()
            }
            while true {
                if let result = results.removeValue(forKey: index) { return result }
                let someoneOnIt = inProgress.contains(index) || index >= nextClaim
                if workersRunning == 0 || !someoneOnIt { return nil }
                condition.wait()
            }
        }
    }

    /// Stops handing out items and waits until every worker has returned.
    public func finish() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
        group.wait()
    }
}
