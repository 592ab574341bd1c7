import CCurl
import Foundation
import PlanCore
import Support

/// Fetches feeds with libcurl's multi interface on one dedicated Dispatch queue:
/// many transfers in flight, at most `maxConcurrent` at once, no thread per feed,
/// retries with exponential backoff and full jitter. Idle, it runs nothing.
public final class FetchEngine: @unchecked Sendable {
    /// All mutable state below is touched only on `queue`.
    private let queue = DispatchQueue(label: "plansync.fetch")
    private let multi: UnsafeMutableRawPointer
    /// A slice, so taking the next job is O(1) (removeFirst on an array moved the whole queue).
    private var waiting: ArraySlice<Job> = []
    private var active: [UnsafeMutableRawPointer: Job] = [:]
    /// Jobs waiting out their backoff, with the time they may start again.
    private var backingOff: [(due: DispatchTime, job: Job)] = []
    /// Handles of finished transfers, reset and reused by the next ones (making and freeing a
    /// handle per fetch was a tenth of the engine's time in a 500-feed cycle).
    private var spareHandles: [UnsafeMutableRawPointer] = []
    private var looping = false
    private var peak = 0
    /// Most transfers in flight at once.
    public let maxConcurrent: Int

    private static let globalInit: Void = {
        curl_global_init(3)  // CURL_GLOBAL_ALL (SSL | WIN32): before any other thread uses curl.
        signal(SIGPIPE, SIG_IGN)
    }()

    /// The libcurl version string, e.g. `libcurl/7.88.1 OpenSSL/3.0.15 zlib/1.2.13`.
    public static var curlVersion: String {
        _ = globalInit
        return String(cString: curl_version())
    }

