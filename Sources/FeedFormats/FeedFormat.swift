import PlanCore

/// The body formats a feed may declare (docs/feeds.md).
public enum FeedFormat: String, Sendable, CaseIterable {
    case csv
    case json
    case tableCSV = "table-csv"
    case sdmxCSV = "sdmx-csv"
    case sdmxJSON = "sdmx-json"
    case nbsJSON = "nbs-json"

    /// The spellings allowed in a config file.
    public static let allowed = allCases.map(\.rawValue).joined(separator: ", ")

    /// Native formats name indicators themselves; foreign formats need `[[feed.map]]`.
    public var isNative: Bool {
        switch self {
        case .csv, .json: true
        case .tableCSV, .sdmxCSV, .sdmxJSON, .nbsJSON: false
        }
    }

    /// `table-csv` names its period and value columns in `columns`.
    public var hasColumns: Bool {
        switch self {
        case .tableCSV: true
        case .csv, .json, .sdmxCSV, .sdmxJSON, .nbsJSON: false
        }
    }

    /// The charsets worth fuzzing this format's bodies in: every one where the format reads
    /// CSV text that bureaus publish in GB18030, UTF-8 elsewhere.
    public var fuzzedCharsets: [Charset] {
        switch self {
        case .tableCSV: Charset.allCases
        case .csv, .json, .sdmxCSV, .sdmxJSON, .nbsJSON: [.utf8]
        }
    }
}

/// Text encodings a feed body may use.
public enum Charset: String, Sendable, CaseIterable {
    case utf8 = "utf-8"
    /// GB18030, a superset of GBK and GB2312 (Chinese statistics bureaus).
    case gb18030

    /// Accepts common spellings: `utf8`, `UTF-8`, `gbk`, `gb2312`, `GB18030`.
    public init?(name: String) {
        switch name.lowercased() {
        case "utf-8", "utf8": self = .utf8
        case "gb18030", "gbk", "gb2312", "cp936": self = .gb18030
        default: return nil
        }
    }
}

/// Where and why a feed body could not be read. Nothing from such a body is used.
public struct FeedParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var line: Int?
    public var column: Int?
    /// JSON path for JSON formats.
    public var path: String?

    /// `message` is bounded (`DisplayText.messageLimit`): it may quote a value from the body.
    public init(_ message: String, line: Int? = nil, column: Int? = nil, path: String? = nil) {
        self.message = DisplayText.message(message)
        self.line = line
        self.column = column
        self.path = path
    }

    /// Thrown when an `ObservationSink` asked the parser to stop.
    public static let cancelled = FeedParseError("stopped by the consumer of the observations")

    public var description: String {
        var location: [String] = []
        if let line { location.append("line \(line)") }
        if let column { location.append("column \(column)") }
        if let path { location.append(path.isEmpty ? "top level" : DisplayText.excerpt(path, limit: 200)) }
        return location.isEmpty ? message : location.joined(separator: ", ") + ": " + message
    }
}

/// Receives observations one at a time while a body is parsed (so a large feed never sits
/// in memory as a list). Returning false stops the parse with `FeedParseError.cancelled`.
public final class ObservationSink: @unchecked Sendable {
    public let handler: (Observation) -> Bool

    public init(_ handler: @escaping (Observation) -> Bool) {
        self.handler = handler
    }
}

/// The result of parsing one feed body.
public struct ParsedFeed: Sendable {
    /// Figures for indicators of the feed's plan (empty when they went to a sink).
    public var observations: [Observation]
    /// How many observations were produced (kept here or handed to the sink).
    public var emitted = 0
    /// Records skipped because the plan has no such indicator (or no map matched).
    public var skipped: Int
    /// Things worth telling an operator that did not stop the parse; the same kind of warning
    /// repeated (a field on each of a million records) is one line with its count.
    public var warnings: FeedWarnings

    public init(observations: [Observation] = [], skipped: Int = 0, warnings: [String] = []) {
        self.observations = observations
        self.skipped = skipped
        self.warnings = FeedWarnings()
        for warning in warnings { self.warnings.add(warning, kind: warning) }
    }
}

/// Parse warnings, counted by kind: each kind keeps its first message and how often it came,
/// so a 1,000,000-column header or a stray field on every record gives one line, not a million
/// (once 200 MB of log for one fetch). At most `maxKinds` kinds are kept.
public struct FeedWarnings: Sendable, Sequence, Equatable {
    public static let maxKinds = 20
    private var kinds: [String] = []
    private var firstMessage: [String: String] = [:]
    private var counts: [String: Int] = [:]
    /// Warnings of kinds beyond `maxKinds`.
    private var dropped = 0

    public init() {}

    /// Notes a warning; `kind` groups repeats (e.g. "unknown field x"), `message` is the first one's text.
    public mutating func add(_ message: String, kind: String) {
        if let n = counts[kind] {
            counts[kind] = n + 1
        } else if kinds.count < FeedWarnings.maxKinds {
            kinds.append(kind)
            firstMessage[kind] = message
            counts[kind] = 1
        } else {
            dropped += 1
        }
    }

    /// How many warnings were noted, repeats included.
    public var total: Int { counts.values.reduce(dropped, +) }

    /// One line per kind: its first message, and the count when it repeated.
    public var lines: [String] {
        var out = kinds.map { kind -> String in
            let n = counts[kind] ?? 1
            return n > 1 ? "\(firstMessage[kind] ?? kind) (and \(n - 1) more like it)" : (firstMessage[kind] ?? kind)
        }
        if dropped > 0 { out.append("\(dropped) more warnings of other kinds") }
        return out
    }

    public var isEmpty: Bool { kinds.isEmpty }
    public var first: String? { lines.first }
    /// Lines (kinds), not warnings: see `total`.
    public var count: Int { lines.count }

    public func makeIterator() -> IndexingIterator<[String]> { lines.makeIterator() }
}

/// What a parser needs to know besides the body.
public struct ParseOptions: Sendable {
    /// The feed id stamped on every observation.
    public var feed: String
    /// Indicator codes of the feed's plan; records for others are skipped (nil keeps all).
    public var indicators: Set<String>?
    public var charset: Charset
    /// Foreign formats: the `[[feed.map]]` entries, first match wins.
    public var maps: [SeriesMap]
    /// `table-csv`: which columns hold the period and the value.
    public var columns: TableColumns?
    /// When set, observations go here as they are parsed instead of into `ParsedFeed.observations`.
    public var sink: ObservationSink?

    public init(
        feed: String, indicators: Set<String>? = nil, charset: Charset = .utf8, maps: [SeriesMap] = [],
        columns: TableColumns? = nil
    ) {
        self.feed = feed
        self.indicators = indicators
        self.charset = charset
        self.maps = maps
        self.columns = columns
    }
}

/// Parses a feed body in any implemented format.
public enum FeedParser {
    /// - Throws: `FeedParseError` with the position of the first problem.
    public static func parse(_ body: [UInt8], format: FeedFormat, options: ParseOptions) throws(FeedParseError) -> ParsedFeed {
        let text = try TextDecoding.utf8(body, charset: options.charset)
        switch format {
        case .csv: return try NativeCSV.parse(text, options: options)
        case .json: return try NativeJSON.parse(text, options: options)
        case .tableCSV: return try TableCSV.parse(CSVReader(text), options: options)
        case .sdmxCSV: return try SDMXCSV.parse(CSVReader(text), options: options)
        case .sdmxJSON: return try SDMXJSON.parse(text, options: options)
        case .nbsJSON: return try NBSJSON.parse(text, options: options)
        }
    }
}
