import Foundation

/// Durations as written in config files: `500ms`, `30s`, `5m`, `6h`, `1d` (also combined: `1h30m`).
public enum DurationText {
    /// Seconds for a duration text, or nil when it is not one.
    public static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604_800)]
        var rest = Substring(text.trimmingCharacters(in: " "))
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let number = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) && !(rest.hasPrefix("ms") && $0.0 == "m") }) else {
                return nil
            }
            rest = rest.dropFirst(unit.0.count)
            total += number * unit.1
        }
        return total
    }

    /// A short text for seconds, e.g. `6h`, `1m30s`, `250ms`.
    public static func format(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        var rest = Int(seconds.rounded())
        var text = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text.isEmpty ? "0s" : text
    }

    /// The allowed forms, for error messages.
    public static let help = "a duration like 500ms, 30s, 5m, 6h or 1d"
}

/// Byte sizes as written in config files: `65536`, `64KiB`, `64MiB`, `1GiB`, `10MB`.
public enum ByteSizeText {
    /// Bytes for a size text, or nil when it is not one.
    public static func bytes(_ text: String) -> Int? {
        let units: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000),
            ("GB", 1_000_000_000), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1), ("", 1),
        ]
        let trimmed = text.trimmingCharacters(in: " ")
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let suffix = trimmed.dropFirst(digits.count).trimmingCharacters(in: " ")
        guard let unit = units.first(where: { $0.0 == suffix }) else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: unit.1)
        return overflow ? nil : product
    }

    /// The allowed forms, for error messages.
    public static let help = "a size like 65536, 512KiB, 64MiB or 1GiB"
}

extension StringProtocol {
    func trimmingCharacters(in character: Character) -> String {
        var s = Substring(self)
        while s.first == character { s.removeFirst() }
        while s.last == character { s.removeLast() }
        return String(s)
    }
}

/// Removes secrets from URLs before they are logged or shown.
public enum Redaction {
    /// Free text (an error message) with credentials of any URL in it masked.
    /// (Every `scheme://userinfo@` becomes `scheme://***@`; a plain scan, no regular expression.)
    public static func text(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count >= 4 else { return text }
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
        func isSchemeByte(_ b: UInt8) -> Bool {
            (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) || b == 0x2B || b == 0x2E || b == 0x2D
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0, copied = 0
        while i + 3 <= bytes.count {
            guard bytes[i] == 0x3A, bytes[i + 1] == 0x2F, bytes[i + 2] == 0x2F else { i += 1; continue }
            // A scheme before "://": [A-Za-z0-9+.-]* containing a letter where it may start.
            var start = i
            while start > 0, isSchemeByte(bytes[start - 1]) { start -= 1 }
            let hasLetter = bytes[start..<i].contains { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
            let userStart = i + 3
            var end = userStart
            while end < bytes.count, bytes[end] != 0x2F, bytes[end] != 0x40, !isSpace(bytes[end]) { end += 1 }
            if hasLetter, end > userStart, end < bytes.count, bytes[end] == 0x40 {
                out += bytes[copied..<userStart]
                out += Array("***".utf8)
                copied = end
                i = end
            } else {
                i = userStart
            }
        }
        guard copied > 0 else { return text }
        out += bytes[copied...]
        return String(decoding: out, as: UTF8.self)
    }

    /// The URL with any `user:password@` replaced by `***@` and secret-looking query
    /// parameters (`token`, `key`, `apikey`, `password`, `secret`, `signature`) masked.
    public static func url(_ text: String) -> String {
        // Nothing to hide without userinfo (@) or a query (?): the usual case, kept cheap.
        guard text.utf8.contains(where: { $0 == 0x40 || $0 == 0x3F }) else { return text }
        var result = text
        let bytes = Array(result.utf8)
        let schemeEnd = bytes.count < 3 ? nil
            : (0...(bytes.count - 3)).first { bytes[$0] == 0x3A && bytes[$0 + 1] == 0x2F && bytes[$0 + 2] == 0x2F }
        if let schemeEnd {
            let authorityStart = result.utf8.index(result.utf8.startIndex, offsetBy: schemeEnd + 3)
            let authorityEnd = result[authorityStart...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? result.endIndex
            if let at = result[authorityStart..<authorityEnd].lastIndex(of: "@") {
                result.replaceSubrange(authorityStart...at, with: "***@")
            }
        }
        guard let question = result.firstIndex(of: "?") else { return result }
        let fragmentStart = result[question...].firstIndex(of: "#") ?? result.endIndex
        let query = result[result.index(after: question)..<fragmentStart]
        let secretNames = ["token", "key", "apikey", "api_key", "access_token", "password", "passwd", "secret", "signature", "sig", "auth"]
        let masked = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
            let name = pair[..<eq].lowercased()
            return secretNames.contains(name) ? "\(pair[..<eq])=***" : String(pair)
        }.joined(separator: "&")
        result.replaceSubrange(result.index(after: question)..<fragmentStart, with: masked)
        return result
    }
}

/// Fixed-point text for measured figures (durations, timestamps in metrics) without
/// Foundation's `String(format:)`, which is slow and pulls in locale machinery.
public enum DecimalText {
    /// `value` rounded half away from zero to `digits` decimals: `fixed(1.23456, digits: 3)` is `1.235`.
    public static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<max(0, digits) { scale *= 10 }
        let scaled = (abs(value) * scale).rounded(.toNearestOrAwayFromZero)
        guard scaled < 9.0e18 else { return String(value) }
        let units = UInt64(scaled)
        let divisor = UInt64(scale)
        var text = (value < 0 && units != 0 ? "-" : "") + String(units / divisor)
        if digits > 0 {
            let fraction = String(units % divisor)
            text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        return text
    }
}
