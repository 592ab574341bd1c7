import Foundation
import PlanCore

/// A parsed TOML value (dates and times are kept only as their kind: no setting takes one).
enum TOMLNode {
    case table(TOMLTable)
    case array([TOMLNode])
    case string(String)
    case int(Int)
    case double(Double)
    /// A decimal fraction in its plain form (`6.5`, `-0.25`), kept as written so that a
    /// figure reads exactly what the file says (no detour through binary floating point).
    case decimal(String)
    case bool(Bool)
    case other(String)

    var typeName: String {
        switch self {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double, .decimal: "a number"
        case .bool: "a boolean"
        case .other(let name): name
        }
    }

    /// Parses TOML text; syntax errors carry their line and column.
    static func parse(_ text: String, file: String) throws(ConfigError) -> TOMLTable {
        try TOMLParser.parse(text, file: file)
    }
}

/// A TOML table's keys and values in the order written. Small tables (a plan's
/// `{ year = 2023, rule = "growth_at_least", value = 6.5 }`, of which a province has hundreds of
/// thousands) are searched in place; large ones through an index built once.
struct TOMLTable {
    /// The keys, in the order written.
    let keys: [String]
    /// The values, in the order of `keys`.
    let values: [TOMLNode]
    private let index: [String: Int]?
    /// From this many keys on, lookups go through a dictionary.
    static let indexedFrom = 12

    init(keys: [String], values: [TOMLNode]) {
        precondition(keys.count == values.count)
        self.keys = keys
        self.values = values
        if keys.count >= TOMLTable.indexedFrom {
            var index: [String: Int] = Dictionary(minimumCapacity: keys.count)
            for (i, key) in keys.enumerated() { index[key] = i }
            self.index = index
        } else {
            index = nil
        }
    }

    init() { self.init(keys: [], values: []) }

    subscript(key: String) -> TOMLNode? {
        if let index { return index[key].map { values[$0] } }
        for i in keys.indices where keys[i] == key { return values[i] }
        return nil
    }

    var isEmpty: Bool { keys.isEmpty }
    var count: Int { keys.count }
}

/// Typed, path-aware access to one TOML table, throwing `ConfigError`s that say
/// where the value is, what was found and what is allowed.
struct TableReader {
    let values: TOMLTable
    let file: String
    /// Where this table is: the key path of the table holding it, its key there and, for an
    /// element of an array of tables, its position. `path` is only spelled out when needed
    /// (an error, a nested table): a province's plans hold hundreds of thousands of tables.
    private let parentPath: String, key: String, position: Int?

    init(_ values: TOMLTable, file: String) {
        self.init(values, file: file, parentPath: "", key: "", position: nil)
    }

    private init(_ values: TOMLTable, file: String, parentPath: String, key: String, position: Int?) {
        self.values = values
        self.file = file
        self.parentPath = parentPath
        self.key = key
        self.position = position
    }

    /// Key path of this table, e.g. `feed[1]`.
    var path: String {
        let named = parentPath.isEmpty ? key : key.isEmpty ? parentPath : "\(parentPath).\(key)"
        return position.map { "\(named)[\($0)]" } ?? named
    }

    func keyPath(_ key: String) -> String {
        let path = self.path
        return path.isEmpty ? key : "\(path).\(key)"
    }

    func error(_ key: String?, _ message: String) -> ConfigError {
        ConfigError(file: file, keyPath: key.map(keyPath) ?? path, message: message)
    }

    /// Rejects keys outside `allowed` (typos are errors, not silently ignored).
    func rejectUnknownKeys(allowed: [String]) throws(ConfigError) {
        if values.keys.allSatisfy({ allowed.contains($0) }) { return }
        for key in values.keys.sorted() where !allowed.contains(key) {
            let suggestion = allowed.min { editDistance($0, key) < editDistance($1, key) }
            var message = "unknown key '\(key)'"
            if let suggestion, editDistance(suggestion, key) <= 2 { message += " (did you mean '\(suggestion)'?)" }
            message += "; allowed here: \(allowed.joined(separator: ", "))"
            throw error(key, message)
        }
    }

    func has(_ key: String) -> Bool { values[key] != nil }

