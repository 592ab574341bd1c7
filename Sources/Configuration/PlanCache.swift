import Foundation
import PlanCore
import Support

/// Plans parsed by an earlier process, kept beside the database (`<database>.plans-cache`)
/// and keyed by each file's version (device, inode, size, modification and change times to
/// the nanosecond): a daemon restart or a `plansync sync` of a province reads the plan files
/// that changed and decodes the others, several times faster than parsing them.
///
/// The file is only a cache. It is checked whole (a SHA-256 of its body) and ignored when it
/// is missing, damaged or written by another format; a file modified within the last
/// `settle` seconds is not cached (its time may not yet tell a later edit apart). It is
/// rewritten atomically (temporary file and rename) when a plan had to be parsed, and not at
/// all where the folder is not writable.
struct PlanCache {
    /// First line of the file; bumped when the encoding or what plan parsing keeps changes.
    static let magic = "plansync-plan-cache 3\n"
    /// How old a file's modification time must be before its plan is cached.
    static let settle: Int64 = 2

    /// The cache file for a database path.
    static func path(database: String) -> String { database + ".plans-cache" }

    /// A cached plan's source and encoding.
    struct Entry {
        var version: PlanFile.FileVersion
        var bytes: ArraySlice<UInt8>
    }

    private(set) var entries: [String: Entry] = [:]

    /// Reads the cache at `path`; empty when there is none or it cannot be trusted.
    init(path: String) {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let bytes = [UInt8](data)
        let magic = Array(PlanCache.magic.utf8)
        guard bytes.count > magic.count + 64, Array(bytes[0..<magic.count]) == magic else { return }
        let body = bytes[(magic.count + 64)...]
        var hash = SHA256()
        body.withUnsafeBytes { hash.update($0) }
        guard Array(hash.finalizeHex().utf8) == Array(bytes[magic.count..<(magic.count + 64)]) else { return }
        var reader = ByteReader(bytes: body)
        var entries: [String: Entry] = [:]
        guard let count = reader.int() else { return }
        for _ in 0..<count {
            guard let file = reader.string(), let version = reader.version(), let length = reader.int(),
                let bytes = reader.take(length)
            else { return }
            entries[file] = Entry(version: version, bytes: bytes)
        }
        self.entries = entries
    }

    init() {}

    /// The plan cached for `file` at this version, if any (nil too if its encoding is bad).
    func plan(file: String, version: PlanFile.FileVersion) -> Plan? {
        guard let entry = entries[file], entry.version == version else { return nil }
        var reader = ByteReader(bytes: entry.bytes)
        return reader.plan()
    }

    /// Writes `plans` (file, version, plan) as the new cache at `path`; failures are ignored.
    static func write(_ plans: [(file: String, version: PlanFile.FileVersion, plan: Plan)], to path: String, now: Date = Date()) {
        var body = ByteWriter()
        let cutoff = Int64(now.timeIntervalSince1970) - settle
        let kept = plans.filter { $0.version.modified < cutoff && $0.version.changed < cutoff }
        body.int(kept.count)
        for entry in kept {
            body.string(entry.file)
            body.version(entry.version)
            var plan = ByteWriter()
            plan.plan(entry.plan)
            body.int(plan.bytes.count)
            body.bytes += plan.bytes
        }
        let file = Array(magic.utf8) + Array(SHA256.hex(body.bytes).utf8) + body.bytes
        let temporary = "\(path).\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(file)) else { return }
        if rename(temporary, path) != 0 { unlink(temporary) }
    }
}

