/// Builds a gzip member that inflates to `size` zero bytes, by hand (fixed-Huffman DEFLATE:
/// one literal zero, then back-references of length 258 at distance 1): 13 bits per 258 bytes.
/// The CRC is left zero: a client that stops at its size limit never reaches it.
public func gzipBombOfZeros(size: Int) -> [UInt8] {
    var out: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]
    var bitBuffer: UInt32 = 0
    var bitCount = 0
    func bits(_ value: UInt32, _ count: Int) {  // LSB first
        bitBuffer |= value << UInt32(bitCount)
        bitCount += count
        while bitCount >= 8 {
            out.append(UInt8(bitBuffer & 0xFF))
            bitBuffer >>= 8
            bitCount -= 8
        }
    }
    func huffman(_ code: UInt32, _ count: Int) {  // Huffman codes go MSB first
        var reversed: UInt32 = 0
        for i in 0..<count where code & (1 << UInt32(i)) != 0 { reversed |= 1 << UInt32(count - 1 - i) }
        bits(reversed, count)
    }
    bits(1, 1)  // final block
    bits(1, 2)  // fixed Huffman
    huffman(0b0011_0000, 8)  // literal 0
    var remaining = size - 1
    while remaining >= 258 {
        huffman(0b1100_0101, 8)  // length 258 (symbol 285)
        huffman(0, 5)  // distance 1
        remaining -= 258
    }
    for _ in 0..<remaining { huffman(0b0011_0000, 8) }
    huffman(0, 7)  // end of block (symbol 256)
    if bitCount > 0 { out.append(UInt8(bitBuffer & 0xFF)) }
    out += [0, 0, 0, 0]  // CRC32 (not checked before the size limit stops the client)
    let isize = UInt32(truncatingIfNeeded: size)
    out += [UInt8(isize & 0xFF), UInt8(isize >> 8 & 0xFF), UInt8(isize >> 16 & 0xFF), UInt8(isize >> 24)]
    return out
}
