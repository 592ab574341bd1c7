/// A JSON document that keeps object key order and numbers as their exact text,
/// so figures keep their published precision (`3.0` stays `3.0`).
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number as its JSON text.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
    /// JSON text plansync wrote itself (a stored alert log line or details), embedded as it
    /// is: never parsed back to be written out again.
    case raw(String)

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.raw(let a), .raw(let b)): a == b
        default: false
        }
    }

    /// An integer.
    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }
    /// A figure at its published precision.
    public static func figure(_ value: Figure) -> JSONValue { .number(value.description) }
    /// An optional string (null when nil).
    public static func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }

    /// The member of an object with this key.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }

    /// The string, when this is a string.
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    /// Compact text, one line, non-ASCII left as UTF-8.
    public var text: String {
        var out = JSONBytes()
        out.value(self)
        return out.text
    }
}

/// Compact JSON written straight into UTF-8 bytes: what `JSONValue.text` writes, and what
/// hot paths (a verdict per target per judgement) use without building a `JSONValue` first.
public struct JSONBytes: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// The bytes as a String.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends `text` as it is (JSON punctuation, numbers, text already JSON).
    public mutating func raw(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends one ASCII byte (`{`, `,`, ...).
    public mutating func byte(_ ascii: Unicode.Scalar) { bytes.append(UInt8(ascii: ascii)) }

    /// Appends `"key":`.
    public mutating func key(_ key: String) {
        string(key)
        bytes.append(0x3A)
    }

    /// Appends a quoted, escaped string.
    public mutating func string(_ s: String) {
        bytes.append(0x22)
        var s = s
        // Most strings need no escaping: append them whole. U+2028/U+2029 are E2 80 A8/A9.
        let plain = s.withUTF8 { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0xE2 }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if !plain {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": raw("\\\"")
                case "\\": raw("\\\\")
                case "\n": raw("\\n")
                case "\r": raw("\\r")
                case "\t": raw("\\t")
                case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                    let hex = String(scalar.value, radix: 16)
                    raw("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                default: bytes.append(contentsOf: UTF8.encode(scalar)!)
                }
            }
        }
        bytes.append(0x22)
    }

    /// Appends a string, or `null`.
    public mutating func optional(_ s: String?) {
        if let s { string(s) } else { raw("null") }
    }

    /// Appends any JSON value.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .raw(let text): raw(text)
        case .bool(let b): raw(b ? "true" : "false")
        case .number(let n): raw(n)
        case .string(let s): string(s)
        case .array(let items):
            byte("[")
            for (i, item) in items.enumerated() {
                if i > 0 { byte(",") }
                self.value(item)
            }
            byte("]")
        case .object(let members):
            byte("{")
            for (i, (name, member)) in members.enumerated() {
                if i > 0 { byte(",") }
                key(name)
                self.value(member)
            }
            byte("}")
        }
    }
}
