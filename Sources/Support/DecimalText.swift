import Foundation

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
