import Foundation
import PlanCore
import TOMLKit

/// A parsed TOML value, detached from the C++ parser.
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
        try TOMLPrecheck.validate(text, file: file)
        do {
            let table = try TOMLTable(string: text)
            return convert(table)
        } catch let error as TOMLParseError {
            throw ConfigError(file: file, line: error.source.begin.line, column: error.source.begin.column,
                              message: "TOML syntax error: \(error.description)")
        } catch {
            throw ConfigError(file: file, message: "TOML syntax error: \(error)")
        }
    }

    /// Keys and values are fetched as two arrays in the table's order (one pass each over the
    /// C++ table), not value by value with a lookup per key.
    private static func convert(_ table: TOMLTable) -> [String: TOMLNode] {
        let keys = table.keys, values = table.values
        var result: [String: TOMLNode] = Dictionary(minimumCapacity: keys.count)
        for (key, value) in zip(keys, values) { result[key] = convert(value) }
        return result
    }

    private static func convert(_ value: any TOMLValueConvertible) -> TOMLNode {
        switch value.type {
        case .table: return .table(value.table.map(convert) ?? [:])
        case .array: return .array(value.array.map { $0.map { convert($0) } } ?? [])
        case .string: return .string(value.string ?? "")
        case .int: return .int(value.int ?? 0)
        case .double: return .double(value.double ?? 0)
        case .bool: return .bool(value.bool ?? false)
        case .date: return .other("a date")
        case .time: return .other("a time")
        case .dateTime: return .other("a date-time")
        }
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

/// Checks the shape of keys before TOMLKit sees the text. toml++ (inside TOMLKit) asserts —
/// and so crashes the process — on some malformed keys, e.g. `[#]`, `[地区]` or `地区 = 1`,
/// which a person can easily write; this turns them into ordinary errors with a line and column.
enum TOMLPrecheck {
    static func isBareKeyByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
    }

    static func validate(_ text: String, file: String) throws(ConfigError) {
        // Bytes and line ranges, not String lines: splitting a String walks grapheme clusters
        // (and keeps "\r\n" together), which made this check cost more than the parse itself.
        let bytes = Array(text.utf8)
        var inMultiline: String?  // """ or '''
        var bracketDepth = 0      // inside an array value spanning lines
        try bytes.withUnsafeBufferPointer { (all) throws(ConfigError) in
            var number = 0, start = 0
            while start <= all.count {
                var end = start
                while end < all.count, all[end] != 0x0A { end += 1 }
                let line = UnsafeBufferPointer(rebasing: all[start..<end])
                defer { number += 1; start = end + 1 }
                var i = 0
                func fail(_ message: String) -> ConfigError {
                    ConfigError(file: file, line: number + 1, column: i + 1, message: "TOML syntax error: \(message)")
                }
                /// At a key position: the next non-blank byte must start a bare or quoted key.
                func expectKey(allowClose: UInt8? = nil) throws(ConfigError) {
                    while i < line.count, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
                    guard i < line.count, line[i] != 0x0D else { throw fail("expected a key before the end of the line") }
                    let b = line[i]
                    if isBareKeyByte(b) || b == 0x22 || b == 0x27 || b == allowClose { return }
                    if b >= 0x80 { throw fail("a key with characters other than A-Z, a-z, 0-9, '_' and '-' must be quoted, e.g. \"地区\" = ...") }
                    throw fail("expected a key, found '\(Character(Unicode.Scalar(b)))'")
                }
                var atLineStart = inMultiline == nil && bracketDepth == 0
                var inlineDepth = 0
                while i < line.count {
                    let b = line[i]
                    if let delimiter = inMultiline {
                        let d = Array(delimiter.utf8)
                        if line.count - i >= 3, Array(line[i..<i + 3]) == d { inMultiline = nil; i += 3; continue }
                        if b == 0x5C, d[0] == 0x22 { i += 2; continue }
                        i += 1
                        continue
                    }
                    if b < 0x20, b != 0x09, !(b == 0x0D && i == line.count - 1) {
                        throw fail("control character 0x\(String(b, radix: 16)) in the file (is it really a TOML text file?)")
                    }
                    if atLineStart {
                        while i < line.count, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
                        atLineStart = false
                        guard i < line.count, line[i] != 0x0D else { break }
                        if line[i] == 0x5B {  // [table] or [[array]]
                            i += 1
                            if i < line.count, line[i] == 0x5B { i += 1 }
                            try expectKey()
                            continue
                        }
                        if line[i] != 0x23 { try expectKey() }  // a key = value line (or a comment)
                        continue
                    }
                    switch b {
                    case 0x23: i = line.count  // comment
                    case 0x22, 0x27:  // strings
                        if line.count - i >= 3, line[i + 1] == b, line[i + 2] == b {
                            inMultiline = b == 0x22 ? "\"\"\"" : "'''"
                            i += 3
                            continue
                        }
                        i += 1
                        while i < line.count, line[i] != b {
                            if b == 0x22, line[i] == 0x5C { i += 1 }
                            i += 1
                        }
                        i += 1
                    case 0x2E where inlineDepth > 0 || bracketDepth == 0:  // dotted key
                        i += 1
                        if i < line.count, !(line[i] >= 0x30 && line[i] <= 0x39) { try expectKey() }
                    case 0x7B: inlineDepth += 1; i += 1; try expectKey(allowClose: 0x7D)
                    case 0x7D: inlineDepth = max(0, inlineDepth - 1); i += 1
                    case 0x2C where inlineDepth > 0: i += 1; try expectKey(allowClose: 0x7D)
                    case 0x5B: bracketDepth += 1; i += 1
                    case 0x5D: bracketDepth = max(0, bracketDepth - 1); i += 1
                    default:
                        if b >= 0x80 { throw fail("unexpected non-ASCII text outside a quoted string (quote it)") }
                        i += 1
                    }
                }
            }
        }
    }
}