    public init(maxConcurrent: Int = 8) {
        _ = FetchEngine.globalInit
        self.maxConcurrent = max(1, maxConcurrent)
        multi = curl_multi_init()
        // Keep connections for reuse across feeds on the same host.
        plansync_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(16, maxConcurrent * 2))
    }

    deinit {
        for easy in spareHandles { curl_easy_cleanup(easy) }
        curl_multi_cleanup(multi)
    }

    /// The most transfers that were ever in flight at once.
    public var peakConcurrency: Int { queue.sync { peak } }

    /// Starts a fetch; `completion` runs on the engine's queue (do not block there), or for a
    /// body of 1 MiB or more on the thread that hashed it.
    public func fetch(_ request: FetchRequest, completion: @escaping @Sendable (FetchResult) -> Void) {
        let job = Job(request: request, completion: completion)
        if let early = job.preflight() {
            queue.async { completion(early) }
            return
        }
        enqueue(job)
    }

    /// Fetches one feed.
    public func fetch(_ request: FetchRequest) async -> FetchResult {
        await withCheckedContinuation { continuation in
            fetch(request) { continuation.resume(returning: $0) }
        }
    }

    /// Fetches several feeds concurrently and waits for all; results in request order.
    /// Blocks the calling thread: never call it on the engine's queue or an event loop.
    public func fetchAll(_ requests: [FetchRequest]) -> [FetchResult] {
        let group = DispatchGroup()
        let results = Locked<[FetchResult?]>(Array(repeating: nil, count: requests.count))
        for (i, request) in requests.enumerated() {
            group.enter()
            fetch(request) { result in
                results.withLock { $0[i] = result }
                group.leave()
            }
        }
        group.wait()
        return results.current.map { $0! }
    }

    private func enqueue(_ job: Job) {
        queue.async {
            self.waiting.append(job)
            self.startWaiting()
        }
        curl_multi_wakeup(multi)
    }

    /// On `queue`: moves waiting jobs (and retries now due) into the multi handle up to the
    /// limit and keeps the loop going while anything is in flight.
    private func startWaiting() {
        let now = DispatchTime.now()
        if !backingOff.isEmpty, backingOff.contains(where: { $0.due <= now }) {
            waiting += backingOff.filter { $0.due <= now }.map(\.job)
            backingOff.removeAll { $0.due <= now }
        }
        while active.count < maxConcurrent, !waiting.isEmpty {
            guard let job = waiting.popFirst() else { break }
            guard let easy = job.makeHandle(reusing: spareHandles.popLast()) else {
                job.completion(job.result(outcome: .protocolError, code: CURLE_FAILED_INIT, status: nil, handle: nil))
                continue
            }
            active[easy] = job
            curl_multi_add_handle(multi, easy)
        }
        if waiting.isEmpty { waiting = [] }  // let go of the drained buffer
        peak = max(peak, active.count)
        if !looping, !active.isEmpty {
            looping = true
            queue.async { self.step() }
        } else if !looping, let next = backingOff.map(\.due).min() {
            // Nothing in flight: sleep until the next retry is due (no polling while idle).
            queue.asyncAfter(deadline: next) { self.startWaiting() }
        }
    }

    /// On `queue`: one round of transfers, then wait for sockets (woken early by new work).
    private func step() {
        var running: Int32 = 0
        curl_multi_perform(multi, &running)
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let job = active.removeValue(forKey: easy)
            else { continue }
            let code = message.pointee.data.result
            curl_multi_remove_handle(multi, easy)
            finish(job, code: code, easy: easy)
        }
        startWaiting()
        guard !active.isEmpty else {
            looping = false
            startWaiting()
            return
        }
        var timeout = 0
        curl_multi_timeout(multi, &timeout)
        var wait = timeout < 0 ? 1000 : min(timeout, 1000)
        if !backingOff.isEmpty, let next = backingOff.map(\.due).min() {
            let untilRetry = next > DispatchTime.now() ? Int((next.uptimeNanoseconds - DispatchTime.now().uptimeNanoseconds) / 1_000_000) : 0
            wait = min(wait, untilRetry)
        }
        let wait32 = Int32(wait)
        if wait32 > 0 { curl_multi_poll(multi, nil, 0, wait32, nil) }
        queue.async { self.step() }
    }

    /// On `queue`: classifies a finished attempt and either completes the job or schedules a retry.
    private func finish(_ job: Job, code: CURLcode, easy: UnsafeMutableRawPointer) {
        var status = 0
        plansync_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        let result = job.result(outcome: nil, code: code, status: status == 0 ? nil : status, handle: easy)
        job.releaseHeaders()
        job.releaseBody()
        if spareHandles.count < maxConcurrent { spareHandles.append(easy) } else { curl_easy_cleanup(easy) }
        let transient: Bool
        if result.outcome == .httpStatus {
            transient = result.httpStatus == 429 || (result.httpStatus ?? 0) >= 500
        } else {
            transient = result.outcome.isTransient
        }
        guard transient, job.attempt <= job.request.retries else {
            complete(job, result)
            return
        }
        let backoff = min(job.request.retryMaxDelay, job.request.retryBaseDelay * pow(2, Double(job.attempt - 1)))
        var delay = Double.random(in: 0...max(0, backoff))
        if let retryAfter = job.state.retryAfter() {
            delay = min(job.request.retryMaxDelay, retryAfter)
        }
        job.attempt += 1
        backingOff.append((.now() + delay, job))
    }
}

extension FetchEngine {
    /// Hands a final result to the job's completion: directly on the engine's queue, or, for a
    /// body of 1 MiB or more, from a thread of its own (at the request's `largeBodyNiceness`)
    /// that first computes its SHA-256 — hashing 40 MB takes a fifth of a second, during which
    /// the engine's queue keeps serving other transfers.
    fileprivate func complete(_ job: Job, _ result: FetchResult) {
        guard result.outcome == .ok, result.sha256 == nil, result.body.count >= Job.hashInlineLimit else {
            job.completion(result)
            return
        }
        let niceness = job.request.largeBodyNiceness
        LowPriorityThread.start(niceness: niceness) {
            var hashed = result
            hashed.sha256 = SHA256.hex(result.body)
            job.completion(hashed)
        }
    }
}