    func string(_ key: String) throws(ConfigError) -> String? {
        switch values[key] {
        case nil: return nil
        case .string(let s)?: return s
        case let other?: throw error(key, "expected a string in quotes, found \(other.typeName)")
        }
    }

    func requiredString(_ key: String, example: String) throws(ConfigError) -> String {
        // The first byte settles it for most values: printable ASCII other than a space.
        guard let value = try string(key),
            value.utf8.first.map({ $0 > 0x20 && $0 < 0x7F }) == true
                || !value.unicodeScalars.allSatisfy(\.properties.isWhitespace)
        else {
            throw error(key, "missing required key '\(key)' (e.g. \(key) = \(example))")
        }
        return value
    }

    func int(_ key: String, range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        switch values[key] {
        case nil: return nil
        case .int(let i)?:
            guard range.contains(i) else {
                throw error(key, "\(i) is out of range (allowed: \(range.lowerBound)–\(range.upperBound))")
            }
            return i
        case let other?: throw error(key, "expected a whole number, found \(other.typeName)")
        }
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        switch values[key] {
        case nil: return nil
        case .bool(let b)?: return b
        case let other?: throw error(key, "expected true or false, found \(other.typeName)")
        }
    }

    /// A number as a decimal figure; integers and floats are both accepted.
    func figure(_ key: String) throws(ConfigError) -> Figure? {
        switch values[key] {
        case nil: return nil
        case .int(let i)?: return Figure(i)
        case .double(let d)?:
            guard d.isFinite, let figure = Figure("\(d)") else { throw error(key, "\(d) is not a finite number") }
            return figure
        case .decimal(let text)?:
            guard let figure = Figure(text) else { throw error(key, "\(text) has more digits than a figure may (38)") }
            return figure
        case .string(let s)?:
            throw error(key, "expected a number without quotes, found the string \"\(s)\" (write e.g. value = 6.5)")
        case let other?: throw error(key, "expected a number, found \(other.typeName)")
        }
    }

    func duration(_ key: String) throws(ConfigError) -> Double? {
        switch values[key] {
        case nil: return nil
        case .string(let s)?:
            guard let seconds = DurationText.seconds(s) else {
                throw error(key, "'\(s)' is not \(DurationText.help)")
            }
            return seconds
        case let other?: throw error(key, "expected \(DurationText.help) in quotes, found \(other.typeName)")
        }
    }

    func size(_ key: String) throws(ConfigError) -> Int? {
        switch values[key] {
        case nil: return nil
        case .int(let i)?: return i
        case .string(let s)?:
            guard let bytes = ByteSizeText.bytes(s) else { throw error(key, "'\(s)' is not \(ByteSizeText.help)") }
            return bytes
        case let other?: throw error(key, "expected \(ByteSizeText.help), found \(other.typeName)")
        }
    }

    func strings(_ key: String) throws(ConfigError) -> [String]? {
        switch values[key] {
        case nil: return nil
        case .string(let s)?: return [s]
        case .array(let items)?:
            var result: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    throw ConfigError(file: file, keyPath: keyPath(key) + "[\(i)]", message: "expected a string, found \(item.typeName)")
                }
                result.append(s)
            }
            return result
        case let other?: throw error(key, "expected an array of strings, found \(other.typeName)")
        }
    }

    func table(_ key: String) throws(ConfigError) -> TableReader? {
        switch values[key] {
        case nil: return nil
        case .table(let t)?: return TableReader(t, file: file, parentPath: path, key: key, position: nil)
        case let other?: throw error(key, "expected a table, found \(other.typeName)")
        }
    }

    /// An array of tables (`[[key]]` sections or an array of inline tables).
    func tables(_ key: String) throws(ConfigError) -> [TableReader] {
        switch values[key] {
        case nil: return []
        case .array(let items)?:
            let parentPath = path
            var result: [TableReader] = []
            result.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                guard case .table(let t) = item else {
                    throw ConfigError(file: file, keyPath: keyPath(key) + "[\(i)]", message: "expected a table { ... }, found \(item.typeName)")
                }
                result.append(TableReader(t, file: file, parentPath: parentPath, key: key, position: i))
            }
            return result
        case .table(let t)?: return [TableReader(t, file: file, parentPath: path, key: key, position: 0)]
        case let other?: throw error(key, "expected an array of tables ([[\(key)]]), found \(other.typeName)")
        }
    }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
