#if canImport(Glibc)
    import Glibc
#endif

/// Where a reader gets its bytes: the whole body at once, or a file in chunks.
public protocol ByteSource {
    /// Appends the next chunk to `buffer`; false when there is nothing more.
    mutating func read(into buffer: inout [UInt8]) -> Bool
}

/// A body already in memory.
public struct MemorySource: ByteSource {
    private var bytes: [UInt8]?
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public mutating func read(into buffer: inout [UInt8]) -> Bool {
        guard let bytes else { return false }
        if buffer.isEmpty { buffer = bytes } else { buffer += bytes }  // no copy of the whole body
        self.bytes = nil
        return true
    }
}

/// A file read in 1 MiB chunks, so memory stays flat however large the file is.
public final class FileSource: ByteSource {
    private let fd: Int32
    private var chunk = [UInt8](repeating: 0, count: 1 << 20)

    /// Opens `path` for reading; nil when it cannot be opened.
    public init?(path: String) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
    }

    deinit { close(fd) }

    public func read(into buffer: inout [UInt8]) -> Bool {
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }
}

/// One CSV record: its fields and the line it starts on.
public struct CSVRecord: Sendable, Equatable {
    public var fields: [String]
    /// 1-based line number of the record's first character.
    public var line: Int
}

/// An RFC 4180 CSV reader over UTF-8 bytes: quoted fields with `""` escapes, embedded
/// separators and newlines, LF or CRLF line ends, a leading UTF-8 BOM. Blank lines are
/// skipped. It holds only the record being read, so a file of any size streams through.
public struct CSVReader: Sequence, IteratorProtocol {
    private var source: any ByteSource
    private var buffer: [UInt8] = []
    private var index = 0
    private var exhausted = false
    private var line = 1
    private var started = false
    /// The field separator (`,` unless set, e.g. `;` for some SDMX-CSV).
    public var separator: UInt8
    /// The first malformed record stops the reader and is kept here.
    public private(set) var error: FeedParseError?

    public init(_ bytes: [UInt8], separator: UInt8 = UInt8(ascii: ",")) {
        self.init(source: MemorySource(bytes), separator: separator)
    }

    public init(source: any ByteSource, separator: UInt8 = UInt8(ascii: ",")) {
        self.source = source
        self.separator = separator
    }

    /// The byte `offset` ahead of the current one, reading more input when needed.
    private mutating func peek(_ offset: Int = 0) -> UInt8? {
        while index + offset >= buffer.count {
            guard !exhausted else { return nil }
            if index > 0 {
                buffer.removeFirst(index)
                index = 0
            }
            if !source.read(into: &buffer) { exhausted = true }
        }
        return buffer[index + offset]
    }

    /// The raw bytes of the first line (for separator detection), without consuming them.
    public mutating func firstLine() -> [UInt8] {
        var bytes: [UInt8] = []
        var offset = 0
        while let b = peek(offset), b != 0x0A, bytes.count < 1 << 16 {
            bytes.append(b)
            offset += 1
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        return bytes
    }

    /// The next record, nil at the end or after an error (see `error`).
    public mutating func next() -> CSVRecord? {
        guard error == nil else { return nil }
        if !started {
            started = true
            if peek(0) == 0xEF, peek(1) == 0xBB, peek(2) == 0xBF { index += 3 }
        }
        while let b = peek() {
            // Skip blank lines.
            if b == 0x0A { index += 1; line += 1; continue }
            if b == 0x0D, peek(1) == 0x0A { index += 2; line += 1; continue }
            break
        }
        guard peek() != nil else { return nil }
        let startLine = line
        var fields: [String] = []
        var field: [UInt8] = []
        while true {
            if peek() == UInt8(ascii: "\"") {
                // Quoted field.
                let quoteLine = line, quoteColumn = fields.count + 1
                index += 1
                var closed = false
                while let b = peek() {
                    if b == UInt8(ascii: "\"") {
                        if peek(1) == UInt8(ascii: "\"") {
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
                    error = FeedParseError(
                        "unterminated quoted field (a '\"' opened here is never closed)",
                        line: quoteLine, column: quoteColumn)
                    return nil
                }
                if let b = peek(), b != separator, b != 0x0A, b != 0x0D {
                    error = FeedParseError(
                        "unexpected text after a closing quote (quote the whole field and double inner quotes)",
                        line: line, column: fields.count + 1)
                    return nil
                }
            } else {
                while let b = peek(), b != separator, b != 0x0A {
                    if b == 0x0D, peek(1) == 0x0A { break }
                    field.append(b)
                    index += 1
                }
            }
            if field.contains(0) {
                // Stored whole but shown cut short by every C API (and sqlite3): refused.
                error = FeedParseError("NUL character in a field; text must not contain NUL bytes", line: line, column: fields.count + 1)
                return nil
            }
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            if peek() == separator {
                index += 1
                continue
            }
            // End of record.
            if peek() == 0x0D { index += 1 }
            if peek() == 0x0A { index += 1; line += 1 }
            return CSVRecord(fields: fields, line: startLine)
        }
    }
}
