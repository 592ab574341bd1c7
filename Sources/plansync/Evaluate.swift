import ArgumentParser
import Configuration
import FeedFormats
import Foundation
import PlanCore
import Support

/// `plansync evaluate`: judge a plan against observation files, offline, without a database.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Judge a plan's targets against observation files (offline, no database).",
        discussion: """
            Each observations file is a feed named after the file. When files disagree on a \
            figure, the file given first wins and the conflict is shown.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The plan file (TOML).", valueName: "file"))
    var plan: String

    @Option(
        name: .long, parsing: .upToNextOption,
        help: ArgumentHelp("Observation files in the native csv or json format; the first has the highest priority.", valueName: "file"))
    var observations: [String]

    @Option(name: .long, help: ArgumentHelp("Only targets for this year.", valueName: "year"))
    var year: Int?

    @Option(name: .long, help: "Body charset of the observation files: utf-8 or gb18030.")
    var charset: String = "utf-8"

    @Flag(name: .long, help: "Print {\"verdicts\": [...], \"overdue\": [...], \"releases\": [...]} as JSON.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp("Judge as at this time (RFC 3339, e.g. 2024-04-20T00:00:00+08:00): the clock for overdue releases.", valueName: "time"))
    var at: String?

    func run() throws {
        let plan: Plan
        do { plan = try PlanFile.load(path: self.plan) } catch { fail(error.description) }
        guard let charset = Charset(name: charset) else { fail("--charset: unknown charset '\(charset)' (allowed: utf-8, gb18030)") }
        if let year, !PlanFile.targetYears.contains(year) {
            fail("--year: \(year) is out of range (allowed: \(PlanFile.targetYears.lowerBound)–\(PlanFile.targetYears.upperBound))")
        }
        var now = Date()
        if let at {
            guard let parsed = Timestamp.rfc3339(at) else {
                fail("--at: '\(at)' is not an RFC 3339 time (e.g. 2024-04-20T00:00:00Z or 2024-04-20T08:00:00+08:00)")
            }
            now = parsed
        }
        var all: [Observation] = []
        var priorities: [String: Int] = [:]
        var skipped = 0
        for (i, file) in observations.enumerated() {
            let feed = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
            let format: FeedFormat = file.lowercased().hasSuffix(".json") ? .json : .csv
            guard let data = FileManager.default.contents(atPath: file) else {
                fail("\(file): cannot be read (no such file, or permission denied)")
            }
            let parsed: ParsedFeed
            do {
                parsed = try FeedParser.parse(
                    Array(data), format: format,
                    options: ParseOptions(
                        feed: feed, indicators: Set(plan.indicators.map(\.code)),
                        charset: charset))
            } catch {
                fail("\(file): \(error.description)")
            }
            for warning in parsed.warnings { FileHandle.standardError.write(Data("plansync: \(file): warning: \(warning)\n".utf8)) }
            priorities[feed] = observations.count - i
            skipped += parsed.skipped
            all += parsed.observations
        }
        let index = ObservationIndex(all, priorities: priorities)
        let verdicts = Evaluation.verdicts(plan: plan, index: index, years: year.map { [$0] })
        var judged = PlanJudgement(verdicts: [], conditions: [])
        Judging.releases(plan, index: index, now: now, into: &judged)
        if json {
            print(
                JSONValue.object([
                    ("verdicts", .array(verdicts.map(\.json))), ("overdue", ReleaseJSON.overdue(judged.releases, plan: plan)),
                    ("releases", ReleaseJSON.next(judged.releases, plan: plan)),
                ]).text)
        } else {
            printText(VerdictTable.render(verdicts, plan: plan))
            for line in ReleaseJSON.lines(judged.releases, plan: plan, now: now) { printText(line) }
            if skipped > 0 { printText("\(skipped) row(s) for indicators not in plan \(plan.id) were skipped.") }
        }
    }
}

/// Release statuses as JSON and as lines (evaluate, indicators).
enum ReleaseJSON {
    /// `[{"indicator", "name", "period", "due"}]`: figures past due and grace, none published.
    static func overdue(_ releases: [ReleaseStatus], plan: Plan) -> JSONValue {
        .array(
            releases.flatMap(\.overdue).map { o in
                .object([
                    ("indicator", .string(o.indicator)), ("name", .optional(plan.indicator(o.indicator)?.name)),
                    ("period", .string(o.period.description)), ("due", .string(Timestamp.string(o.due))),
                ])
            })
    }

    /// `[{"indicator", "next_period", "next_due", "overdue"}]`, one per watched indicator.
    static func next(_ releases: [ReleaseStatus], plan: Plan) -> JSONValue {
        .array(
            releases.map { r in
                .object([
                    ("indicator", .string(r.indicator)), ("next_period", .optional(r.next?.period.description)),
                    ("next_due", .optional(r.next.map { Timestamp.string($0.due) })), ("overdue", .int(r.overdue.count)),
                ])
            })
    }

    static func lines(_ releases: [ReleaseStatus], plan: Plan, now: Date) -> [String] {
        var lines: [String] = []
        for r in releases {
            let name = plan.indicator(r.indicator)?.name ?? r.indicator
            for o in r.overdue {
                lines.append("overdue: \(r.indicator) \(name) \(o.period), due \(ReleaseSchedule.localText(o.due, zone: plan.zone))")
            }
        }
        for r in releases {
            // The next figure awaited, unless it is the overdue one listed above.
            guard let next = r.next, !r.overdue.contains(where: { $0.period == next.period }) else { continue }
            lines.append("next: \(r.indicator) \(next.period), due \(ReleaseSchedule.localText(next.due, zone: plan.zone))")
        }
        return lines
    }
}
