#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import FeedFormats
import PlanCore
import Support

/// Per-feed fetch and alert settings; `[defaults]` gives them to every feed, a feed may override each.
public struct FeedSettings: Sendable, Equatable {
    /// Seconds between scheduled fetches.
    public var interval: Double = 6 * 3600
    /// Up to this many random seconds are added to each scheduled fetch.
    public var jitter: Double = 300
    /// Total seconds one attempt may take.
    public var timeout: Double = 30
    /// Seconds to establish a connection.
    public var connectTimeout: Double = 10
    /// Largest decoded body accepted.
    public var maxBytes: Int = 64 << 20
    /// Attempts after the first, with exponential backoff and jitter.
    public var retries: Int = 3
    /// No successful fetch for this many seconds raises `feed_stale`.
    public var staleAfter: Double = 3 * 86400
    /// This many failed cycles in a row raise `feed_failing`.
    public var failingAfter: Int = 3
    /// Link-local addresses (169.254/16 with cloud metadata, fe80::/10) may be connected to.
    public var allowLinkLocal = false

    public init() {}

    static let keys = ["interval", "jitter", "timeout", "connect_timeout", "max_bytes", "retries", "stale_after", "failing_after", "allow_link_local"]

    /// These settings with any keys present in `table` overridden.
    func overridden(by table: TableReader) throws(ConfigError) -> FeedSettings {
        var s = self
        if let v = try table.duration("interval") {
            guard v >= 0.1 else { throw table.error("interval", "interval must be at least 100ms") }
            s.interval = v
        }
        if let v = try table.duration("jitter") { s.jitter = v }
        if let v = try table.duration("timeout") {
            guard v > 0, v <= 86400 else { throw table.error("timeout", "timeout must be between 1ms and 1d") }
            s.timeout = v
        }
        if let v = try table.duration("connect_timeout") {
            guard v > 0 else { throw table.error("connect_timeout", "connect_timeout must be more than 0") }
            s.connectTimeout = v
        }
        if let v = try table.size("max_bytes") {
            guard v >= 1, v <= 1 << 34 else { throw table.error("max_bytes", "max_bytes must be between 1 byte and 16GiB") }
            s.maxBytes = v
        }
        if let v = try table.int("retries", range: 0...10) { s.retries = v }
        if let v = try table.duration("stale_after") {
            guard v > 0 else { throw table.error("stale_after", "stale_after must be more than 0") }
            s.staleAfter = v
        }
        if let v = try table.int("failing_after", range: 1...1000) { s.failingAfter = v }
        if let v = try table.bool("allow_link_local") { s.allowLinkLocal = v }
        return s
    }
}

/// One `[[feed]]` entry, validated and with its URL resolved.
public struct FeedConfig: Sendable, Equatable {
    public var id: String
    public var plan: String
    /// The URL as fetched (relative `file:` paths resolved to absolute `file://` URLs).
    public var url: String
    public var format: FeedFormat
    public var priority: Int
    public var charset: Charset
    public var caFile: String?
    public var settings: FeedSettings
    public var maps: [SeriesMap]
    /// `table-csv`: the names of the period and value columns.
    public var columns: TableColumns?

    /// What the parser needs for this feed's bodies.
    public func parseOptions(plan: Plan?) -> ParseOptions {
        ParseOptions(feed: id, indicators: Set(plan?.indicators.map(\.code) ?? []), charset: charset, maps: maps, columns: columns)
    }

    /// The URL safe to show: credentials and secret query parameters masked.
    public var displayURL: String { Redaction.url(url) }
}

/// The part of the configuration a client needs — where the database, socket and alert log
/// are, the log level — read without loading a single plan file.
public struct ConfigBasics: Sendable {
    /// Absolute path of the config file.
    public var path: String
    public var database: String
    public var socket: String
    public var socketMode: Int
    public var alertLog: String
    public var logLevel: String

