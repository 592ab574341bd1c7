/// Making untrusted text (from feeds, files and requests) safe to echo: cut to a bounded
/// length in messages, and with control characters made visible on terminals.
public enum DisplayText {
    /// The longest value quoted inside an error message, in characters.
    public static let excerptLimit = 80
    /// The longest error message kept or shown, in characters (the location plus a few excerpts).
    public static let messageLimit = 1000

    /// `text` cut to `limit` characters with "…" and the length left out, for quoting a value
    /// from a feed or a request inside a message (a 200 KB field never makes a 200 KB message).
    public static func excerpt<S: StringProtocol>(_ text: S, limit: Int = excerptLimit) -> String {
        // Counting UTF-8 first keeps a huge value from being walked character by character.
        guard text.utf8.count > limit else { return String(text) }
        let whole = Substring(text)
        var kept = whole.prefix(limit)
        if kept.endIndex == whole.endIndex { return String(text) }
        while let last = kept.last, last.isNewline { kept = kept.dropLast() }
        let rest = text.utf8.count - kept.utf8.count
        return String(kept) + "…(\(rest) more bytes)"
    }

    /// A whole message bounded to `messageLimit` characters (its start, which says where and what, is kept).
    public static func message<S: StringProtocol>(_ text: S) -> String {
        excerpt(text, limit: messageLimit)
    }

    /// True for characters a terminal would act on rather than show: C0 controls (tab and
    /// newline included), DEL, C1 controls, and the bidirectional overrides, embeddings,
    /// isolates and marks that can reorder or hide what follows.
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// `text` for a terminal or a human-readable log line: every unsafe character written as
    /// an escape (`\e`, `\n`, `\t`, `\x07`, `\u{202E}`), everything else as it is. JSON and
    /// the alert log escape on their own and do not use this.
    public static func terminal<S: StringProtocol>(_ text: S) -> String {
        guard text.unicodeScalars.contains(where: isUnsafe) else { return String(text) }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            guard isUnsafe(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar.value {
            case 0x1B: out += "\\e"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x00...0x1F, 0x7F:
                out += "\\x" + hex(scalar.value, width: 2)
            default:
                out += "\\u{" + hex(scalar.value, width: 4) + "}"
            }
        }
        return out
    }

    /// Terminal (or spreadsheet) columns a string takes: East Asian wide and fullwidth
    /// characters take two.
    public static func width(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { width, scalar in
            let v = scalar.value
            if v < 0x300 { return width + 1 }  // Latin: no combining marks, no wide characters
            if scalar.properties.generalCategory == .nonspacingMark || v == 0x200B { return width }
            let wide =
                (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v)
                || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
                || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
                || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
            return width + (wide ? 2 : 1)
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
