import ArgumentParser
import Configuration
import Daemon
import Fetch
import Foundation
import Logging
import Mirror
import PlanCore

/// `plansync sync`: one sync cycle, then exit (for cron, scripts and the demo).
struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one sync cycle: fetch feeds, update the mirror, judge targets, write alerts.",
        discussion: "Exit status: 0 when every feed succeeded or was unchanged, 1 when one failed, 2 on a configuration error."
    )

    @Option(name: .long, help: ArgumentHelp("The daemon configuration file.", valueName: "file"))
    var config: String = "/etc/plansync/plansync.toml"

    @Option(name: .long, help: ArgumentHelp("Only this feed (repeatable).", valueName: "id"))
    var feed: [String] = []

    @Flag(name: .long, help: #"Print {"feeds": [...], "verdicts": [...], "events": [...]} as JSON (every plan's verdicts)."#)
    var json = false

    @Flag(name: .long, help: "Print every plan's verdict table, not only those of plans judged again in this run.")
    var all = false

    @Flag(name: .long, help: "Judge every plan again, whatever changed (after editing the mirror by hand).")
    var rejudge = false

    func run() async throws {
        let loaded: DaemonConfig
        do { loaded = try DaemonConfig.load(path: config) } catch { fail(error.description) }
        bootstrapLogging(level: loaded.logLevel)
        let known = Set(loaded.feeds.map(\.id))
        for id in feed where !known.contains(id) {
            fail("--feed: no feed '\(id)' in \(loaded.path) (feeds: \(loaded.feeds.map(\.id).joined(separator: ", ")))")
        }
        let mirror: Mirror
        do { mirror = try Mirror(path: loaded.database) } catch { fail(error.description, code: 1) }
        let syncer = Syncer(
            config: loaded, mirror: mirror, engine: FetchEngine(maxConcurrent: loaded.maxConcurrentFetches),
            logger: Logger(label: "plansync.sync"))
        let report: SyncReport
        do { report = try await syncer.run(only: feed.isEmpty ? nil : Set(feed), rejudge: rejudge) } catch { fail(error.description, code: 1) }
        // Printed piece by piece from the mirror (a province's first sync judges 420,000
        // targets and records 190,000 events: never all in memory at once).
        do throws(MirrorError) {
            if json {
                try await printJSON(report, plans: loaded.plans, mirror: mirror)
            } else {
                try await printTables(report, config: loaded, mirror: mirror)
            }
        } catch {
            fail(error.description, code: 1)
        }
        // A clean close: the database file is complete on its own afterwards (for copies and
        // backups of a mirror only `plansync sync` writes, e.g. from cron).
        do { try mirror.close() } catch { fail(error.description, code: 1) }
        if !report.allSucceeded { throw ExitCode(1) }
    }
}

extension Sync {
    /// `{"feeds": [...], "verdicts": [...], "events": [...]}`: every plan's verdicts as stored
    /// and the events this run recorded, as their alert log lines.
    func printJSON(_ report: SyncReport, plans: [Plan], mirror: Mirror) async throws(MirrorError) {
        print("{\"feeds\":" + JSONValue.array(report.feeds.map(\.json)).text + ",\"verdicts\":[", terminator: "")
        var first = true
        for plan in plans {
            let texts = try await mirror.verdictTexts(plan: plan.id, cached: false)
            guard !texts.isEmpty else { continue }
            print((first ? "" : ",") + texts.joined(separator: ","), terminator: "")
            first = false
        }
        print("],\"events\":[", terminator: "")
        first = true
        try await eachEvent(report, mirror: mirror) { event in
            print((first ? "" : ",") + event.line, terminator: "")
            first = false
        }
        print("]}")
    }

    /// The feed table, each re-judged plan's verdict table (every plan's with `--all`, a
    /// summary line for the others) and the new events.
    func printTables(_ report: SyncReport, config: DaemonConfig, mirror: Mirror) async throws(MirrorError) {
        printText(FeedTable.render(report.feeds))
        let rejudged = Set(report.rejudged)
        var summaries: [String: PlanVerdictSummary] = [:]
        if !all && rejudged.count < config.plans.count { summaries = try await mirror.verdictSummaries() }
        for plan in config.plans {
            if rejudged.contains(plan.id) || all {
                printText("\n\(plan.id) — \(plan.title)\(rejudged.contains(plan.id) ? "" : " (unchanged)")")
                printText(VerdictTable.render(try await mirror.storedVerdicts(plan: plan.id), plan: plan))
            } else {
                printText("\n\(plan.id) — \(plan.title): " + VerdictTable.summary(summaries[plan.id]))
            }
        }
        printText(report.eventSeqs.isEmpty ? "\nNo new alert events." : "\nNew alert events (\(config.alertLog)):")
        try await eachEvent(report, mirror: mirror) { event in
            guard let line = try? JSONParser.parse(Array(event.line.utf8)) else { return }
            func field(_ key: String) -> String { line[key]?.stringValue ?? "" }
            printText("  #\(event.seq) \(field("event")) \(field("alert")) [\(field("severity"))] \(field("message"))")
        }
        if let error = report.alertLogError { printText("\nwarning: \(error)") }
    }

    /// The events the run recorded, read back in pages of 1,000.
    func eachEvent(_ report: SyncReport, mirror: Mirror, _ body: (StoredEvent) -> Void) async throws(MirrorError) {
        var after = report.eventSeqs.lowerBound - 1
        while after + 1 < report.eventSeqs.upperBound {
            let page = try await mirror.events(after: after, limit: 1000).filter { $0.seq < report.eventSeqs.upperBound }
            guard let last = page.last else { return }
            page.forEach(body)
            after = last.seq
        }
    }
}

/// Renders per-feed sync results.
enum FeedTable {
    static func render(_ feeds: [FeedReport]) -> String {
        var rows = [["feed", "outcome", "http", "bytes", "new", "revised", "unchanged", "skipped", "message"]]
        for f in feeds {
            rows.append([
                f.id, f.outcome.rawValue, f.httpStatus.map(String.init) ?? "—", String(f.bytes), String(f.counts.inserted),
                String(f.counts.revised), String(f.counts.unchanged), String(f.counts.skipped), f.message,
            ])
        }
        return VerdictTable.align(rows)
    }
}
