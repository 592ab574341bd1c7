/// A strict JSON (RFC 8259) reader producing `JSONValue`, with nesting and size limits
/// and errors that give the byte offset, line and the JSON path reached.
public struct JSONParser {
    /// Why a document is not JSON.
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public let line: Int
        public let column: Int
        /// Where in the document, e.g. `observations[3].value`.
        public let path: String
        public var description: String {
            "line \(line), column \(column) (at \(path.isEmpty ? "top level" : DisplayText.excerpt(path, limit: 200))): \(DisplayText.message(message))"
        }
    }

    private let bytes: [UInt8]
    private var index = 0
    /// Where the parser is: keys and array positions, spelled out only for an error (a feed
    /// of a million observations passes through millions of them).
    private var path: [Step] = []
    private enum Step {
        case key(String)
        case index(Int)
        var component: String {
            switch self {
            case .key(let key): JSONPath.component(key)
            case .index(let i): "[\(i)]"
            }
        }
    }
    private let maxDepth: Int

    /// Parses a whole document.
    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = 256) throws(JSONParser.Error) -> JSONValue {
        var parser = JSONParser(bytes: Array(bytes), maxDepth: maxDepth)
        if parser.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        parser.skipSpace()
        let value = try parser.value()
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected text after the end of the document") }
        return value
    }

    private init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private func error(_ message: String) -> JSONParser.Error {
        var line = 1, column = 1
        for byte in bytes[0..<min(index, bytes.count)] {
            if byte == 0x0A { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return JSONParser.Error(message: message, line: line, column: column, path: JSONPath.render(path.map(\.component)))
    }

    private mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func value() throws(JSONParser.Error) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of document (truncated?)") }
        guard path.count < maxDepth else { throw error("nested deeper than \(maxDepth) levels") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default:
            throw error("expected a value, found '\(String(decoding: bytes[index..<min(index + 12, bytes.count)], as: UTF8.self))'")
        }
    }

    private mutating func literal(_ word: String, _ result: JSONValue) throws(JSONParser.Error) -> JSONValue {
        let utf8 = Array(word.utf8)
        guard bytes.count - index >= utf8.count, Array(bytes[index..<index + utf8.count]) == utf8 else {
            throw error("expected '\(word)'")
        }
        index += utf8.count
        return result
    }

    private mutating func number() throws(JSONParser.Error) -> JSONValue {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits() -> Int {
            let s = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - s
        }
        let intStart = index
        let intDigits = digits()
        guard intDigits > 0 else { throw error("invalid number") }
        if intDigits > 1, bytes[intStart] == 0x30 { throw error("invalid number: leading zero") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw error("invalid number: no digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw error("invalid number: no digits in exponent") }
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    private mutating func hex4() throws(JSONParser.Error) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt32
            switch b {
            case 0x30...0x39: digit = UInt32(b - 0x30)
            case 0x41...0x46: digit = UInt32(b - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(b - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func string() throws(JSONParser.Error) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flush() {
            if runStart < index { scalars.append(contentsOf: String(decoding: bytes[runStart..<index], as: UTF8.self).unicodeScalars) }
        }
        while true {
            guard index < bytes.count else { throw error("unterminated string (truncated?)") }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                flush()
                index += 1
                return String(scalars)
            }
            if b < 0x20 { throw error("control character in string (escape it as \\u00XX)") }
            if b == UInt8(ascii: "\\") {
                flush()
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), bytes.count - index >= 6,
                        bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    {
                        index += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            throw error("invalid surrogate pair in \\u escape")
                        }
                    }
                    // A NUL would be stored whole but cut short by every C API that shows it.
                    if code == 0 { index -= 6; throw error("NUL character (\\u0000) in a string; text must not contain NUL") }
                    scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                }
                runStart = index
                continue
            }
            index += 1
        }
    }

    private mutating func array() throws(JSONParser.Error) -> JSONValue {
        index += 1
        var items: [JSONValue] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            path.append(.index(items.count))
            skipSpace()
            items.append(try value())
            path.removeLast()
            skipSpace()
            guard index < bytes.count else { throw error("unterminated array (truncated?)") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            throw error("expected ',' or ']' in array")
        }
    }

    private mutating func object() throws(JSONParser.Error) -> JSONValue {
        index += 1
        var members: [(String, JSONValue)] = []
        var keys: Set<String> = []  // made once an object has 16 members
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipSpace()
            guard index < bytes.count else { throw error("unterminated object (truncated?)") }
            guard bytes[index] == UInt8(ascii: "\"") else { throw error("expected a quoted key") }
            let keyStart = index
            let key = try string()
            // A repeated key is read differently by different readers (first wins here, the
            // last in jq and Python): refused, with its path.
            let repeated: Bool
            if members.count < 16 {
                repeated = members.contains { $0.0 == key }
            } else {
                if keys.isEmpty { keys = Set(members.map(\.0)) }
                repeated = !keys.insert(key).inserted
            }
            if repeated {
                index = keyStart
                path.append(.key(key))
                throw error("duplicate key \"\(DisplayText.excerpt(key))\" in an object (readers disagree on which value counts)")
            }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(key)\"") }
            index += 1
            skipSpace()
            path.append(.key(key))
            members.append((key, try value()))
            path.removeLast()
            skipSpace()
            guard index < bytes.count else { throw error("unterminated object (truncated?)") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            throw error("expected ',' or '}' in object")
        }
    }
}

/// Builds JSON paths for messages: `dataSets[0].series["0:1"].observations["3"]`.
public enum JSONPath {
    /// `.key` for identifier-like keys, `["key"]` otherwise.
    public static func component(_ key: String) -> String {
        let identifier =
            !key.isEmpty
            && key.unicodeScalars.allSatisfy {
                ($0.properties.isAlphabetic || $0 == "_" || ("0"..."9").contains($0)) && $0.isASCII
            } && !("0"..."9").contains(key.unicodeScalars.first!)
        return identifier ? ".\(key)" : "[\"\(key)\"]"
    }

    /// Joins components and drops a leading dot.
    public static func render(_ components: [String]) -> String {
        var text = components.joined()
        if text.hasPrefix(".") { text.removeFirst() }
        return text
    }
}
