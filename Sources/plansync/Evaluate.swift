import ArgumentParser
import Configuration
import FeedFormats
import Foundation
import PlanCore

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

    @Flag(name: .long, help: "Print {\"verdicts\": [...]} as JSON.")
    var json = false

    func run() throws {
        let plan: Plan
        do { plan = try PlanFile.load(path: self.plan) } catch { fail(error.description) }
        guard let charset = Charset(name: charset) else { fail("--charset: unknown charset '\(charset)' (allowed: utf-8, gb18030)") }
        if let year, !PlanFile.targetYears.contains(year) {
            fail("--year: \(year) is out of range (allowed: \(PlanFile.targetYears.lowerBound)–\(PlanFile.targetYears.upperBound))")
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
        let verdicts = Evaluation.verdicts(
            plan: plan, observations: all, priorities: priorities,
            years: year.map { [$0] })
        if json {
            print(JSONValue.object([("verdicts", .array(verdicts.map(\.json)))]).text)
        } else {
            printText(VerdictTable.render(verdicts, plan: plan))
            if skipped > 0 { printText("\(skipped) row(s) for indicators not in plan \(plan.id) were skipped.") }
        }
    }
}