    /// Reads the basics of the config file at `path` (plans and feeds are not looked at).
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigError) -> ConfigBasics
    {
        let absolute = absolutePath(path, relativeTo: FileManager.default.currentDirectoryPath)
        let root = TableReader(try TOMLNode.parse(try readText(absolute), file: absolute), file: absolute)
        return try ConfigBasics(root, path: absolute, environment: environment)
    }

    init(_ root: TableReader, path: String, environment: [String: String]) throws(ConfigError) {
        let folder = (path as NSString).deletingLastPathComponent
        try root.rejectUnknownKeys(allowed: DaemonConfig.topKeys)
        func location(_ key: String, env: String, file: String) throws(ConfigError) -> String {
            if let value = try root.string(key) {
                guard !value.isEmpty else { throw root.error(key, "must not be empty") }
                return absolutePath(value, relativeTo: folder)
            }
            if let dir = environment[env], !dir.isEmpty {
                // systemd may pass several directories separated by ':'; the first is ours.
                let first = dir.split(separator: ":").first.map(String.init) ?? dir
                return absolutePath(first, relativeTo: folder) + "/" + file
            }
            throw root.error(key, "not set, and $\(env) is not set either (systemd sets it); add \(key) = \"/path/\(file)\"")
        }
        self.path = path
        database = try location("database", env: "STATE_DIRECTORY", file: "mirror.sqlite")
        socket = try location("socket", env: "RUNTIME_DIRECTORY", file: "status.sock")
        guard socket.utf8.count < 108 else {
            throw root.error("socket", "path '\(socket)' is \(socket.utf8.count) bytes; a Unix socket path must be under 108")
        }
        alertLog = try location("alert_log", env: "LOGS_DIRECTORY", file: "alerts.jsonl")
        if let problem = AlertLogFile.problem(alertLog) {
            throw ConfigError(file: path, keyPath: "alert_log", message: "'\(alertLog)' \(problem)")
        }
        socketMode = 0o660
        if let text = try root.string("socket_mode") {
            guard text.count >= 3, text.count <= 4, let mode = Int(text, radix: 8), mode <= 0o777 else {
                throw root.error("socket_mode", "'\(text)' is not an octal file mode like \"0660\"")
            }
            socketMode = mode
        }
        logLevel = try root.string("log_level") ?? "info"
        guard DaemonConfig.logLevels.contains(logLevel) else {
            throw root.error("log_level", "unknown log level '\(logLevel)' (allowed: \(DaemonConfig.logLevels.joined(separator: ", ")))")
        }
    }
}

/// The daemon configuration (docs/configuration.md) with every path resolved and every plan loaded.
public struct DaemonConfig: Sendable {
    /// Absolute path of the config file.
    public var path: String
    public var database: String
    public var socket: String
    /// Permission bits of the status socket, e.g. 0o660.
    public var socketMode: Int
    public var alertLog: String
    /// Plan files matched by `plans`, absolute.
    public var planFiles: [String]
    public var plans: [Plan]
    public var logLevel: String
    public var maxConcurrentFetches: Int
    /// How long `fetch` rows that changed nothing are kept (seconds; default 90 days).
    public var fetchRetention: Double = 90 * 86400
    public var defaults: FeedSettings
    public var feeds: [FeedConfig]
    /// Notification sinks (`[[sink]]`), in file order.
    public var sinks: [SinkConfig] = []
    /// Where the daemon keeps its HTML and XLSX reports (nil: `report_dir = ""`, none written).
    public var reportDir: String?

    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    static let topKeys = [
        "database", "socket", "socket_mode", "alert_log", "plans", "log_level",
        "max_concurrent_fetches", "fetch_retention", "report_dir", "defaults", "feed", "sink",
    ]
    static let feedKeys = ["id", "plan", "url", "format", "priority", "charset", "ca_file", "columns", "map"] + FeedSettings.keys

    /// Index of each plan in `plans`, by id.
    var planIndex: [String: Int] = [:]

    /// The plan with this id.
    public func plan(_ id: String) -> Plan? { planIndex[id].map { plans[$0] } }

    /// Loads and validates a config file and every plan it names. Reads files only.
    /// - Parameter environment: supplies `STATE_DIRECTORY`, `RUNTIME_DIRECTORY`, `LOGS_DIRECTORY` defaults.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigError) -> DaemonConfig
    {
        let absolute = absolutePath(path, relativeTo: FileManager.default.currentDirectoryPath)
        let text = try readText(absolute)
        return try parse(text, path: absolute, environment: environment)
    }

