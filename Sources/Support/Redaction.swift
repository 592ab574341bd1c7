import Foundation

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
    /// parameters (`token`, `key`, `apikey`, `password`, `secret`, `signature`, `sign`) masked.
    public static func url(_ text: String) -> String {
        // Nothing to hide without userinfo (@) or a query (?): the usual case, kept cheap.
        guard text.utf8.contains(where: { $0 == 0x40 || $0 == 0x3F }) else { return text }
        var result = text
        let bytes = Array(result.utf8)
        let schemeEnd =
            bytes.count < 3
            ? nil
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
        let secretNames = ["token", "key", "apikey", "api_key", "access_token", "password", "passwd", "secret", "signature", "sig", "sign", "auth"]
        let masked = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
            let name = pair[..<eq].lowercased()
            return secretNames.contains(name) ? "\(pair[..<eq])=***" : String(pair)
        }.joined(separator: "&")
        result.replaceSubrange(result.index(after: question)..<fragmentStart, with: masked)
        return result
    }
}