/// Appends the cache's encoding: unsigned LEB128 integers (zigzag for signed ones),
/// length-prefixed UTF-8 strings, a 0/1 byte before optional values.
private struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func int(_ value: Int) {
        var v = UInt64(bitPattern: Int64(value) << 1 ^ Int64(value) >> 63)
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func string(_ text: String) {
        var text = text
        int(text.utf8.count)
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func optional(_ text: String?) {
        bytes.append(text == nil ? 0 : 1)
        if let text { string(text) }
    }

    mutating func optional(_ value: Int?) {
        bytes.append(value == nil ? 0 : 1)
        if let value { int(value) }
    }

    mutating func release(_ r: ReleaseSchedule?) {
        bytes.append(r == nil ? 0 : 1)
        guard let r else { return }
        string(r.frequency.rawValue); int(r.lagDays); string(String(r.grace))
        int(r.skip.count)
        for n in r.skip.sorted() { int(n) }
        int(r.dates.count)
        for (period, day) in r.dates.sorted(by: { $0.key < $1.key }) { string(period.description); string(day.description) }
    }

    mutating func version(_ v: PlanFile.FileVersion) {
        int(Int(truncatingIfNeeded: v.device)); int(Int(truncatingIfNeeded: v.inode)); int(Int(v.size))
        int(Int(v.modified)); int(v.modifiedNanos); int(Int(v.changed)); int(v.changedNanos)
    }

    mutating func plan(_ plan: Plan) {
        string(plan.id); string(plan.title); optional(plan.titleEN); optional(plan.region)
        string(plan.paceTolerance.description); string(plan.language.rawValue); string(plan.timeZone)
        int(plan.indicators.count)
        for indicator in plan.indicators {
            string(indicator.code); string(indicator.name); optional(indicator.nameEN)
            string(indicator.category.rawValue); string(indicator.unit)
            release(indicator.release)
            int(indicator.targets.count)
            for target in indicator.targets {
                int(target.year); string(target.rule.name); optional(target.rule.value?.description)
                optional(target.rule.baseYear); optional(target.text)
            }
        }
    }
}

/// Reads what `ByteWriter` wrote; nil for anything out of place.
private struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var i: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        i = bytes.startIndex
    }

    mutating func int() -> Int? {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.endIndex, shift < 64 {
            let b = bytes[i]
            i += 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return Int(Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)) }
            shift += 7
        }
        return nil
    }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, bytes.endIndex - i >= count else { return nil }
        defer { i += count }
        return bytes[i..<(i + count)]
    }

    mutating func string() -> String? {
        guard let count = int(), let slice = take(count) else { return nil }
        return String(validating: slice, as: UTF8.self)
    }

    /// An optional value: nil when absent, `.some(nil)` when the encoding is bad.
    mutating func optional<T>(_ read: (inout ByteReader) -> T?) -> T?? {
        guard i < bytes.endIndex else { return .some(nil) }
        let flag = bytes[i]
        i += 1
        switch flag {
        case 0: return .none
        case 1: return read(&self).map { .some($0) } ?? .some(nil)
        default: return .some(nil)
        }
    }

    mutating func optionalString() -> String?? {
        let value = optional { $0.string() }
        if case .some(nil) = value { return nil }
        return .some(value.flatMap { $0 })
    }

    mutating func optionalInt() -> Int?? {
        let value = optional { $0.int() }
        if case .some(nil) = value { return nil }
        return .some(value.flatMap { $0 })
    }

    mutating func version() -> PlanFile.FileVersion? {
        guard let device = int(), let inode = int(), let size = int(), let modified = int(), let modifiedNanos = int(),
            let changed = int(), let changedNanos = int()
        else { return nil }
        return PlanFile.FileVersion(
            device: UInt64(truncatingIfNeeded: device), inode: UInt64(truncatingIfNeeded: inode), size: Int64(size),
            modified: Int64(modified), modifiedNanos: modifiedNanos, changed: Int64(changed), changedNanos: changedNanos)
    }

    /// An optional release schedule: `.some(nil)` when absent, nil when the encoding is bad.
    mutating func release() -> ReleaseSchedule?? {
        guard i < bytes.endIndex else { return nil }
        let flag = bytes[i]
        i += 1
        if flag == 0 { return .some(nil) }
        guard flag == 1, let frequency = string().flatMap({ ReleaseSchedule.Frequency(rawValue: $0) }), let lag = int(),
            let grace = string().flatMap({ Double($0) }), let skipCount = int(), skipCount >= 0, skipCount <= 12
        else { return nil }
        var skip: Set<Int> = []
        for _ in 0..<skipCount {
            guard let n = int() else { return nil }
            skip.insert(n)
        }
        guard let dateCount = int(), dateCount >= 0, dateCount <= 10_000 else { return nil }
        var dates: [Period: ReleaseSchedule.Day] = [:]
        for _ in 0..<dateCount {
            guard let p = string().flatMap({ try? Period(parsing: $0) }), let d = string().flatMap({ ReleaseSchedule.Day(parsing: $0) })
            else { return nil }
            dates[p] = d
        }
        return .some(ReleaseSchedule(frequency: frequency, lagDays: lag, grace: grace, skip: skip, dates: dates))
    }

    mutating func plan() -> Plan? {
        guard let id = string(), let title = string(), let titleEN = optionalString(), let region = optionalString(),
            let tolerance = string().flatMap({ Figure($0) }), let language = string().flatMap({ PlanLanguage(rawValue: $0) }),
            let timeZone = string(),
            let count = int(), count >= 0
        else { return nil }
        var indicators: [Indicator] = []
        indicators.reserveCapacity(count)
        // Indicators of a plan usually share one schedule: one instance (its set and
        // dictionary stored once), as the plan file's own default is.
        var schedules: [ReleaseSchedule] = []
        for _ in 0..<count {
            guard let code = string(), let name = string(), let nameEN = optionalString(), let categoryText = string(),
                let category = Category(rawValue: categoryText), let unit = string(), case .some(let release) = release(),
                let targetCount = int(), targetCount >= 0
            else { return nil }
            var targets: [Target] = []
            targets.reserveCapacity(targetCount)
            for _ in 0..<targetCount {
                guard let year = int(), let ruleName = string(), let valueText = optionalString(), let baseYear = optionalInt(),
                    let text = optionalString()
                else { return nil }
                var value: Figure?
                if let valueText {
                    guard let figure = Figure(valueText) else { return nil }
                    value = figure
                }
                guard let rule = try? TargetRule(name: ruleName, value: value, baseYear: baseYear) else { return nil }
                targets.append(Target(year: year, rule: rule, text: text))
            }
            var shared = release
            if let release {
                if let known = schedules.first(where: { $0 == release }) { shared = known } else { schedules.append(release) }
            }
            indicators.append(
                Indicator(code: code, name: name, nameEN: nameEN, category: category, unit: unit, targets: targets, release: shared))
        }
        guard i == bytes.endIndex else { return nil }
        return Plan(
            id: id, title: title, titleEN: titleEN, region: region, indicators: indicators, paceTolerance: tolerance, language: language,
            timeZone: timeZone)
    }
}
