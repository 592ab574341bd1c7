import Foundation
import Mirror
import PlanCore
import Support

/// Writing report files so that a reader never sees half of one: each is written to a
/// temporary file in the same directory, flushed, then renamed over the old one.
public enum ReportFiles {
    /// The formats `plansync report` writes.
    public enum Format: String, Sendable, CaseIterable {
        case html, xlsx, csv

        /// The format a file name asks for by its extension (nil when it names none of them).
        public init?(fileName: String) {
            self.init(rawValue: (fileName as NSString).pathExtension.lowercased())
        }
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws(ReportError) {
        let file = try AtomicFile(path)
        do throws(ReportError) {
            try file.write(bytes)
            try file.commit()
        } catch {
            file.abandon()
            throw error
        }
    }

    /// Writes `report` as a spreadsheet to `path` atomically.
    public static func writeXLSX(_ report: Report, to path: String) throws(ReportError) {
        try replace(path) { temporary throws(ReportError) in
            try XLSXReport.write(report, to: temporary)
            let fd = open(temporary, O_RDONLY)
            if fd >= 0 {
                fsync(fd)
                close(fd)
            }
        }
    }

    /// Runs `make` on a temporary path beside `path`, then renames it over `path` (removing
    /// the temporary file when anything fails).
    static func replace(_ path: String, _ make: (String) throws(ReportError) -> Void) throws(ReportError) {
        let temporary = AtomicFile.temporaryPath(beside: path)
        do throws(ReportError) {
            try make(temporary)
            guard rename(temporary, path) == 0 else { throw ReportError("cannot rename \(temporary) to \(path): \(errorText())") }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Rewrites the daemon's report directory: `<plan>.html` and `<plan>.xlsx` of the plans
    /// in `changed` (nil: every plan) or whose files are missing, and `index.html` with every
    /// plan. Each plan's part of the index is kept in `.sections/<plan>.part` and rendered
    /// again only with its plan's files, so a cycle that changed one plan of 2,800 renders one
    /// and copies the rest. Every file is replaced atomically; memory holds one plan at a time.
    /// Synchronous: the daemon runs it on a thread of lowered priority. `records` reads one
    /// plan from the mirror (with its history or not). Returns the plans rewritten.
    @discardableResult
    public static func writeDirectory(
        plans: [Plan], feeds: [FeedStatus], summaries: [String: PlanVerdictSummary], changed: Set<String>?,
        to directory: String, now: Date = Date(), records: (_ plan: String, _ history: Bool) throws(MirrorError) -> PlanReportRecords
    ) throws(ReportError) -> [String] {
        let parts = directory + "/.sections"
        try makeDirectory(directory)
        try makeDirectory(parts)
        let labels = ReportLabels(plans.first?.language ?? .zh)
        let compact = plans.count > 1
        let byPlan = PlanSection.feedsByPlan(feeds)
        var rewritten: [String] = []
        // The plans' own files and index parts.
        for plan in plans {
            let html = directory + "/\(plan.id).html", xlsx = directory + "/\(plan.id).xlsx", part = parts + "/\(plan.id).part"
            let missing = [html, xlsx, part].contains { !FileManager.default.fileExists(atPath: $0) }
            guard changed?.contains(plan.id) ?? true || missing else { continue }
            let read: PlanReportRecords
            do { read = try records(plan.id, true) } catch {
                throw ReportError("cannot read plan \(plan.id) from the mirror for the report: \(error)")
            }
            let section = PlanSection(plan: plan, records: read, feeds: byPlan[plan.id] ?? [])
            // The part starts with the newest figure it shows, for the index's footer.
            let fragment = HTMLReport.render(section, asked: nil, document: labels.language, generatedAt: now, compact: compact)
            try write(Array("<!-- latest \(read.latestData ?? "") -->\n\(fragment)".utf8), to: part)
            // A plan called `index` is in index.html only (its own file would be that one).
            if plan.id != "index" {
                let single = Report(generatedAt: now, language: nil, plans: [section])
                try write(Array(HTMLReport.render(single).utf8), to: html)
                try writeXLSX(single, to: xlsx)
            }
            rewritten.append(plan.id)
        }
        // Parts of plans no longer configured (the folder is plansync's own).
        let configured = Set(plans.map { "\($0.id).part" })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parts)) ?? [] where name.hasSuffix(".part") && !configured.contains(name) {
            unlink(parts + "/" + name)
        }
        // The index: head, every plan's part as it is on disk, footer.
        let index = try AtomicFile(directory + "/index.html")
        do throws(ReportError) {
            try index.write(
                HTMLReport.head(
                    labels: labels, plans: plans, generatedAt: now, latestData: nil, landscape: plans.contains { $0.years.count > 2 },
                    contents: compact ? plans.map { ($0, summaries[$0.id]?.counts ?? [:]) } : nil))
            var latest: String?
            for plan in plans {
                guard let bytes = FileManager.default.contents(atPath: parts + "/\(plan.id).part") else {
                    throw ReportError("cannot read \(parts)/\(plan.id).part: \(errorText())")
                }
                var body = bytes[...]
                if let newline = body.firstIndex(of: 0x0A) {
                    let first = String(decoding: body[..<newline], as: UTF8.self)
                    if first.hasPrefix("<!-- latest "), first.hasSuffix(" -->") {
                        let data = String(first.dropFirst(12).dropLast(4))
                        if !data.isEmpty, latest.map({ data > $0 }) ?? true { latest = data }
                        body = body[(newline + 1)...]
                    }
                }
                try index.write(Array(body))
            }
            try index.write(HTMLReport.tail(labels: labels, latestData: .some(latest)))
            try index.commit()
        } catch {
            index.abandon()
            throw error
        }
        return rewritten
    }

    static func makeDirectory(_ directory: String) throws(ReportError) {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw ReportError("cannot create the report directory \(directory): \(error.localizedDescription)")
            }
        } else if !isDirectory.boolValue {
            throw ReportError("report_dir \(directory) exists and is not a directory")
        }
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}

/// A file written under a temporary name beside its path and renamed over it once whole.
final class AtomicFile {
    let path: String
    let temporary: String
    private var file: UnsafeMutablePointer<FILE>?

    init(_ path: String) throws(ReportError) {
        self.path = path
        temporary = AtomicFile.temporaryPath(beside: path)
        guard let file = fopen(temporary, "wx") else { throw ReportError("cannot create \(temporary): \(ReportFiles.errorText())") }
        self.file = file
    }

    /// A fresh hidden name in `path`'s directory (a rename from there is atomic).
    static func temporaryPath(beside path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        let name = ".\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        return directory.isEmpty ? name : directory + "/" + name
    }

    func write(_ text: String) throws(ReportError) { try write(Array(text.utf8)) }

    func write(_ bytes: [UInt8]) throws(ReportError) {
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == bytes.count else { throw ReportError("cannot write \(temporary): \(ReportFiles.errorText())") }
    }

    /// Flushes to disk and renames over `path`.
    func commit() throws(ReportError) {
        guard let file else { return }
        self.file = nil
        let flushed = fflush(file) == 0 && fsync(fileno(file)) == 0
        let closed = fclose(file) == 0
        guard flushed, closed else {
            unlink(temporary)
            throw ReportError("cannot write \(temporary): \(ReportFiles.errorText())")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ReportError("cannot rename \(temporary) to \(path): \(ReportFiles.errorText())")
        }
    }

    /// Removes the temporary file (after a failure).
    func abandon() {
        if let file { fclose(file) }
        file = nil
        unlink(temporary)
    }
}
