/// One CSV record: its fields and the line it starts on.
public struct CSVRecord: Sendable, Equatable {
    public var fields: [String]
    /// 1-based line number of the record's first character.
    public var line: Int
}

/// An RFC 4180 CSV reader over UTF-8 bytes: quoted fields with `""` escapes, embedded
/// separators and newlines, LF or CRLF line ends. Blank lines are skipped.
public struct CSVReader: Sequence, IteratorProtocol {
    private let bytes: [UInt8]
    private let separator: UInt8
    private var index = 0
    private var line = 1
    /// The first malformed record stops the reader and is kept here.
    public private(set) var error: FeedParseError?

    public init(_ bytes: [UInt8], separator: UInt8 = UInt8(ascii: ",")) {
        self.bytes = bytes
        self.separator = separator
    }

    /// The next record, nil at the end or after an error (see `error`).
    public mutating func next() -> CSVRecord? {
        guard error == nil else { return nil }
        while index < bytes.count {
            // Skip blank lines.
            if bytes[index] == 0x0A { index += 1; line += 1; continue }
            if bytes[index] == 0x0D, index + 1 < bytes.count, bytes[index + 1] == 0x0A { index += 2; line += 1; continue }
            break
        }
        guard index < bytes.count else { return nil }
        let startLine = line
        var fields: [String] = []
        var field: [UInt8] = []
        while true {
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                // Quoted field.
                let quoteLine = line, quoteColumn = fields.count + 1
                index += 1
                var closed = false
                while index < bytes.count {
                    let b = bytes[index]
                    if b == UInt8(ascii: "\"") {
                        if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                            field.append(b)
                            index += 2
                            continue
                        }
                        index += 1
                        closed = true
                        break
                    }
                    if b == 0x0A { line += 1 }
                    field.append(b)
                    index += 1
                }
                guard closed else {
                    error = FeedParseError("unterminated quoted field (a '\"' opened here is never closed)",
                                           line: quoteLine, column: quoteColumn)
                    return nil
                }
                if index < bytes.count, bytes[index] != separator, bytes[index] != 0x0A, bytes[index] != 0x0D {
                    error = FeedParseError("unexpected text after a closing quote (quote the whole field and double inner quotes)",
                                           line: line, column: fields.count + 1)
                    return nil
                }
            } else {
                while index < bytes.count, bytes[index] != separator, bytes[index] != 0x0A {
                    if bytes[index] == 0x0D, index + 1 < bytes.count, bytes[index + 1] == 0x0A { break }
                    field.append(bytes[index])
                    index += 1
                }
            }
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            if index < bytes.count, bytes[index] == separator {
                index += 1
                continue
            }
            // End of record.
            if index < bytes.count, bytes[index] == 0x0D { index += 1 }
            if index < bytes.count, bytes[index] == 0x0A { index += 1; line += 1 }
            return CSVRecord(fields: fields, line: startLine)
        }
    }
}
