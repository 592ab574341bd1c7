import ArgumentParser
import Daemon
import Configuration
import Foundation
import Logging

/// `plansync daemon`: the long-running service, in the foreground (what systemd runs).
struct DaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the daemon in the foreground: scheduled syncs, the status socket, systemd notification.",
        discussion: "SIGHUP reloads the configuration (an invalid one is ignored); SIGTERM or SIGINT stop it cleanly."
    )

    @Option(name: .long, help: ArgumentHelp("The daemon configuration file.", valueName: "file"))
    var config: String = "/etc/plansync/plansync.toml"

    func run() throws {
        let level = (try? Configuration.DaemonConfig.load(path: config).logLevel) ?? "info"
        bootstrapLogging(level: level)
        let code = DaemonRunner.run(configPath: config, logger: Logger(label: "plansync.daemon"))
        throw ExitCode(code)
    }
}