    /// Validates config text; `path` is the (absolute) file it came from, for relative paths and errors.
    public static func parse(_ text: String, path: String, environment: [String: String]) throws(ConfigError) -> DaemonConfig {
        let folder = (path as NSString).deletingLastPathComponent
        let root = TableReader(try TOMLNode.parse(text, file: path), file: path)
        let basics = try ConfigBasics(root, path: path, environment: environment)
        let maxConcurrent = try root.int("max_concurrent_fetches", range: 1...256) ?? 8
        let retention = try root.duration("fetch_retention") ?? 90 * 86400
        guard retention >= 86400 else {
            throw root.error("fetch_retention", "fetch_retention must be at least 1d (fetch rows are the feeds' history; e.g. \"90d\")")
        }
        // Reports: beside the database unless set; "" turns them off.
        var reportDir: String? = (basics.database as NSString).deletingLastPathComponent + "/report"
        if let value = try root.string("report_dir") { reportDir = value.isEmpty ? nil : absolutePath(value, relativeTo: folder) }

        var defaults = FeedSettings()
        if let table = try root.table("defaults") {
            try table.rejectUnknownKeys(allowed: FeedSettings.keys)
            defaults = try defaults.overridden(by: table)
        }

        // Plans.
        guard let patterns = try root.strings("plans"), !patterns.isEmpty else {
            throw root.error("plans", "missing required key 'plans' (e.g. plans = [\"plans/*.toml\"])")
        }
        var planFiles: [String] = []
        var listed: Set<String> = []
        for (i, pattern) in patterns.enumerated() {
            let matches = glob(absolutePath(pattern, relativeTo: folder))
            guard !matches.isEmpty else {
                throw ConfigError(
                    file: path, keyPath: "plans[\(i)]",
                    message: "'\(pattern)' matches no file (relative paths start from \(folder))")
            }
            for file in matches where listed.insert(file).inserted { planFiles.append(file) }
        }
        // Parsed in parallel (thousands of county plans), each file only when it changed since
        // this process last read it; errors are reported in file order.
        // Plans an earlier process parsed are decoded from the cache beside the database.
        typealias Loaded = (plan: Plan, version: PlanFile.FileVersion?, parsed: Bool)
        let cachePath = PlanCache.path(database: basics.database)
        let persistent = PlanCache(path: cachePath)
        // Plans found in either cache are decoded here, on this thread: long-lived, they then
        // lie together in one malloc arena instead of among the parsers' freed trees (which
        // held a daemon's idle memory 20 MB higher at 2,800 plans). The rest are parsed in
        // parallel.
        var found: [Result<Loaded, ConfigError>?] = planFiles.map { file in
            PlanFile.cached(path: file, persistent: persistent).map { .success(($0.plan, $0.version, false)) }
        }
        let results = Locked<[Result<Loaded, ConfigError>?]>(Array(repeating: nil, count: planFiles.count))
        let files = planFiles
        let missing = found.indices.filter { found[$0] == nil }
        DispatchQueue.concurrentPerform(iterations: missing.count) { k in
            let i = missing[k]
            let result: Result<Loaded, ConfigError>
            do throws(ConfigError) {
                result = .success(try PlanFile.cachedLoad(path: files[i], persistent: persistent))
            } catch {
                result = .failure(error)
            }
            results.withLock { $0[i] = result }
        }
        for (i, result) in results.current.enumerated() where found[i] == nil { found[i] = result }
        let loaded = found
        var plans: [Plan] = []
        var planIndex: [String: Int] = [:]
        for (file, result) in zip(planFiles, loaded) {
            guard let result else { continue }
            let plan = try result.get().plan
            if let other = planIndex[plan.id] {
                throw ConfigError(
                    file: file, keyPath: "id",
                    message: "plan id '\(plan.id)' is also used by \(planFiles[other]); plan ids must be unique")
            }
            planIndex[plan.id] = plans.count
            plans.append(plan)
        }

        // Plans copied from one template: each list of targets kept once (here and in the
        // plans this process remembers for the next reload).
        plans = Plan.sharingTargets(plans)
        for (file, result) in zip(planFiles, loaded) {
            guard case .success(let entry)? = result, let i = planIndex[entry.plan.id] else { continue }
            PlanFile.replaceCached(path: file, with: plans[i])
        }

        // The cache rewritten when it lacked a plan (or held one no longer configured).
        var cached: [(file: String, version: PlanFile.FileVersion, plan: Plan)] = []
        var stale = persistent.entries.count != planFiles.count
        for (file, result) in zip(planFiles, loaded) {
            guard case .success(let entry)? = result else { continue }
            if entry.parsed || entry.version == nil { stale = true }
            if let version = entry.version { cached.append((file, version, entry.plan)) }
        }
        if stale { PlanCache.write(cached, to: cachePath) }

        // Feeds.
        var feeds: [FeedConfig] = []
        var feedIDs: Set<String> = []
        for table in try root.tables("feed") {
            let feed = try parseFeed(table, defaults: defaults, plans: plans, planIndex: planIndex, folder: folder)
            guard feedIDs.insert(feed.id).inserted else {
                throw table.error("id", "duplicate feed id '\(feed.id)'; feed ids must be unique")
            }
            feeds.append(feed)
        }

        // Notification sinks.
        var sinks: [SinkConfig] = []
        let planIDs = Set(plans.map(\.id))
        for table in try root.tables("sink") {
            let sink = try SinkConfig.parse(table, plans: planIDs, folder: folder, environment: environment)
            guard !sinks.contains(where: { $0.id == sink.id }) else {
                throw table.error("id", "duplicate sink id '\(sink.id)'; sink ids must be unique")
            }
            sinks.append(sink)
        }

        var config = DaemonConfig(
            path: path, database: basics.database, socket: basics.socket, socketMode: basics.socketMode,
            alertLog: basics.alertLog, planFiles: planFiles, plans: plans, logLevel: basics.logLevel,
            maxConcurrentFetches: maxConcurrent, defaults: defaults, feeds: feeds)
        config.planIndex = planIndex
        config.fetchRetention = retention
        config.sinks = sinks
        config.reportDir = reportDir
        return config
    }

