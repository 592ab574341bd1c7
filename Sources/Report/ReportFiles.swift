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
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        do throws(ReportError) {
            try make(temporary)
            guard rename(temporary, path) == 0 else { throw ReportError("cannot rename \(temporary) to \(path): \(errorText())") }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Rewrites the daemon's report directory: `index.html` with every plan (written plan by
    /// plan, so memory holds one plan at a time whatever their number), and `<plan>.html` and
    /// `<plan>.xlsx` of the plans in `changed` (nil: every plan) or whose files are missing.
    /// Each file is replaced atomically. Synchronous: the daemon runs it on a thread of lowered
    /// priority. `records` reads one plan from the mirror. Returns the plans whose files were
    /// rewritten.
    @discardableResult
    public static func writeDirectory(
        plans: [Plan], feeds: [FeedStatus], summaries: [String: PlanVerdictSummary], changed: Set<String>?,
        to directory: String, now: Date = Date(), records: (String) throws(MirrorError) -> PlanReportRecords
    ) throws(ReportError) -> [String] {
        try makeDirectory(directory)
        let labels = ReportLabels(plans.first?.language ?? .zh)
        let index = try AtomicFile(directory + "/index.html")
        var rewritten: [String] = []
        do throws(ReportError) {
            try index.write(
                HTMLReport.head(
                    labels: labels, plans: plans, generatedAt: now, latestData: nil, landscape: plans.contains { $0.years.count > 2 },
                    contents: plans.count > 1 ? plans.map { ($0, summaries[$0.id]?.counts ?? [:]) } : nil))
            var latest: String?
            for plan in plans {
                let read: PlanReportRecords
                do { read = try records(plan.id) } catch { throw ReportError("cannot read plan \(plan.id) from the mirror for the report: \(error)") }
                let section = PlanSection(plan: plan, records: read, feeds: feeds.filter { $0.plan == plan.id && $0.active })
                if let data = read.latestData, latest.map({ data > $0 }) ?? true { latest = data }
                try index.write(HTMLReport.render(section, asked: nil, document: labels.language, generatedAt: now))
                let html = directory + "/\(plan.id).html", xlsx = directory + "/\(plan.id).xlsx"
                let missing = !FileManager.default.fileExists(atPath: html) || !FileManager.default.fileExists(atPath: xlsx)
                // A plan called `index` is in index.html only (its own file would be that one).
                guard plan.id != "index", changed?.contains(plan.id) ?? true || missing else { continue }
                let single = Report(generatedAt: now, language: nil, plans: [section])
                try write(Array(HTMLReport.render(single).utf8), to: html)
                try writeXLSX(single, to: xlsx)
                rewritten.append(plan.id)
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
        let directory = (path as NSString).deletingLastPathComponent
        temporary = (directory.isEmpty ? "" : directory + "/") + ".\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        guard let file = fopen(temporary, "wx") else { throw ReportError("cannot create \(temporary): \(ReportFiles.errorText())") }
        self.file = file
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
