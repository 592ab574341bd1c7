import ArgumentParser
import Foundation

/// The `plansync` command line (DESIGN §8).
@main
struct Plansync: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "plansync",
        abstract: "Keep a development plan's indicators in sync with statistics feeds and flag targets at risk.",
        version: version,
        subcommands: [Evaluate.self, Check.self]
    )

    /// Runs a command; usage and configuration errors exit 2, runtime failures 1 (DESIGN §8).
    static func main() {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
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
