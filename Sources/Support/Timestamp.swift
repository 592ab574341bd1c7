import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Timestamps in the mirror and the alert log: RFC 3339 UTC, second precision.
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        var text: [UInt8] = []
        text.reserveCapacity(20)
        func digits(_ value: Int32, _ count: Int, then separator: UInt8) {
            var divisor: Int32 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                text.append(0x30 + UInt8(truncatingIfNeeded: (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
            text.append(separator)
        }
        digits(parts.tm_year + 1900, 4, then: 0x2D)
        digits(parts.tm_mon + 1, 2, then: 0x2D)
        digits(parts.tm_mday, 2, then: 0x54)
        digits(parts.tm_hour, 2, then: 0x3A)
        digits(parts.tm_min, 2, then: 0x3A)
        digits(parts.tm_sec, 2, then: 0x5A)
        return String(decoding: text, as: UTF8.self)
    }

    /// An RFC 3339 time with any offset (`Z`, `+08:00`), with or without fractional seconds
    /// (what users type: `--at`, `--as-of`, `?as_of=`); nil for anything else.
    public static func rfc3339(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let d = formatter.date(from: text) { return d }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    public static func date(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count == 20, u[4] == 0x2D, u[7] == 0x2D, u[10] == 0x54, u[13] == 0x3A, u[16] == 0x3A, u[19] == 0x5A else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for i in range {
                guard (0x30...0x39).contains(u[i]) else { return nil }
                value = value * 10 + Int32(u[i] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Date(timeIntervalSince1970: Double(timegm(&parts)))
    }
}
