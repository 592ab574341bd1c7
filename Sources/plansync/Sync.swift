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
        if json {
            // Every plan's verdicts: those judged now as computed, the others as stored (their
            // JSON text, not decoded).
            let judged = Dictionary(grouping: report.verdicts, by: \.plan)
            var verdicts: [JSONValue] = []
            for plan in loaded.plans {
                if let fresh = judged[plan.id] {
                    verdicts += fresh.map(\.json)
                } else if !report.rejudged.contains(plan.id) {
                    do { verdicts += try await mirror.verdictJSON(plan: plan.id).map(JSONValue.raw) } catch { fail(error.description, code: 1) }
                }
            }
            print(
                JSONValue.object([
                    ("feeds", .array(report.feeds.map(\.json))),
                    ("verdicts", .array(verdicts)),
                    ("events", .array(report.events.map { $0.object ?? .string($0.line) })),
                ]).text)
        } else {
            printText(FeedTable.render(report.feeds))
            let judged = Dictionary(grouping: report.verdicts, by: \.plan)
            let rejudged = Set(report.rejudged)
            var summaries: [String: PlanVerdictSummary] = [:]
            if !all && rejudged.count < loaded.plans.count {
                do { summaries = try await mirror.verdictSummaries() } catch { fail(error.description, code: 1) }
            }
            for plan in loaded.plans {
                if rejudged.contains(plan.id) {
                    printText("\n\(plan.id) — \(plan.title)")
                    printText(VerdictTable.render(judged[plan.id] ?? [], plan: plan))
                } else if all {
                    printText("\n\(plan.id) — \(plan.title) (unchanged)")
                    do { printText(VerdictTable.render(try await mirror.storedVerdicts(plan: plan.id), plan: plan)) } catch {
                        fail(error.description, code: 1)
                    }
                } else {
                    printText("\n\(plan.id) — \(plan.title): " + VerdictTable.summary(summaries[plan.id]))
                }
            }
            printText(report.events.isEmpty ? "\nNo new alert events." : "\nNew alert events (\(loaded.alertLog)):")
            for event in report.events {
                guard let action = event.action else { continue }
                printText("  #\(event.seq) \(action.event.rawValue) \(action.kind.rawValue) [\(action.severity.rawValue)] \(action.message)")
            }
            if let error = report.alertLogError { printText("\nwarning: \(error)") }
        }
        // A clean close: the database file is complete on its own afterwards (for copies and
        // backups of a mirror only `plansync sync` writes, e.g. from cron).
        do { try mirror.close() } catch { fail(error.description, code: 1) }
        if !report.allSucceeded { throw ExitCode(1) }
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
