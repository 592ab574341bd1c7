import ArgumentParser
import Daemon
import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import PlanCore
import Logging
import Support

/// The `plansync` command line (README.md, Commands).
@main
struct Plansync: AsyncParsableCommand {
    static let version = PlansyncVersion.string

    static let configuration = CommandConfiguration(
        commandName: "plansync",
        abstract: "Keep a development plan's indicators in sync with statistics feeds and flag targets at risk.",
        version: version,
        subcommands: [
            DaemonCommand.self, Sync.self, Check.self, Evaluate.self, History.self, StatusCommand.self, IndicatorsCommand.self, AlertsCommand.self,
            FeedsCommand.self, SinksCommand.self, TestSinkCommand.self, ReportCommand.self, AckCommand.self, UnackCommand.self,
            SilenceCommand.self, SilencesCommand.self, UnsilenceCommand.self,
        ]
    )

    /// Runs a command; usage and configuration errors exit 2, runtime failures 1 (README.md, Commands).
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

/// Prints a one-line error to stderr and exits with `code`. The message may quote a feed or
/// a file: control characters and bidi overrides are shown escaped.
func fail(_ message: String, code: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data(("plansync: " + DisplayText.terminal(message) + "\n").utf8))
    exit(code)
}

/// Prints human-readable text (never JSON): in each line, control characters and bidi
/// overrides, which a feed's unit, note or error could carry, are shown escaped, so the
/// terminal clears, retitles and hides nothing.
func printText(_ text: String) {
    guard text.unicodeScalars.contains(where: DisplayText.isUnsafe) else { return print(text) }
    print(text.split(separator: "\n", omittingEmptySubsequences: false).map { DisplayText.terminal($0) }.joined(separator: "\n"))
}

/// Sends swift-log output to stderr at `level` (only `main` bootstraps logging).
func bootstrapLogging(level: String) {
    let journal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"].map { !$0.isEmpty } ?? false
    LoggingSystem.bootstrap { label in
        StderrLogHandler(label: label, level: Logger.Level(rawValue: level) ?? .info, journal: journal)
    }
}

/// Standard output written as it goes (64 KiB at a time), for output of any length.
/// `write` returns false once the reader has gone (a closed pipe, `| head`), so a long
/// stream stops instead of running on.
final class StreamedOutput: Sendable {
    private let pending = Locked<[UInt8]>([])
    private let closed = Locked(false)

    init() { fflush(nil) }  // what print() buffered goes first

    /// Queues `text`; false when standard output is closed.
    @discardableResult
    func write(_ text: String) -> Bool {
        let full = pending.withLock { buffer in
            buffer.append(contentsOf: text.utf8)
            return buffer.count >= 65536
        }
        return full ? flush() : !closed.current
    }

    /// Writes what is queued; false when standard output is closed.
    @discardableResult
    func flush() -> Bool {
        let bytes = pending.withLock { buffer in
            defer { buffer.removeAll(keepingCapacity: true) }; return buffer
        }
        var offset = 0
        while offset < bytes.count, !closed.current {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                closed.withLock { $0 = true }
            } else {
                offset += n
            }
        }
        return !closed.current
    }
}

/// A table printed in blocks as its rows arrive (a million rows start printing at once, in
/// bounded memory): each block is aligned on its own, at least as wide as everything printed
/// before it; the header comes with the first block.
final class StreamedTable: Sendable {
    private struct State {
        var rows: [[String]] = []
        var widths: [Int]
        var printed = 0
    }

    static let blockSize = 500
    private let header: [String]
    private let out = StreamedOutput()
    private let state: Locked<State>

    init(header: [String]) {
        self.header = header
        state = Locked(State(widths: header.map(VerdictTable.displayWidth)))
    }

    /// Adds a row; false once standard output is closed (stop producing rows).
    func add(_ row: [String]) -> Bool {
        let full = state.withLock { s in
            s.rows.append(row)
            return s.rows.count >= StreamedTable.blockSize
        }
        return full ? flush() : true
    }

    /// Prints the rows gathered so far; false when standard output is closed.
    @discardableResult
    func flush() -> Bool {
        let text = state.withLock { s -> String? in
            guard !s.rows.isEmpty else { return nil }
            for row in s.rows {
                for (i, cell) in row.enumerated() where i < s.widths.count {
                    s.widths[i] = max(s.widths[i], VerdictTable.displayWidth(DisplayText.terminal(cell)))
                }
            }
            let block = (s.printed == 0 ? [header] : []) + s.rows
            s.printed += s.rows.count
            s.rows.removeAll(keepingCapacity: true)
            return VerdictTable.align(block, minimumWidths: s.widths)
        }
        guard let text else { return true }
        return out.write(text + "\n")
    }

    /// Prints what is left (or `empty` when no row came) and flushes standard output.
    func finish(empty: String) {
        flush()
        if state.current.printed == 0 { out.write(empty + "\n") }
        out.flush()
    }
}
