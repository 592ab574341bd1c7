import Configuration
import Foundation
import Mirror
import PlanCore
import Report
import Support

/// Which plans' report files are waiting to be rewritten, and whether a writer runs.
struct ReportQueue: Sendable {
    /// Plans to rewrite; nil: every plan.
    var plans: Set<String>? = []
    var pending = false
    var running = false

    mutating func add(_ more: Set<String>?) {
        if let more, let known = plans { plans = known.union(more) } else { plans = nil }
        pending = true
    }
}

extension DaemonRunner {
    /// The nice value of the thread writing reports: below judging, above nothing else.
    static let reportNiceness: Int32 = 15

    /// Rewrites the report directory (`report_dir`) after a cycle that changed verdicts or
    /// alerts of `plans` (nil: every plan, as after a start or a reload). Requests arriving
    /// while a rewrite runs are merged into the next one; the writing runs on a thread of
    /// lowered priority, so status answers and cycles do not wait for it.
    func refreshReports(_ plans: Set<String>?) {
        guard state.current.config.reportDir != nil else { return }
        let start = reports.withLock { queue -> Bool in
            if plans?.isEmpty != true { queue.add(plans) }
            guard queue.pending, !queue.running else { return false }
            queue.running = true
            return true
        }
        guard start else { return }
        Task { [self] in await writeReports() }
    }

    private func writeReports() async {
        while true {
            let next: Set<String>?? = reports.withLock { queue in
                guard queue.pending else {
                    queue.running = false
                    return .none
                }
                defer {
                    queue.plans = []
                    queue.pending = false
                }
                return .some(queue.plans)
            }
            guard case .some(let changed) = next else { return }
            let config = state.current.config
            guard let directory = config.reportDir else { continue }
            let started = ContinuousClock.now
            do {
                let feeds = try await mirror.feedStatuses()
                let summaries = try await mirror.verdictSummaries()
                let mirror = self.mirror
                let rewritten = try await Self.onReportThread {
                    try ReportFiles.writeDirectory(
                        plans: config.plans, feeds: feeds, summaries: summaries, changed: changed, to: directory,
                        records: { plan, history throws(MirrorError) in try mirror.reportRecordsNow(plan: plan, history: history) })
                }
                let elapsed = started.duration(to: .now)
                logger.info(
                    "report written",
                    metadata: [
                        "report.dir": "\(directory)", "plans.rewritten": "\(rewritten.count)", "plans": "\(config.plans.count)",
                        "ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
                    ])
            } catch {
                logger.error(
                    "cannot write the report; the files there are the previous ones",
                    metadata: ["report.dir": "\(directory)", "error": "\(error)"])
            }
        }
    }

    /// Runs `body` on a fresh thread at `reportNiceness` and waits for it without holding one
    /// of Swift's shared threads.
    static func onReportThread(_ body: @escaping @Sendable () throws -> [String]) async throws -> [String] {
        try await withCheckedThrowingContinuation { continuation in
            LowPriorityThread.start(niceness: reportNiceness) {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// `GET /v1/report` and `/v1/report/{plan}.html`: the report file the daemon wrote, sent
    /// as it is on disk; rendered from the mirror when there is none (no `report_dir`, or
    /// before the first cycle wrote it).
    func reportResponse(plan id: String?) async throws -> StatusResponse {
        let config = state.current.config
        // `index` (or no plan): every plan's page.
        let id = id == "index" ? nil : id
        let plans: [Plan]
        if let id {
            guard let plan = config.plan(id) else {
                return .error(
                    .notFound,
                    "no plan '\(DisplayText.excerpt(id))' (known: \(config.plans.prefix(20).map(\.id).joined(separator: ", "))\(config.plans.count > 20 ? ", …" : ""))"
                )
            }
            plans = [plan]
        } else {
            plans = config.plans
        }
        let contentType = "text/html; charset=utf-8"
        if let directory = config.reportDir {
            let path = directory + "/" + (id.map { "\($0).html" } ?? "index.html")
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                // The descriptor keeps this version readable when a rewrite renames a new one over it.
                let file = FileDescriptorBox(fd)
                return .streamed(contentType: contentType, prefix: "") { writer in
                    defer { file.close() }
                    var carry: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 1 << 16)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { read(file.fd, $0.baseAddress, $0.count) }
                        if n <= 0 { break }
                        carry += buffer[0..<n]
                        // Pieces end on a character boundary (the writer takes text).
                        var end = carry.count
                        while end > 0, carry[end - 1] & 0xC0 == 0x80 { end -= 1 }
                        if end > 0, carry[end - 1] >= 0xC0 { end -= 1 }
                        try await writer.write(String(decoding: carry[0..<end], as: UTF8.self))
                        carry.removeFirst(end)
                    }
                    if !carry.isEmpty { try await writer.write(String(decoding: carry, as: UTF8.self)) }
                }
            }
        }
        let report = try await Report.load(mirror: mirror, plans: plans)
        return StatusResponse(status: .ok, contentType: contentType, body: HTMLReport.render(report))
    }
}

/// An open file descriptor handed to a streamed answer, closed once.
final class FileDescriptorBox: @unchecked Sendable {
    let fd: Int32
    private let closed = Locked(false)

    init(_ fd: Int32) { self.fd = fd }

    func close() {
        let first = closed.withLock { was in
            defer { was = true }
            return !was
        }
        if first { _ = Glibc.close(fd) }
    }

    deinit { close() }
}
