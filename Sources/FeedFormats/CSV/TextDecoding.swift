import Foundation

/// Turns a feed body into validated UTF-8 bytes without a BOM.
public enum TextDecoding {
    /// - Throws: `FeedParseError` naming the line of the first invalid byte.
    public static func utf8(_ body: [UInt8], charset: Charset) throws(FeedParseError) -> [UInt8] {
        switch charset {
        case .utf8:
            var bytes = body
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
            if let bad = firstInvalidUTF8(bytes) {
                let line = bytes[0..<bad].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
                throw FeedParseError(
                    "invalid UTF-8 at byte \(bad + 1); if the file is GBK/GB18030, set charset = \"gb18030\" on the feed",
                    line: line)
            }
            return bytes
        case .gb18030:
            var bytes = body
            if bytes.starts(with: [0x84, 0x31, 0x95, 0x33]) { bytes.removeFirst(4) }  // GB18030 BOM
            guard let text = String(data: Data(bytes), encoding: String.Encoding(rawValue: 0x8000_0632)) else {
                throw FeedParseError("the body is not valid GB18030 text; check the feed's charset")
            }
            var utf8 = Array(text.utf8)
            if utf8.starts(with: [0xEF, 0xBB, 0xBF]) { utf8.removeFirst(3) }
            return utf8
        }
    }

    /// The offset of the first byte that is not part of well-formed UTF-8, or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            let length: Int
            var minimum: UInt32
            var code: UInt32
            switch b {
            case 0xC2...0xDF: length = 2; minimum = 0x80; code = UInt32(b & 0x1F)
            case 0xE0...0xEF: length = 3; minimum = 0x800; code = UInt32(b & 0x0F)
            case 0xF0...0xF4: length = 4; minimum = 0x10000; code = UInt32(b & 0x07)
            default: return i
            }
            guard i + length <= n else { return i }
            for k in 1..<length {
                let c = bytes[i + k]
                guard c & 0xC0 == 0x80 else { return i }
                code = code << 6 | UInt32(c & 0x3F)
            }
            if code < minimum || code > 0x10FFFF || (0xD800...0xDFFF).contains(code) { return i }
            i += length
        }
        return nil
    }
}
