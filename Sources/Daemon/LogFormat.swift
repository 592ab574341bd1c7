import Foundation
import Logging
import PlanCore
import Support

/// swift-log output for stderr. Under systemd (`JOURNAL_STREAM` set) each line starts with
/// its syslog priority (`<3>` error … `<7>` debug), so `journalctl -p warning` filters it and
/// journald adds its own timestamps; elsewhere lines start with a UTC timestamp and the level.
public struct StderrLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let journal: Bool
    private static let output = Locked(FileHandle.standardError)

    public init(label: String, level: Logger.Level, journal: Bool) {
        self.label = label
        self.logLevel = level
        self.journal = journal
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if let error = event.error { merged["error"] = "\(error)" }
        let text = StderrLogHandler.render(
            level: event.level, label: label, message: "\(event.message)", metadata: merged,
            journal: journal, now: Date())
        StderrLogHandler.output.withLock { $0.write(Data((text + "\n").utf8)) }
    }

    /// syslog priority of a swift-log level.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// One log line (without newline). Control characters and bidi overrides in the message and
    /// metadata (which may come from a feed) are written as visible escapes, so a line stays one
    /// line and a terminal reading the log (`journalctl`, `tail`) acts on none of them.
    public static func render(
        level: Logger.Level, label: String, message: String, metadata: Logger.Metadata,
        journal: Bool, now: Date
    ) -> String {
        // (No DateFormatter: making one per line cost more than the rest of the line.)
        var text = journal ? "<\(priority(level))>" : "\(Timestamp.string(now)) \(level) "
        text += "\(label): \(DisplayText.terminal(message))"
        for key in metadata.keys.sorted() { text += " \(key)=\(DisplayText.terminal("\(metadata[key]!)"))" }
        return text
    }
}