    private static func parseFeed(
        _ table: TableReader, defaults: FeedSettings, plans: [Plan], planIndex: [String: Int],
        folder: String
    ) throws(ConfigError) -> FeedConfig {
        try table.rejectUnknownKeys(allowed: feedKeys)
        let id = try table.requiredString("id", example: "\"annex\"")
        guard PlanFile.isIdentifier(id) else {
            throw table.error("id", "'\(id)' is not a valid feed id (letters, digits, '-', '_', '.')")
        }
        let planID = try table.requiredString("plan", example: "\"\(plans.first?.id ?? "my-plan")\"")
        guard let plan = planIndex[planID].map({ plans[$0] }) else {
            throw table.error("plan", "no plan with id '\(planID)' (loaded plans: \(plans.map(\.id).joined(separator: ", ")))")
        }
        let url = try resolveURL(
            try table.requiredString("url", example: "\"https://example.org/data.csv\""),
            folder: folder, table: table)
        let formatText = try table.requiredString("format", example: "\"csv\"")
        guard let format = FeedFormat(rawValue: formatText) else {
            throw table.error("format", "unknown format '\(formatText)' (allowed: \(FeedFormat.allowed))")
        }
        var charset = Charset.utf8
        if let name = try table.string("charset") {
            guard let c = Charset(name: name) else {
                throw table.error("charset", "unknown charset '\(name)' (allowed: utf-8, gb18030)")
            }
            charset = c
        }
        var caFile: String?
        if let ca = try table.string("ca_file") {
            let resolved = absolutePath(ca, relativeTo: folder)
            guard FileManager.default.isReadableFile(atPath: resolved) else {
                throw table.error("ca_file", "'\(resolved)' does not exist or cannot be read")
            }
            caFile = resolved
        }
        var columns: TableColumns?
        if let t = try table.table("columns") {
            guard format.hasColumns else {
                throw t.error(nil, "'columns' is only for format \"table-csv\"; format \"\(format.rawValue)\" has no columns to name")
            }
            try t.rejectUnknownKeys(allowed: ["period", "value"])
            columns = TableColumns(
                period: try t.requiredString("period", example: "\"时间\""),
                value: try t.requiredString("value", example: "\"数值\""))
        } else if format.hasColumns {
            throw table.error("columns", "format \"table-csv\" needs columns = { period = \"时间\", value = \"数值\" } naming the period and value columns")
        }
        var maps: [SeriesMap] = []
        for m in try table.tables("map") {
            guard !format.isNative else {
                throw m.error(
                    nil,
                    "format \"\(format.rawValue)\" names its indicators itself; [[feed.map]] is only for foreign formats (\(FeedFormat.allCases.filter { !$0.isNative }.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            maps.append(try parseMap(m, plan: plan))
        }
        if !format.isNative, maps.isEmpty {
            throw table.error("map", "format \"\(format.rawValue)\" needs at least one [[feed.map]] entry routing its series to plan indicators")
        }
        return FeedConfig(
            id: id, plan: planID, url: url, format: format,
            priority: try table.int("priority", range: -1_000_000...1_000_000) ?? 0,
            charset: charset, caFile: caFile, settings: try defaults.overridden(by: table),
            maps: maps, columns: columns)
    }

    private static func parseMap(_ table: TableReader, plan: Plan) throws(ConfigError) -> SeriesMap {
        try table.rejectUnknownKeys(allowed: ["match", "indicator", "measure", "scale", "cumulative", "base_year"])
        guard let matchTable = try table.table("match"), !matchTable.values.isEmpty else {
            throw table.error("match", "missing or empty 'match' (e.g. match = { REF_AREA = \"440304\", INDICATOR = \"GDP_YOY\" })")
        }
        var match: [String: String] = [:]
        for key in matchTable.values.keys.sorted() {
            if case .int(let number)? = matchTable.values[key] {
                match[key] = String(number)  // codes like 440304 may be written without quotes
            } else if let value = try matchTable.string(key) {
                match[key] = value
            }
        }
        let code = try table.requiredString("indicator", example: "\"gdp\"")
        guard plan.indicator(code) != nil else {
            throw table.error("indicator", "plan '\(plan.id)' has no indicator '\(code)' (it has: \(plan.indicators.map(\.code).joined(separator: ", ")))")
        }
        let measureText = try table.requiredString("measure", example: "\"growth\"")
        guard let measure = Measure(rawValue: measureText) else {
            throw table.error("measure", "unknown measure '\(measureText)' (allowed: \(Measure.allowed))")
        }
        let baseYear = try table.int("base_year", range: Period.validYears)
        if measure == .changeVsBase, baseYear == nil {
            throw table.error("base_year", "measure change_vs_base needs base_year (e.g. base_year = 2020)")
        }
        if let scale = try table.figure("scale"), scale.value <= 0 {
            throw table.error("scale", "scale must be a positive multiplier (e.g. 0.0001 for 万元 → 亿元), found \(scale)")
        }
        return SeriesMap(
            match: match, indicator: code, measure: measure, scale: try table.figure("scale"),
            cumulative: try table.bool("cumulative"), baseYear: baseYear)
    }

    private static func resolveURL(_ url: String, folder: String, table: TableReader) throws(ConfigError) -> String {
        guard let colon = url.firstIndex(of: ":") else {
            throw table.error("url", "'\(Redaction.url(url))' has no scheme; use http://, https:// or file:")
        }
        let scheme = url[..<colon].lowercased()
        switch scheme {
        case "http", "https":
            guard url.hasPrefix("\(url[..<colon])://"), url.count > scheme.count + 3 else {
                throw table.error("url", "'\(Redaction.url(url))' is not a valid \(scheme) URL")
            }
            return url
        case "file":
            var rest = String(url[url.index(after: colon)...])
            if rest.hasPrefix("//") {
                rest.removeFirst(2)
                guard rest.hasPrefix("/") else {
                    throw table.error("url", "'\(url)': file URLs are file:///absolute/path or file:relative/path")
                }
            }
            let decoded = rest.removingPercentEncoding ?? rest
            let absolute = absolutePath(decoded, relativeTo: folder)
            return URL(fileURLWithPath: absolute).absoluteString
        default:
            throw table.error("url", "scheme '\(scheme)' is not allowed (allowed: http, https, file)")
        }
    }
}

/// `path` made absolute against `folder` and normalised (`..` removed).
/// `path` made absolute against `folder`, with `.` and `..` removed lexically. Symbolic
/// links are kept as written (Foundation's `standardizingPath` resolved them, so an alert log
/// named through a link was silently replaced by the link's target).
func absolutePath(_ path: String, relativeTo folder: String) -> String {
    let joined = path.hasPrefix("/") ? path : folder + "/" + path
    var parts: [Substring] = []
    for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
        switch part {
        case ".": continue
        case "..": if !parts.isEmpty { parts.removeLast() }
        default: parts.append(part)
        }
    }
    return "/" + parts.joined(separator: "/")
}

/// Sorted paths matching a glob pattern (no match: empty).
func glob(_ pattern: String) -> [String] {
    var result = glob_t()
    defer { globfree(&result) }
    guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
    return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].flatMap { String(cString: $0) } }.sorted()
}
