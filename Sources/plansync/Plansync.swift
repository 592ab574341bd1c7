import ArgumentParser
import Daemon
import Foundation
import Logging

/// The `plansync` command line (DESIGN §8).
@main
struct Plansync: AsyncParsableCommand {
    static let version = PlansyncVersion.string

    static let configuration = CommandConfiguration(
        commandName: "plansync",
        abstract: "Keep a development plan's indicators in sync with statistics feeds and flag targets at risk.",
        version: version,
        subcommands: [DaemonCommand.self, Sync.self, Check.self, Evaluate.self, History.self, StatusCommand.self, IndicatorsCommand.self, AlertsCommand.self, FeedsCommand.self]
    )

    /// Runs a command; usage and configuration errors exit 2, runtime failures 1 (DESIGN §8).
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Foundation.exit(0)
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            Foundation.exit(2)
        }
    }
}

/// Prints a one-line error to stderr and exits with `code`.
func fail(_ message: String, code: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data(("plansync: " + message + "\n").utf8))
    exit(code)
}

/// Sends swift-log output to stderr at `level` (only `main` bootstraps logging).
func bootstrapLogging(level: String) {
    let journal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"].map { !$0.isEmpty } ?? false
    LoggingSystem.bootstrap { label in
        StderrLogHandler(label: label, level: Logger.Level(rawValue: level) ?? .info, journal: journal)
    }
}
