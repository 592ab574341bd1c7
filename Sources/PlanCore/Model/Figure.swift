import Foundation

/// A decimal number as a statistics office publishes it: exact value plus the number
/// of decimals it was published with, so `3.0` prints as `3.0` and `-3.5` compares exactly.
public struct Figure: Sendable, Comparable, CustomStringConvertible {
    /// The exact decimal value.
    public let value: Decimal
    /// Decimals as published (or as rounded, for derived figures).
    public let scale: Int

    /// Parses a plain decimal (`-11.6`, `5515`, `+2.0`) or scientific (`1.5E3`) number.
    /// Returns nil for anything else (empty, `NaN`, `1,000`, `3.0%`).
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - start
        }
        if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D { index += 1 }
        let intDigits = digits()
        var fracDigits = 0
        if index < bytes.count, bytes[index] == 0x2E {
            index += 1
            fracDigits = digits()
            if fracDigits == 0 { return nil }
        }
        guard intDigits > 0 || fracDigits > 0 else { return nil }
        var exponent = 0
        if index < bytes.count, bytes[index] == 0x45 || bytes[index] == 0x65 {
            index += 1
            var negative = false
            if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D {
                negative = bytes[index] == 0x2D
                index += 1
            }
            let start = index
            guard digits() > 0, index - start <= 3,
                  let e = Int(String(decoding: bytes[start..<index], as: UTF8.self)) else { return nil }
            exponent = negative ? -e : e
        }
        guard index == bytes.count, intDigits + fracDigits <= 38,
              let value = Decimal(string: String(text), locale: Locale(identifier: "en_US_POSIX"))
        else { return nil }
        self.value = value
        self.scale = max(0, fracDigits - exponent)
    }

    /// A figure with `value` rounded half away from zero to `scale` decimals.
    public init(_ value: Decimal, scale: Int) {
        var input = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &input, scale, .plain)
        self.value = rounded
        self.scale = max(0, scale)
    }

    /// A whole number.
    public init(_ integer: Int) {
        self.value = Decimal(integer)
        self.scale = 0
    }

    /// The value printed with exactly `scale` decimals, e.g. `3.0`, `-11.6`, `5515`.
    public var description: String {
        var input = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &input, scale, .plain)
        if rounded.isZero { rounded = 0 }
        var text = "\(rounded)"
        if scale > 0 {
            if let dot = text.firstIndex(of: ".") {
                let have = text.distance(from: text.index(after: dot), to: text.endIndex)
                if have < scale { text += String(repeating: "0", count: scale - have) }
            } else {
                text += "." + String(repeating: "0", count: scale)
            }
        }
        return text
    }

    /// The value as a Double (for metrics and plotting only; never for judging).
    public var doubleValue: Double { NSDecimalNumber(decimal: value).doubleValue }

    /// True when the value is exactly zero.
    public var isZero: Bool { value.isZero }

    public static func == (lhs: Figure, rhs: Figure) -> Bool { lhs.value == rhs.value }
    public static func < (lhs: Figure, rhs: Figure) -> Bool { lhs.value < rhs.value }

    /// Difference, published at the finer of the two precisions.
    public static func - (lhs: Figure, rhs: Figure) -> Figure {
        Figure(lhs.value - rhs.value, scale: max(lhs.scale, rhs.scale))
    }

    /// The figure with its sign flipped.
    public static prefix func - (figure: Figure) -> Figure {
        Figure(-figure.value, scale: figure.scale)
    }

    /// Multiplies by an exact factor (a map's `scale`, `UNIT_MULT`); the result keeps enough
    /// decimals to stay exact up to 6 extra places.
    public func multiplied(by factor: Decimal, factorScale: Int) -> Figure {
        Figure(value * factor, scale: min(scale + factorScale, 12))
    }

    /// The larger of zero and this figure (a shortfall is never negative).
    public var clampedAtZero: Figure { value < 0 ? Figure(Decimal(0), scale: scale) : self }
}
