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
