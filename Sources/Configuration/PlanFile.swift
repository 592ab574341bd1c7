import Foundation
import PlanCore
import Support

/// Reads and validates plan files (docs/plans.md).
public enum PlanFile {
    /// Target years a plan may name.
    public static let targetYears = 1950...2100

    /// Loads a plan file from disk.
    public static func load(path: String) throws(ConfigError) -> Plan {
        let text = try readText(path)
        return try parse(text, file: path)
    }

    /// What identifies a file's version without reading it: device, inode, size and the
    /// modification and status-change times to the nanosecond.
    struct FileVersion: Equatable {
        var device: UInt64, inode: UInt64, size: Int64
        var modified: Int64, modifiedNanos: Int, changed: Int64, changedNanos: Int

        init(device: UInt64, inode: UInt64, size: Int64, modified: Int64, modifiedNanos: Int, changed: Int64, changedNanos: Int) {
            self.device = device
            self.inode = inode
            self.size = size
            self.modified = modified
            self.modifiedNanos = modifiedNanos
            self.changed = changed
            self.changedNanos = changedNanos
        }

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = Int64(info.st_mtim.tv_sec)
            modifiedNanos = Int(info.st_mtim.tv_nsec)
            changed = Int64(info.st_ctim.tv_sec)
            changedNanos = Int(info.st_ctim.tv_nsec)
        }
    }

    /// Plans this process has read, with the version of the file they came from.
    private static let cache = Locked<[String: (version: FileVersion, plan: Plan)]>([:])

    /// `load`, but a file this process already read and that has not changed since (same
    /// inode, size, modification and change times) is not parsed again: a reload of a
    /// province's configuration parses only the plan files that were edited.
    public static func cachedLoad(path: String) throws(ConfigError) -> Plan {
        try cachedLoad(path: path, persistent: PlanCache()).plan
    }

    /// Replaces the plan this process keeps for `path` with `plan`, the same plan sharing
    /// storage with others (`Plan.sharingTargets`), so one copy is kept, not two.
    static func replaceCached(path: String, with plan: Plan) {
        cache.withLock { known in
            guard let entry = known[path], entry.plan.id == plan.id else { return }
            known[path] = (entry.version, plan)
        }
    }

    /// The plan of the file as it is now, from this process's cache or the persistent one;
    /// nil when it must be parsed.
    static func cached(path: String, persistent: PlanCache) -> (plan: Plan, version: FileVersion)? {
        guard let version = FileVersion(path: path) else { return nil }
        if let hit = cache.withLock({ $0[path] }), hit.version == version { return (hit.plan, version) }
        guard let plan = persistent.plan(file: path, version: version) else { return nil }
        cache.withLock { $0[path] = (version, plan) }
        return (plan, version)
    }

    /// `cachedLoad`, also looking in a cache written by an earlier process. Says which
    /// version of the file the plan is (nil when it changed while being read) and whether
    /// it had to be parsed.
    static func cachedLoad(
        path: String, persistent: PlanCache
    ) throws(ConfigError) -> (plan: Plan, version: FileVersion?, parsed: Bool) {
        if let hit = cached(path: path, persistent: persistent) { return (hit.plan, hit.version, false) }
        let before = FileVersion(path: path)
        let plan = try load(path: path)
        // Kept only when the file did not change while it was read.
        guard let before, FileVersion(path: path) == before else { return (plan, nil, true) }
        cache.withLock { $0[path] = (before, plan) }
        return (plan, before, true)
    }

    /// Parses plan TOML text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> Plan {
        let root = TableReader(try TOMLNode.parse(text, file: file), file: file)
        try root.rejectUnknownKeys(
            allowed: ["id", "title", "title_en", "region", "lang", "pace_tolerance_pp", "timezone", "release", "indicator"])
        var timeZone = "UTC"
        if let name = try root.string("timezone") {
            guard TimeZone(identifier: name) != nil else {
                throw root.error("timezone", "unknown time zone '\(name)' (use an IANA name, e.g. \"Asia/Shanghai\" or \"UTC\")")
            }
            timeZone = name
        }
        let planRelease = try root.table("release").map { table throws(ConfigError) in try parseRelease(table) }
        let id = try root.requiredString("id", example: "\"futian-2023\"")
        guard isIdentifier(id) else {
            throw root.error("id", "'\(id)' is not a valid plan id (use letters, digits, '-', '_' and '.')")
        }
        let title = try root.requiredString("title", example: "\"福田区2023年计划\"")
        var indicators: [Indicator] = []
        var codes: [String: Int] = [:]
        let tables = try root.tables("indicator")
        guard !tables.isEmpty else {
            throw root.error(nil, "the plan has no [[indicator]] sections; add at least one")
        }
        for (position, table) in tables.enumerated() {
            try table.rejectUnknownKeys(allowed: ["code", "name", "name_en", "category", "unit", "targets", "release"])
            let code = try table.requiredString("code", example: "\"gdp\"")
            guard isIndicatorCode(code) else {
                throw table.error("code", "'\(code)' is not a valid indicator code (lower-case letters, digits and '_', starting with a letter)")
            }
            if let first = codes[code] {
                throw table.error("code", "duplicate indicator code '\(code)' (already used by indicator[\(first)]); codes must be unique within a plan")
            }
            codes[code] = position
            let name = try table.requiredString("name", example: "\"地区生产总值\"")
            let categoryText = try table.requiredString("category", example: "\"expected\"")
            guard let category = Category(rawValue: categoryText) else {
                throw table.error("category", "unknown category '\(categoryText)' (allowed: expected, binding)")
            }
            let unit = try table.requiredString("unit", example: "\"亿元\"")
            var targets: [Target] = []
            for target in try table.tables("targets") {
                let parsed = try parseTarget(target, code: code)
                if targets.contains(where: { $0.year == parsed.year }) {
                    throw target.error("year", "indicator '\(code)' already has a target for \(parsed.year); give one target per year")
                }
                targets.append(parsed)
            }
            let release = try table.table("release").map { table throws(ConfigError) in try parseRelease(table) } ?? planRelease
            indicators.append(
                Indicator(
                    code: code, name: name, nameEN: try table.string("name_en"),
                    category: category, unit: unit, targets: targets, release: release))
        }
        var language: PlanLanguage?
        if let text = try root.string("lang") {
            guard let parsed = PlanLanguage(rawValue: text) else {
                throw root.error("lang", "unknown language '\(text)' (allowed: zh, en)")
            }
            language = parsed
        }
        let tolerance = try root.figure("pace_tolerance_pp") ?? Figure(0)
        guard tolerance.value >= 0, tolerance.value <= 100 else {
            throw root.error("pace_tolerance_pp", "pace_tolerance_pp must be between 0 and 100 percentage points, found \(tolerance)")
        }
        return Plan(
            id: id, title: title, titleEN: try root.string("title_en"), region: try root.string("region"),
            indicators: indicators, paceTolerance: tolerance, language: language, timeZone: timeZone)
    }

    /// `release = { frequency = "monthly", lag_days = 15, grace = "3d", skip = ["01"], dates = { "2024-03" = "2024-04-16" } }`
    private static func parseRelease(_ table: TableReader) throws(ConfigError) -> ReleaseSchedule {
        try table.rejectUnknownKeys(allowed: ["frequency", "lag_days", "grace", "skip", "dates"])
        let frequencyText = try table.requiredString("frequency", example: "\"monthly\"")
        guard let frequency = ReleaseSchedule.Frequency(rawValue: frequencyText) else {
            let allowed = ReleaseSchedule.Frequency.allCases.map(\.rawValue).joined(separator: ", ")
            throw table.error("frequency", "unknown frequency '\(frequencyText)' (allowed: \(allowed))")
        }
        guard let lagDays = try table.int("lag_days", range: 0...366) else {
            throw table.error("lag_days", "missing required key 'lag_days' (days after the period ends that its figure is due, e.g. lag_days = 15)")
        }
        let grace = try table.duration("grace") ?? 0
        // Skipped periods, written as the period's part after the year: "01" (month), "Q1", "S1".
        var skip: Set<Int> = []
        for (i, text) in (try table.strings("skip") ?? []).enumerated() {
            guard let period = try? Period(parsing: "2000-" + text), period.year == 2000, Self.matches(period, frequency)
            else {
                let example = ["monthly": "\"01\"", "quarterly": "\"Q1\"", "half_yearly": "\"S1\""][frequency.rawValue] ?? "none"
                throw table.error(
                    "skip", "skip[\(i)] '\(text)' is not a \(frequency.rawValue) period of the year (e.g. \(example))")
            }
            skip.insert(ReleaseSchedule.number(period))
        }
        var dates: [Period: ReleaseSchedule.Day] = [:]
        if let datesTable = try table.table("dates") {
            for (key, node) in zip(datesTable.values.keys, datesTable.values.values) {
                guard let period = try? Period(parsing: key), Self.matches(period, frequency) else {
                    throw datesTable.error(key, "'\(key)' is not a \(frequency.rawValue) period (e.g. \"2024-03\", \"2024-Q1\", \"2024\")")
                }
                guard case .string(let text) = node, let day = ReleaseSchedule.Day(parsing: text) else {
                    throw datesTable.error(key, "expected a date \"YYYY-MM-DD\" in quotes (e.g. \"2024-04-16\")")
                }
                dates[period] = day
            }
        }
        return ReleaseSchedule(frequency: frequency, lagDays: lagDays, grace: grace, skip: skip, dates: dates)
    }

    /// True when `period` is of the kind `frequency` releases.
    private static func matches(_ period: Period, _ frequency: ReleaseSchedule.Frequency) -> Bool {
        switch (period, frequency) {
        case (.month, .monthly), (.quarter, .quarterly), (.half, .halfYearly), (.year, .yearly): true
        default: false
        }
    }

    private static func parseTarget(_ table: TableReader, code: String) throws(ConfigError) -> Target {
        try table.rejectUnknownKeys(allowed: ["year", "rule", "value", "base_year", "text"])
        guard let year = try table.int("year", range: Int.min...Int.max) else {
            throw table.error("year", "missing required key 'year' (e.g. year = 2023)")
        }
        guard targetYears.contains(year) else {
            throw table.error("year", "target year \(year) is out of range (allowed: \(targetYears.lowerBound)–\(targetYears.upperBound))")
        }
        let ruleName = try table.requiredString("rule", example: "\"growth_at_least\"")
        guard TargetRule.names.contains(ruleName) else {
            throw table.error("rule", RuleError.unknown(ruleName).description)
        }
        let value = try table.figure("value")
        if value != nil, !TargetRule.needsValue(ruleName) {
            throw table.error("value", "rule '\(ruleName)' takes no value; remove it")
        }
        if let value, value.value < 0, ruleName.hasPrefix("decline") {
            throw table.error("value", "a decline is written as a positive percentage (decline_at_least 4.0 means growth ≤ −4.0%), found \(value)")
        }
        let baseYear = try table.int("base_year", range: Int.min...Int.max)
        if let baseYear {
            guard RuleKind(rawValue: ruleName)?.needsBaseYear == true else {
                throw table.error(
                    "base_year", "base_year is only used by rules 'decline_vs_base_at_least' and 'average_growth_at_least'; remove it")
            }
            guard targetYears.contains(baseYear), baseYear < year else {
                throw table.error("base_year", "base_year \(baseYear) must be a year before the target year \(year)")
            }
        }
        let rule: TargetRule
        do {
            rule = try TargetRule(name: ruleName, value: value, baseYear: baseYear)
        } catch {
            if case .missingBaseYear = error { throw table.error("base_year", error.description) }
            throw table.error("value", error.description)
        }
        return Target(year: year, rule: rule, text: try table.string("text"))
    }

    static func isIdentifier(_ text: String) -> Bool {
        matches(text, first: { isAlnum($0) }, rest: { isAlnum($0) || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D })
    }

    /// An indicator code: `^[a-z][a-z0-9_]*$`.
    static func isIndicatorCode(_ text: String) -> Bool {
        matches(
            text, first: { (0x61...0x7A).contains($0) },
            rest: { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F })
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || (0x30...0x39).contains(b)
    }

    /// A non-empty ASCII word whose first byte passes `first` and the others `rest`.
    private static func matches(_ text: String, first: (UInt8) -> Bool, rest: (UInt8) -> Bool) -> Bool {
        var bytes = text.utf8.makeIterator()
        guard let head = bytes.next(), first(head) else { return false }
        while let b = bytes.next() { guard rest(b) else { return false } }
        return true
    }
}

/// Reads a UTF-8 text file, mapping failures to a `ConfigError` for that file.
func readText(_ path: String) throws(ConfigError) -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let reason = !exists ? "no such file" : isDirectory.boolValue ? "is a directory" : "cannot be read (permission denied?)"
        throw ConfigError(file: path, message: reason)
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw ConfigError(file: path, message: "not valid UTF-8 text; save the file as UTF-8")
    }
    return text
}
