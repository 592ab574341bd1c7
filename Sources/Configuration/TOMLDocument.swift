import Foundation
import PlanCore

/// A parsed TOML value (dates and times are kept only as their kind: no setting takes one).
indirect enum TOMLNode {
    case table([String: TOMLNode])
    case array([TOMLNode])
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case other(String)

    var typeName: String {
        switch self {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a number"
        case .bool: "a boolean"
        case .other(let name): name
        }
    }

    /// Parses TOML text; syntax errors carry their line and column.
    static func parse(_ text: String, file: String) throws(ConfigError) -> [String: TOMLNode] {
        try TOMLParser.parse(text, file: file)
    }
}

/// Typed, path-aware access to one TOML table, throwing `ConfigError`s that say
/// where the value is, what was found and what is allowed.
struct TableReader {
    let values: [String: TOMLNode]
    let file: String
    /// Key path of this table, e.g. `feed[1]`.
    let path: String

    init(_ values: [String: TOMLNode], file: String, path: String = "") {
        self.values = values
        self.file = file
        self.path = path
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String?, _ message: String) -> ConfigError {
        ConfigError(file: file, keyPath: key.map(keyPath) ?? path, message: message)
    }

    /// Rejects keys outside `allowed` (typos are errors, not silently ignored).
    func rejectUnknownKeys(allowed: [String]) throws(ConfigError) {
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
        guard let value = try string(key), !value.unicodeScalars.allSatisfy(\.properties.isWhitespace) else {
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
        case .table(let t)?: return TableReader(t, file: file, path: keyPath(key))
        case let other?: throw error(key, "expected a table, found \(other.typeName)")
        }
    }

    /// An array of tables (`[[key]]` sections or an array of inline tables).
    func tables(_ key: String) throws(ConfigError) -> [TableReader] {
        switch values[key] {
        case nil: return []
        case .array(let items)?:
            var result: [TableReader] = []
            for (i, item) in items.enumerated() {
                guard case .table(let t) = item else {
                    throw ConfigError(file: file, keyPath: keyPath(key) + "[\(i)]", message: "expected a table { ... }, found \(item.typeName)")
                }
                result.append(TableReader(t, file: file, path: keyPath(key) + "[\(i)]"))
            }
            return result
        case .table(let t)?: return [TableReader(t, file: file, path: keyPath(key) + "[0]")]
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
