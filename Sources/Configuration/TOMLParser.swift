/// A TOML 1.0 parser over the text's UTF-8 bytes, producing `TOMLNode` tables directly.
///
/// It replaces TOMLKit (toml++ behind a C shim): toml++ aborted the process on some malformed
/// text (an assertion on `x = [}]`), converting its tree into Swift values cost more than the
/// parse, and the shim leaked its key strings on every load. Errors carry the line and column
/// (in characters) where the text stops being TOML.
struct TOMLParser {
    private let text: UnsafeBufferPointer<UInt8>
    private let file: String
    private var i = 0
    private var line = 1
    private var lineStart = 0
    private var depth = 0
    /// Nesting of arrays and inline tables allowed; deeper text is rejected, not recursed into.
    static let maxDepth = 100

    private init(_ text: UnsafeBufferPointer<UInt8>, file: String) {
        self.text = text
        self.file = file
    }

    /// Parses a whole document into its root table.
    static func parse(_ source: String, file: String) throws(ConfigError) -> TOMLTable {
        var source = source
        let result = source.withUTF8 { bytes -> Result<TOMLTable, ConfigError> in
            var parser = TOMLParser(bytes, file: file)
            do throws(ConfigError) { return .success(try parser.document()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    // MARK: - Document structure

    /// A table while it is being built, with how it came to exist (TOML's rules on what may
    /// be added to a table later depend on it).
    ///
    /// Keys are kept in order in an array, searched in place while the table is small (most
    /// are: an inline table of three keys) and through an index once it grows.
    private final class Table {
        enum Origin { case header, implicit, dotted, inline }
        var origin: Origin
        private var keys: [String] = []
        private var entries: [Entry] = []
        private var index: [String: Int]?
        init(_ origin: Origin) { self.origin = origin }

        subscript(key: String) -> Entry? {
            if let index { return index[key].map { entries[$0] } }
            for i in keys.indices where keys[i] == key { return entries[i] }
            return nil
        }

        /// Adds a key that is not in the table yet.
        func add(_ key: String, _ entry: Entry) {
            keys.append(key)
            entries.append(entry)
            if index != nil {
                index?[key] = keys.count - 1
            } else if keys.count >= TOMLTable.indexedFrom {
                var built: [String: Int] = Dictionary(minimumCapacity: keys.count * 2)
                for (i, key) in keys.enumerated() { built[key] = i }
                index = built
            }
        }

        var node: TOMLTable {
            var values: [TOMLNode] = []
            values.reserveCapacity(entries.count)
            for entry in entries {
                switch entry {
                case .value(let v): values.append(v)
                case .table(let t): values.append(.table(t.node))
                case .tables(let list): values.append(.array(list.items.map { .table($0.node) }))
                }
            }
            return TOMLTable(keys: keys, values: values)
        }
    }

    /// The tables of one `[[array.of.tables]]`, appended to in place.
    private final class TableArray {
        var items: [Table]
        init(_ first: Table) { items = [first] }
    }

    private enum Entry {
        case value(TOMLNode)  // a static value, arrays and inline tables included
        case table(Table)
        case tables(TableArray)
    }

    private mutating func document() throws(ConfigError) -> TOMLTable {
        let root = Table(.header)
        var current = root
        if text.count >= 3, text[0] == 0xEF, text[1] == 0xBB, text[2] == 0xBF { i = 3 }  // BOM
        while true {
            skipBlank()
            guard let b = peek() else { break }
            switch b {
            case 0x0A, 0x0D: try newline()
            case 0x23: try comment(); try endOfLine()
            case 0x5B:
                current = try header(root)
                try endOfLine()
            default:
                try keyValue(into: current)
                try endOfLine()
            }
        }
        return root.node
    }

    /// `[a.b]` or `[[a.b]]`: returns the table that following key/value lines go into.
    private mutating func header(_ root: Table) throws(ConfigError) -> Table {
        let start = i
        i += 1
        let isArray = peek() == 0x5B
        if isArray { i += 1 }
        skipBlank()
        let keys = try dottedKey().all
        skipBlank()
        guard peek() == 0x5D, !isArray || peek(1) == 0x5D else {
            throw error(isArray ? "expected ']]' to close the array-of-tables header" : "expected ']' to close the table header")
        }
        i += isArray ? 2 : 1
        var table = root
        for key in keys.dropLast() {
            switch table[key] {
            case nil:
                let next = Table(.implicit)
                table.add(key, .table(next))
                table = next
            case .table(let next)?:  // inline tables are stored as values, never here
                table = next
            case .tables(let list)?:
                table = list.items[list.items.count - 1]
            default:
                throw error("'\(key)' in [\(keys.joined(separator: "."))] is already a value, not a table", at: start)
            }
        }
        let last = keys[keys.count - 1]
        let name = keys.joined(separator: ".")
        if isArray {
            let element = Table(.header)
            switch table[last] {
            case nil: table.add(last, .tables(TableArray(element)))
            case .tables(let list)?: list.items.append(element)
            default: throw error("[[\(name)]] appends to an array of tables, but '\(name)' is already defined as something else", at: start)
            }
            return element
        }
        switch table[last] {
        case nil:
            let next = Table(.header)
            table.add(last, .table(next))
            return next
        case .table(let existing)? where existing.origin == .implicit:
            existing.origin = .header
            return existing
        default:
            throw error("table [\(name)] is defined more than once", at: start)
        }
    }

    /// A key as written: one name, or names separated by dots (the common case, a single
    /// name, holds no array).
    private struct Key {
        var first: String
        var more: [String] = []
        var all: [String] { [first] + more }
        var last: String { more.last ?? first }
        var dotted: String { more.isEmpty ? first : all.joined(separator: ".") }
    }

    /// `key = value` (the key possibly dotted) into `table`.
    private mutating func keyValue(into table: Table) throws(ConfigError) {
        let start = i
        let (key, value) = try keyAndValue()
        try insert(value, at: key, into: table, start: start)
    }

    /// `key = value`, read but not yet placed.
    private mutating func keyAndValue() throws(ConfigError) -> (Key, TOMLNode) {
        let key = try dottedKey()
        skipBlank()
        guard peek() == 0x3D else {
            throw error(
                peek().map { $0 == 0x0A || $0 == 0x0D } ?? true
                    ? "expected '=' after the key '\(key.dotted)'"
                    : "expected '=' after the key '\(key.dotted)', found \(describeNext())")
        }
        i += 1
        skipBlank()
        return (key, try self.value())
    }

    /// Places a value under its (possibly dotted) key; `start` is where the key was written.
    private func insert(_ value: TOMLNode, at key: Key, into table: Table, start: Int) throws(ConfigError) {
        var target = table
        if !key.more.isEmpty {
            for name in key.all.dropLast() {
                switch target[name] {
                case nil:
                    // Tables made by dotted keys may be extended by more dotted keys (in the same
                    // section or inline table: nested inline tables are stored as values).
                    let next = Table(.dotted)
                    target.add(name, .table(next))
                    target = next
                case .table(let next)? where next.origin == .dotted || next.origin == .implicit:
                    // A table only named on the way to a [header] may be given keys this way; it
                    // then counts as defined, so a later [header] of its own is a duplicate.
                    next.origin = .dotted
                    target = next
                default:
                    throw error("key '\(key.dotted)': '\(name)' is already defined and cannot be extended here", at: start)
                }
            }
        }
        let last = key.last
        guard target[last] == nil else {
            throw error("duplicate key '\(key.dotted)'", at: start)
        }
        target.add(last, .value(value))
    }

    /// One or more keys separated by dots, with optional blanks around the dots.
    private mutating func dottedKey() throws(ConfigError) -> Key {
        var key = Key(first: try simpleKey())
        while true {
            let save = i
            skipBlank()
            guard peek() == 0x2E else { i = save; return key }
            i += 1
            skipBlank()
            key.more.append(try simpleKey())
        }
    }

    private mutating func simpleKey() throws(ConfigError) -> String {
        guard let b = peek() else { throw error("expected a key before the end of the file") }
        if b == 0x22 { return try basicString() }
        if b == 0x27 { return try literalString() }
        let start = i
        while let c = peek(), TOMLParser.isBareKeyByte(c) { i += 1 }
        guard i > start else {
            if b == 0x0A || b == 0x0D { throw error("expected a key before the end of the line") }
            if b >= 0x80 { throw error("a key with characters other than A-Z, a-z, 0-9, '_' and '-' must be quoted, e.g. \"地区\" = ...") }
            throw error("expected a key, found \(describeNext())")
        }
        return string(start, i)
    }

    // MARK: - Values

    private mutating func value() throws(ConfigError) -> TOMLNode {
        guard let b = peek() else { throw error("expected a value after '=' before the end of the file") }
        switch b {
        case 0x22:
            if peek(1) == 0x22, peek(2) == 0x22 { return .string(try multilineString(0x22)) }
            return .string(try basicString())
        case 0x27:
            if peek(1) == 0x27, peek(2) == 0x27 { return .string(try multilineString(0x27)) }
            return .string(try literalString())
        case 0x5B: return try array()
        case 0x7B: return try inlineTable()
        case 0x74, 0x66:  // true, false
            if matches("true") { i += 4; return .bool(true) }
            if matches("false") { i += 5; return .bool(false) }
            throw error("expected a value, found \(describeNext()) (strings need quotes)")
        default:
            if b == 0x0A || b == 0x0D || b == 0x23 { throw error("expected a value after '='") }
            if b == 0x2C || b == 0x5D || b == 0x7D { throw error("expected a value, found \(describeNext())") }
            return try numberOrDate()
        }
    }

    private mutating func array() throws(ConfigError) -> TOMLNode {
        try nest()
        defer { depth -= 1 }
        i += 1
        var items: [TOMLNode] = []
        while true {
            try skipBlankLinesAndComments()
            guard let b = peek() else { throw error("unterminated array: expected ']' before the end of the file") }
            if b == 0x5D { i += 1; return .array(items) }
            items.append(try value())
            try skipBlankLinesAndComments()
            switch peek() {
            case 0x2C?: i += 1
            case 0x5D?: i += 1; return .array(items)
            case nil: throw error("unterminated array: expected ']' before the end of the file")
            default: throw error("expected ',' or ']' in the array, found \(describeNext())")
            }
        }
    }

    /// `{ k = v, ... }`. Plain keys are collected straight into the table's arrays (a plan's
    /// targets are hundreds of thousands of these); a dotted key, or more keys than are
    /// searched in place, switches to the general table.
    private mutating func inlineTable() throws(ConfigError) -> TOMLNode {
        try nest()
        defer { depth -= 1 }
        i += 1
        var keys: [String] = []
        var values: [TOMLNode] = []
        keys.reserveCapacity(4)
        values.reserveCapacity(4)
        var general: Table?
        skipBlank()
        if peek() == 0x7D { i += 1; return .table(TOMLTable()) }
        while true {
            skipBlank()
            let start = i
            let (key, value) = try keyAndValue()
            if general == nil, key.more.isEmpty, keys.count < TOMLTable.indexedFrom {
                guard !keys.contains(key.first) else { throw error("duplicate key '\(key.first)'", at: start) }
                keys.append(key.first)
                values.append(value)
            } else {
                let table: Table
                if let general {
                    table = general
                } else {
                    table = Table(.inline)
                    for (name, value) in zip(keys, values) { table.add(name, .value(value)) }
                    general = table
                }
                try insert(value, at: key, into: table, start: start)
            }
            skipBlank()
            switch peek() {
            case 0x2C?:
                i += 1
                skipBlank()
                if peek() == 0x7D { throw error("trailing ',' in an inline table (TOML allows none)") }
            case 0x7D?:
                i += 1
                return .table(general?.node ?? TOMLTable(keys: keys, values: values))
            case 0x0A?, 0x0D?, nil: throw error("an inline table { ... } must close on the line it starts")
            default: throw error("expected ',' or '}' in the inline table, found \(describeNext())")
            }
        }
    }

    private mutating func nest() throws(ConfigError) {
        depth += 1
        guard depth <= TOMLParser.maxDepth else {
            throw error("arrays and inline tables nested more than \(TOMLParser.maxDepth) deep")
        }
    }

    // MARK: - Strings

    private mutating func basicString() throws(ConfigError) -> String {
        i += 1
        var out: [UInt8] = []
        var escaped = false
        var start = i
        while true {
            guard let b = peek() else { throw error("unterminated string: missing the closing '\"'") }
            switch b {
            case 0x22:
                // Without escapes the string is the text itself, copied once.
                if !escaped { i += 1; return string(start, i - 1) }
                out.append(contentsOf: text[start..<i])
                i += 1
                return String(decoding: out, as: UTF8.self)
            case 0x5C:
                escaped = true
                out.append(contentsOf: text[start..<i])
                try escape(into: &out)
                start = i
            case 0x0A, 0x0D: throw error("unterminated string: missing the closing '\"' before the end of the line")
            default:
                if b < 0x20 && b != 0x09 || b == 0x7F { throw controlCharacter(b) }
                i += 1
            }
        }
    }

    private mutating func literalString() throws(ConfigError) -> String {
        i += 1
        let start = i
        while true {
            guard let b = peek() else { throw error("unterminated string: missing the closing \"'\"") }
            if b == 0x27 { i += 1; return string(start, i - 1) }
            if b == 0x0A || b == 0x0D { throw error("unterminated string: missing the closing \"'\" before the end of the line") }
            if b < 0x20 && b != 0x09 || b == 0x7F { throw controlCharacter(b) }
            i += 1
        }
    }

    /// `"""…"""` (escapes, line-ending backslash) or `'''…'''` (raw): a newline right after the
    /// opening quotes is dropped, `\r\n` is read as `\n`.
    private mutating func multilineString(_ quote: UInt8) throws(ConfigError) -> String {
        let basic = quote == 0x22
        i += 3
        if peek() == 0x0A || peek() == 0x0D { try newline() }
        var out: [UInt8] = []
        while true {
            guard let b = peek() else {
                throw error(basic ? "unterminated string: missing the closing '\"\"\"'" : "unterminated string: missing the closing \"'''\"")
            }
            switch b {
            case quote where peek(1) == quote && peek(2) == quote:
                // Up to two quotes may stand right before the closing three.
                var quotes = 3
                while peek(quotes) == quote, quotes < 5 { quotes += 1 }
                out.append(contentsOf: repeatElement(quote, count: quotes - 3))
                i += quotes
                return String(decoding: out, as: UTF8.self)
            case 0x5C where basic:
                // A line-ending backslash trims the newline and the blanks that follow.
                var j = i + 1
                while j < text.count, text[j] == 0x20 || text[j] == 0x09 { j += 1 }
                if j < text.count, text[j] == 0x0A || (text[j] == 0x0D && j + 1 < text.count && text[j + 1] == 0x0A) {
                    i = j
                    while let c = peek(), c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                        if c == 0x0A || c == 0x0D { try newline() } else { i += 1 }
                    }
                } else {
                    try escape(into: &out)
                }
            case 0x0A, 0x0D:
                try newline()
                out.append(0x0A)  // \r\n read as \n, as toml++ did
            default:
                if b < 0x20 && b != 0x09 || b == 0x7F { throw controlCharacter(b) }
                out.append(b)
                i += 1
            }
        }
    }

    /// A backslash escape in a basic string, appended as UTF-8.
    private mutating func escape(into out: inout [UInt8]) throws(ConfigError) {
        i += 1
        guard let b = peek() else { throw error("unterminated string: missing the closing '\"'") }
        i += 1
        switch b {
        case 0x62: out.append(0x08)
        case 0x74: out.append(0x09)
        case 0x6E: out.append(0x0A)
        case 0x66: out.append(0x0C)
        case 0x72: out.append(0x0D)
        case 0x22: out.append(0x22)
        case 0x5C: out.append(0x5C)
        case 0x75, 0x55:
            let count = b == 0x75 ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<count {
                guard let h = peek(), let digit = TOMLParser.hexValue(h) else {
                    throw error("\\\(b == 0x75 ? "u" : "U") needs \(count) hexadecimal digits")
                }
                value = value << 4 | UInt32(digit)
                i += 1
            }
            guard value != 0 else {
                throw error("\\\(b == 0x75 ? "u" : "U")0000 (a NUL character) cannot be part of a configuration value")
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw error("\\\(b == 0x75 ? "u" : "U") escape names no Unicode character (U+\(String(value, radix: 16, uppercase: true)))")
            }
            out.append(contentsOf: String(Character(scalar)).utf8)
        default:
            i -= 1
            throw error("invalid escape '\\\(describeByte(b))' (allowed: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX)")
        }
    }

    // MARK: - Numbers, dates and times

    private mutating func numberOrDate() throws(ConfigError) -> TOMLNode {
        let start = i
        // The value's extent: up to a blank, ',', ']', '}', '#' or the end of the line. A
        // date and time separated by one space is joined back together below.
        while let c = peek(), !(c == 0x20 || c == 0x09 || c == 0x2C || c == 0x5D || c == 0x7D || c == 0x23 || c == 0x0A || c == 0x0D) {
            i += 1
        }
        if let simple = simpleNumber(start, i) { return simple }
        var token = Array(text[start..<i])
        if token.count == 10, token[4] == 0x2D, peek() == 0x20, i + 3 < text.count,
            TOMLParser.isDigit(text[i + 1]), TOMLParser.isDigit(text[i + 2]), text[i + 3] == 0x3A
        {
            i += 1
            let timeStart = i
            while let c = peek(), !(c == 0x20 || c == 0x09 || c == 0x2C || c == 0x5D || c == 0x7D || c == 0x23 || c == 0x0A || c == 0x0D) {
                i += 1
            }
            token += [0x54] + Array(text[timeStart..<i])
        }
        if let kind = TOMLParser.dateTimeKind(token) { return .other(kind) }
        if let node = TOMLParser.number(token) { return node }
        i = start
        let shown = String(decoding: token.prefix(40), as: UTF8.self)
        let unsigned = token.first == 0x2B || token.first == 0x2D ? token.dropFirst() : token[...]
        if unsigned.count > 18, unsigned.allSatisfy({ TOMLParser.isDigit($0) || $0 == 0x5F }) {
            throw error("'\(shown)' is out of the range of an integer (64-bit signed)")
        }
        if token.first.map({ TOMLParser.isDigit($0) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E }) ?? false {
            // "1h", "64MiB": a duration or size written without its quotes.
            let hint = token.contains { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A } ? " (text needs quotes: \"\(shown)\")" : ""
            throw error("'\(shown)' is not a valid number, date or time\(hint)")
        }
        throw error("expected a value, found '\(shown)' (strings need quotes)")
    }

    /// The common shapes `-?[1-9][0-9]*`, `-?0` and those followed by `.` and digits (at most
    /// 18 digits in all; kept as written, `.decimal`), read without copying the token; nil for
    /// anything else, which the general reading handles (and rejects where it is not TOML).
    private func simpleNumber(_ start: Int, _ end: Int) -> TOMLNode? {
        var k = start
        let negative = text[k] == 0x2D
        if negative { k += 1 }
        let digitsStart = k
        var whole = 0
        while k < end, TOMLParser.isDigit(text[k]) { whole = whole &* 10 &+ Int(text[k] - 0x30); k += 1 }  // checked below
        let wholeDigits = k - digitsStart
        guard wholeDigits > 0, wholeDigits <= 18, text[digitsStart] != 0x30 || wholeDigits == 1 else { return nil }
        if k == end { return .int(negative ? -whole : whole) }
        guard text[k] == 0x2E else { return nil }
        k += 1
        let fractionStart = k
        while k < end, TOMLParser.isDigit(text[k]) { k += 1 }
        guard k == end, k > fractionStart, k - digitsStart <= 19 else { return nil }
        return .decimal(string(start, end))
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// A-Z, a-z, 0-9, '_' and '-': the bytes of a bare key.
    static func isBareKeyByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    /// Digits with single underscores between them (never leading, trailing or doubled).
    private static func digits(_ t: ArraySlice<UInt8>, _ isDigit: (UInt8) -> Bool) -> [UInt8]? {
        guard let first = t.first, let last = t.last, isDigit(first), isDigit(last) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(t.count)
        var previousUnderscore = false
        for b in t {
            if b == 0x5F {
                if previousUnderscore { return nil }
                previousUnderscore = true
            } else {
                guard isDigit(b) else { return nil }
                previousUnderscore = false
                out.append(b)
            }
        }
        return out
    }

    static func number(_ token: [UInt8]) -> TOMLNode? {
        guard !token.isEmpty else { return nil }
        var body = token[...]
        var sign: UInt8?
        if let first = body.first, first == 0x2B || first == 0x2D { sign = first; body = body.dropFirst() }
        let word = String(decoding: body, as: UTF8.self)
        if word == "inf" { return .double(sign == 0x2D ? -.infinity : .infinity) }
        if word == "nan" { return .double(.nan) }
        // 0x, 0o, 0b: no sign allowed.
        if body.count > 2, body.first == 0x30, let radixMark = body.dropFirst().first, [0x78, 0x6F, 0x62].contains(radixMark) {
            guard sign == nil else { return nil }
            let radix = radixMark == 0x78 ? 16 : radixMark == 0x6F ? 8 : 2
            guard let d = digits(body.dropFirst(2), { b in hexValue(b).map { Int($0) < radix } ?? false }),
                let value = Int(String(decoding: d, as: UTF8.self), radix: radix)
            else { return nil }
            return .int(value)
        }
        // Decimal: an integer part without leading zeros, then a fraction and/or an exponent.
        let exponentAt = body.firstIndex { $0 == 0x65 || $0 == 0x45 }
        let mantissa = exponentAt.map { body[..<$0] } ?? body
        let dotAt = mantissa.firstIndex(of: 0x2E)
        let integerPart = dotAt.map { mantissa[..<$0] } ?? mantissa
        guard let intDigits = digits(integerPart, isDigit), intDigits.first != 0x30 || intDigits.count == 1 else { return nil }
        var literal = sign == 0x2D ? [UInt8(0x2D)] : []
        literal += intDigits
        if dotAt == nil, exponentAt == nil {
            return Int(String(decoding: literal, as: UTF8.self)).map { .int($0) }
        }
        if let dotAt {
            guard let fraction = digits(mantissa[(dotAt + 1)...], isDigit) else { return nil }
            literal += [0x2E] + fraction
        }
        if let exponentAt {
            var exponent = body[(exponentAt + 1)...]
            literal.append(0x65)
            if let s = exponent.first, s == 0x2B || s == 0x2D { literal.append(s); exponent = exponent.dropFirst() }
            guard let e = digits(exponent, isDigit) else { return nil }
            literal += e
        }
        guard let value = Double(String(decoding: literal, as: UTF8.self)) else { return nil }
        return .double(value)
    }

    /// "a date-time", "a date" or "a time" when `token` is one (RFC 3339 as TOML allows it).
    static func dateTimeKind(_ token: [UInt8]) -> String? {
        var t = token[...]
        func number(_ count: Int, _ range: ClosedRange<Int>) -> Bool {
            guard t.count >= count, t.prefix(count).allSatisfy(isDigit) else { return false }
            let value = t.prefix(count).reduce(0) { $0 * 10 + Int($1 - 0x30) }
            t = t.dropFirst(count)
            return range.contains(value)
        }
        func take(_ b: UInt8) -> Bool {
            guard t.first == b else { return false }
            t = t.dropFirst()
            return true
        }
        func time() -> Bool {
            guard number(2, 0...23), take(0x3A), number(2, 0...59), take(0x3A), number(2, 0...60) else { return false }
            if take(0x2E) {
                guard let first = t.first, isDigit(first) else { return false }
                while let c = t.first, isDigit(c) { t = t.dropFirst() }
            }
            return true
        }
        if token.count >= 3, token[2] == 0x3A {
            return time() && t.isEmpty ? "a time" : nil
        }
        guard token.count >= 10, token[4] == 0x2D, number(4, 0...9999), take(0x2D), number(2, 1...12), take(0x2D),
            number(2, 1...daysInMonth(token))
        else { return nil }
        if t.isEmpty { return "a date" }
        guard take(0x54) || take(0x74), time() else { return nil }
        if t.isEmpty { return "a date-time" }
        if take(0x5A) || take(0x7A) { return t.isEmpty ? "a date-time" : nil }
        guard take(0x2B) || take(0x2D), number(2, 0...23), take(0x3A), number(2, 0...59), t.isEmpty else { return nil }
        return "a date-time"
    }

    /// Days in the month of a `YYYY-MM-...` token (whose first seven bytes are digits and '-').
    private static func daysInMonth(_ token: [UInt8]) -> Int {
        let year = token[0..<4].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        let month = Int(token[5] - 0x30) * 10 + Int(token[6] - 0x30)
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // MARK: - Blanks, newlines, comments

    private func peek(_ offset: Int = 0) -> UInt8? {
        i + offset < text.count ? text[i + offset] : nil
    }

    private func matches(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= text.count else { return false }
        for k in 0..<count where text[i + k] != word.utf8Start[k] { return false }
        // A bare word must end there (`trueish` is not `true`).
        if let next = peek(count), TOMLParser.isBareKeyByte(next) { return false }
        return true
    }

    private mutating func skipBlank() {
        while let b = peek(), b == 0x20 || b == 0x09 { i += 1 }
    }

    /// Blanks, newlines and comments between the items of an array.
    private mutating func skipBlankLinesAndComments() throws(ConfigError) {
        while let b = peek() {
            switch b {
            case 0x20, 0x09: i += 1
            case 0x0A, 0x0D: try newline()
            case 0x23: try comment()
            default: return
            }
        }
    }

    /// `\n` or `\r\n`; a lone carriage return is an error.
    private mutating func newline() throws(ConfigError) {
        if peek() == 0x0D {
            guard peek(1) == 0x0A else { throw controlCharacter(0x0D) }
            i += 1
        }
        i += 1
        line += 1
        lineStart = i
    }

    private mutating func comment() throws(ConfigError) {
        i += 1
        while let b = peek(), b != 0x0A {
            if b == 0x0D, peek(1) == 0x0A { return }
            if b < 0x20 && b != 0x09 || b == 0x7F { throw controlCharacter(b) }
            i += 1
        }
    }

    /// After a key/value pair or a header only a comment may follow on the line.
    private mutating func endOfLine() throws(ConfigError) {
        skipBlank()
        if peek() == 0x23 { try comment() }
        guard let b = peek() else { return }
        guard b == 0x0A || b == 0x0D else {
            throw error("expected the end of the line, found \(describeNext()) (one key = value or [table] per line)")
        }
        try newline()
    }

    // MARK: - Errors

    private func string(_ from: Int, _ to: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: text[from..<to]), as: UTF8.self)
    }

    private func describeByte(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? String(UnicodeScalar(b)) : "0x\(String(b, radix: 16))"
    }

    private func describeNext() -> String {
        guard let b = peek() else { return "the end of the file" }
        if b >= 0x80 {
            var end = i + 1
            while end < text.count, text[end] & 0xC0 == 0x80 { end += 1 }
            return "'\(string(i, end))'"
        }
        return "'\(describeByte(b))'"
    }

    private func controlCharacter(_ b: UInt8) -> ConfigError {
        error(
            b == 0x0D
                ? "a carriage return (0xd) not followed by a line feed"
                : "control character 0x\(String(b, radix: 16)) in the file (is it really a TOML text file?)")
    }

    /// An error at `at` (the current position by default), with its column in characters.
    private func error(_ message: String, at: Int? = nil) -> ConfigError {
        var position = min(at ?? i, text.count)
        var errorLine = line, start = lineStart
        if position < lineStart {
            // An error reported at an earlier position on an earlier line (a multi-line value).
            errorLine = 1; start = 0
            for k in 0..<position where text[k] == 0x0A { errorLine += 1; start = k + 1 }
        }
        position = max(position, start)
        let column = text[start..<position].reduce(1) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        return ConfigError(file: file, line: errorLine, column: column, message: "TOML syntax error: \(message)")
    }
}
