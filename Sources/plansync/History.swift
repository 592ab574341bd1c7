import ArgumentParser
import Configuration
import Foundation
import Mirror
import PlanCore

/// `plansync history`: the values and revisions of one indicator, read-only.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the values and revisions of one indicator from the mirror (read-only)."
    )

    @Argument(help: ArgumentHelp("Indicator code, e.g. gdp.", valueName: "indicator"))
    var indicator: String

    @Option(name: .long, help: ArgumentHelp("The daemon configuration file.", valueName: "file"))
    var config: String = "/etc/plansync/plansync.toml"

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        let loaded: DaemonConfig
        do { loaded = try DaemonConfig.load(path: config) } catch { fail(error.description) }
        let plans = loaded.plans.filter { $0.indicator(indicator) != nil }
        guard !plans.isEmpty else {
            let codes = loaded.plans.flatMap { $0.indicators.map(\.code) }
            fail("no plan has an indicator '\(indicator)' (known: \(codes.joined(separator: ", ")))")
        }
        let mirror: Mirror
        do { mirror = try Mirror(path: loaded.database, readOnly: true) } catch { fail(error.description, code: 1) }
        let entries: [HistoryEntry]
        do { entries = try await mirror.history(indicator: indicator) } catch { fail(error.description, code: 1) }
        if json {
            print(JSONValue.object([("indicator", .string(indicator)), ("observations", .array(entries.map(\.json)))]).text)
            return
        }
        let name = plans.compactMap { $0.indicator(indicator)?.name }.first ?? indicator
        print("\(indicator) \(name)")
        guard !entries.isEmpty else {
            print("no observations yet")
            return
        }
        var rows = [["period", "measure", "value", "unit", "feed", "priority", "updated", "earlier values (newest first)"]]
        for e in entries {
            var measure = e.measure
            if let base = e.baseYear { measure += " vs \(base)" }
            if e.cumulative { measure += " (YTD)" }
            let earlier = e.revisions.map { "\($0.value) (until \($0.replacedAt))" }.joined(separator: ", ")
            rows.append([e.period, measure, e.value, e.unit ?? "", e.feed, String(e.priority), e.updatedAt,
                         earlier.isEmpty ? "—" : earlier])
        }
        print(VerdictTable.align(rows))
    }
}
