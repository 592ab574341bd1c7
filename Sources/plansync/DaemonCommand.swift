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
        // Read once: the runner gets the loaded configuration (at province scale reading it
        // is most of the start-up).
        let loaded = Result { () throws(ConfigError) in try Configuration.DaemonConfig.load(path: config) }
        bootstrapLogging(level: (try? loaded.get())?.logLevel ?? "info")
        let code = DaemonRunner.run(loaded: loaded, logger: Logger(label: "plansync.daemon"))
        throw ExitCode(code)
    }
}
