import CCrypto

/// SHA-256, to recognise a body that did not change even when the server sends no
/// validators. Computed by the system's libcrypto (linked through pkg-config, the OpenSSL
/// libcurl already uses), which runs the CPU's SHA extensions: a 40 MB body in about 0.1 s.
public struct SHA256: Sendable {
    private var hash = plansync_sha256()

    public init() { plansync_sha256_init(&hash) }

    /// Adds bytes to the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        plansync_sha256_update(&hash, bytes.baseAddress, bytes.count)
    }

    /// Adds bytes to the hash.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest as 64 lower-case hex digits (the hash cannot be updated afterwards).
    public mutating func finalizeHex() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { plansync_sha256_final(&hash, $0.baseAddress) }
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// HMAC-SHA256 of `message` keyed with `key` (webhook signatures), as raw bytes.
    public static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                mac.withUnsafeMutableBufferPointer { plansync_hmac_sha256(k.baseAddress, k.count, m.baseAddress, m.count, $0.baseAddress) }
            }
        }
        return mac
    }

    /// Lower-case hex digits of `bytes`.
    public static func hexDigits(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The digest of `bytes`, as hex.
    public static func hex(_ bytes: [UInt8]) -> String {
        var hash = SHA256()
        hash.update(bytes)
        return hash.finalizeHex()
    }
}
