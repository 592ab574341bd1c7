import ArgumentParser
import Configuration
import Foundation
import Mirror
import PlanCore
import Report
import Support

/// `plansync report`: the plans' annex as HTML, XLSX or CSV, from the mirror (read-only).
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a report of the plans from the mirror: HTML with charts, XLSX or CSV (read-only).",
        discussion: """
            Works while the daemon runs. HTML and CSV go to standard output unless -o is given; \
            XLSX needs -o. Without --format, the extension of -o decides (html by default).
            """
    )

    @Option(name: .long, help: ArgumentHelp("The daemon configuration file.", valueName: "file"))
    var config: String = "/etc/plansync/plansync.toml"

    @Option(name: .long, help: ArgumentHelp("Only this plan (repeat for several; default: every plan).", valueName: "id"))
    var plan: [String] = []

    @Option(name: .long, help: ArgumentHelp("Only this target year.", valueName: "year"))
    var year: Int?

    @Option(name: .long, help: ArgumentHelp("Labels in zh or en (default: each plan's language).", valueName: "lang"))
    var lang: String?

    @Option(name: .long, help: ArgumentHelp("html, xlsx or csv.", valueName: "format"))
    var format: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file (replaced atomically) instead of standard output.", valueName: "file"))
    var output: String?

    func run() async throws {
        let language: PlanLanguage?
        if let lang {
            guard let parsed = PlanLanguage(rawValue: lang) else { fail("--lang: unknown language '\(lang)' (allowed: zh, en)") }
            language = parsed
        } else {
            language = nil
        }
        let chosen: ReportFiles.Format
        if let format {
            guard let parsed = ReportFiles.Format(rawValue: format.lowercased()) else {
                fail("--format: unknown format '\(format)' (allowed: html, xlsx, csv)")
            }
            chosen = parsed
        } else {
            chosen = output.flatMap(ReportFiles.Format.init(fileName:)) ?? .html
        }
        if chosen == .xlsx, output == nil { fail("--format xlsx writes a file: give it with -o FILE (e.g. -o report.xlsx)") }
        if let year, !PlanFile.targetYears.contains(year) {
            fail("--year: \(year) is out of range (allowed: \(PlanFile.targetYears.lowerBound)–\(PlanFile.targetYears.upperBound))")
        }
        let loaded: DaemonConfig
        do { loaded = try DaemonConfig.load(path: config) } catch { fail(error.description) }
        var plans: [Plan] = []
        for id in plan {
            guard let found = loaded.plan(id) else {
                fail("--plan: no plan '\(id)' in \(loaded.path) (known: \(loaded.plans.map(\.id).joined(separator: ", ")))")
            }
            if !plans.contains(where: { $0.id == id }) { plans.append(found) }
        }
        if plans.isEmpty { plans = loaded.plans }
        if let year {
            plans = plans.filter { $0.indicators.contains { $0.targets.contains { $0.year == year } } }
            guard !plans.isEmpty else { fail("--year: no plan asked for has a target for \(year)") }
        }
        guard FileManager.default.fileExists(atPath: loaded.database) else {
            fail("the mirror \(loaded.database) does not exist yet: run `plansync sync --config \(config)` or start the daemon first", code: 1)
        }
        // Several plans on one page: read and rendered plan by plan on every core.
        if chosen == .html, plans.count > 1 {
            let page: String?
            do {
                let mirror = try Mirror(path: loaded.database, readOnly: true)
                page = try await HTMLReport.render(mirror: mirror, plans: plans, year: year, language: language)
            } catch { fail(error.description, code: 1) }
            guard let page else { noVerdicts(plans, database: loaded.database) }
            write(page)
            return
        }
        let report: Report
        do {
            let mirror = try Mirror(path: loaded.database, readOnly: true)
            // Earlier values and first-seen times: for full charts (one plan) and the spreadsheet.
            report = try await Report.load(
                mirror: mirror, plans: plans, year: year, language: language, history: chosen == .xlsx || (chosen == .html && plans.count == 1))
        } catch { fail(error.description, code: 1) }
        guard report.plans.contains(where: { !$0.records.verdicts.isEmpty }) else { noVerdicts(plans, database: loaded.database) }
        if chosen == .xlsx {
            do { try ReportFiles.writeXLSX(report, to: output!) } catch { fail(error.description, code: 1) }
            FileHandle.standardError.write(Data("plansync: wrote \(output!)\n".utf8))
        } else {
            write(chosen == .html ? HTMLReport.render(report) : CSVReport.render(report))
        }
    }

    /// Writes `text` to `-o` (atomically) or standard output.
    func write(_ text: String) {
        guard let output else { return FileHandle.standardOutput.write(Data(text.utf8)) }
        do { try ReportFiles.write(Array(text.utf8), to: output) } catch { fail(error.description, code: 1) }
        FileHandle.standardError.write(Data("plansync: wrote \(output)\n".utf8))
    }

    func noVerdicts(_ plans: [Plan], database: String) -> Never {
        fail(
            "the mirror \(database) has no verdicts for \(plans.map(\.id).joined(separator: ", ")) yet: "
                + "run `plansync sync --config \(config)` or wait for the daemon's first cycle", code: 1)
    }
}
