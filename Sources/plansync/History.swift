import ArgumentParser
import Configuration
import Daemon
import Foundation
import Mirror
import PlanCore
import Support

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
        if json {
            // Streamed: the opening, then each entry as it is read, then the closing.
            let out = StreamedOutput()
            out.write("{\"indicator\":" + JSONValue.string(indicator).text + ",\"observations\":[")
            let first = Locked(true)
            do {
                try await mirror.streamHistory(indicator: indicator) { entry in
                    let comma = first.withLock { was in
                        defer { was = false }; return !was
                    }
                    return out.write((comma ? "," : "") + entry.json.text)
                }
            } catch { fail(error.description, code: 1) }
            out.write("]}\n")
            out.flush()
            return
        }
        let name = plans.compactMap { $0.indicator(indicator)?.name }.first ?? indicator
        printText("\(indicator) \(name)")
        let table = StreamedTable(header: [
            "period", "measure", "value", "unit", "feed", "priority", "updated", "earlier values (newest first)",
        ])
        do {
            try await mirror.streamHistory(indicator: indicator) { e in
                var measure = e.measure
                if let base = e.baseYear { measure += " vs \(base)" }
                if e.cumulative { measure += " (YTD)" }
                let earlier = e.revisions.map { "\($0.value) (until \($0.replacedAt))" }.joined(separator: ", ")
                return table.add([
                    e.period, measure, e.value, e.unit ?? "", e.feed, String(e.priority), e.updatedAt,
                    earlier.isEmpty ? "—" : earlier,
                ])
            }
        } catch { fail(error.description, code: 1) }
        table.finish(empty: "no observations yet")
    }
}
