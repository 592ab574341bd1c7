import ArgumentParser
import Configuration
import FeedFormats
import Foundation
import PlanCore

/// `plansync check`: validate the config, its plans and mappings without changing anything.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate the configuration, its plans and feed mappings; change nothing."
    )

    @Option(name: .long, help: ArgumentHelp("The daemon configuration file.", valueName: "file"))
    var config: String = "/etc/plansync/plansync.toml"

    func run() throws {
        let loaded: DaemonConfig
        do { loaded = try DaemonConfig.load(path: config) } catch { fail(error.description) }
        printText("\(loaded.path): OK")
        printText("  database   \(loaded.database)")
        printText("  socket     \(loaded.socket) (mode \(String(loaded.socketMode, radix: 8)))")
        printText("  alert log  \(loaded.alertLog)")
        for (plan, file) in zip(loaded.plans, loaded.planFiles) {
            let targets = plan.indicators.reduce(0) { $0 + $1.targets.count }
            printText("  plan       \(plan.id): \(plan.indicators.count) indicators, \(targets) targets (\(file))")
        }
        for feed in loaded.feeds {
            var line =
                "  feed       \(feed.id) → \(feed.plan): \(feed.format.rawValue), priority \(feed.priority), every \(DurationText.format(feed.settings.interval)), \(feed.displayURL)"
            if feed.url.hasPrefix("file://"), let path = URL(string: feed.url)?.path {
                // A local feed can be read without side effects: say whether it parses.
                if let data = FileManager.default.contents(atPath: path) {
                    do {
                        let parsed = try FeedParser.parse(
                            Array(data), format: feed.format,
                            options: feed.parseOptions(plan: loaded.plan(feed.plan)))
                        line += " — \(parsed.observations.count) observations, \(parsed.skipped) skipped"
                        for warning in parsed.warnings { line += "\n    warning: \(warning)" }
                    } catch {
                        line += "\n    warning: \(path): \(error.description)"
                    }
                } else {
                    line += "\n    warning: \(path) cannot be read yet"
                }
            }
            printText(line)
        }
        for sink in loaded.sinks {
            var takes: [String] = []
            if let plans = sink.match.plans { takes.append("plans \(plans.sorted().joined(separator: ","))") }
            if let severities = sink.match.severities { takes.append("severity \(severities.sorted().joined(separator: ","))") }
            if let alerts = sink.match.alerts { takes.append("alerts \(alerts.sorted().joined(separator: ","))") }
            printText(
                "  sink       \(sink.description): \(takes.isEmpty ? "every event" : takes.joined(separator: "; "))"
                    + "\(sink.secret == nil ? "" : ", signed"), retried for \(DurationText.format(sink.maxAge))")
        }
        if loaded.feeds.isEmpty { printText("  warning: no [[feed]] entries; nothing will be fetched") }
    }
}
