import GRDB
import GRDBSQLite

/// A value bound straight through the SQLite C API.
enum SQLValue {
    case text(String?)
    case integer(Int64?)
    case real(Double?)
}

/// The statements every feed or every row runs bind through the SQLite C API directly:
/// GRDB's argument boxing was most of their cost (perf, 500-feed cycles and 1M-row feeds).
enum DirectSQL {
    /// SQLITE_TRANSIENT: SQLite copies the bound text before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    static func bind(_ statement: OpaquePointer, _ index: Int32, _ text: String?) {
        guard var text else {
            sqlite3_bind_null(statement, index)
            return
        }
        // The UTF-8 bytes in place, with their length: passing the String as a C string
        // copied most (small) strings into a new array and made SQLite measure them again.
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else {
                sqlite3_bind_text(statement, index, "", 0, transient)
                return
            }
            UnsafeRawPointer(base).withMemoryRebound(to: CChar.self, capacity: bytes.count) { chars in
                _ = sqlite3_bind_text(statement, index, chars, Int32(bytes.count), transient)
            }
        }
    }

    static func bind(_ statement: OpaquePointer, _ index: Int32, _ value: SQLValue) {
        switch value {
        case .text(let text): bind(statement, index, text)
        case .integer(let number?): sqlite3_bind_int64(statement, index, number)
        case .real(let number?): sqlite3_bind_double(statement, index, number)
        case .integer(nil), .real(nil): sqlite3_bind_null(statement, index)
        }
    }

    /// A text column of the current row; nil for NULL.
    static func text(_ statement: OpaquePointer, _ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(statement, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// A text column's UTF-8 bytes in place (valid until the statement steps again); nil for NULL.
    static func bytes(_ statement: OpaquePointer, _ column: Int32) -> UnsafeBufferPointer<UInt8>? {
        guard let bytes = sqlite3_column_text(statement, column) else { return nil }
        return UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(statement, column)))
    }

    /// Steps `statement` once and resets it; a failure becomes a GRDB `DatabaseError`.
    static func step(_ statement: OpaquePointer, connection: OpaquePointer?) throws {
        let code = sqlite3_step(statement)
        defer { sqlite3_reset(statement) }
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw error(code, connection) }
    }

    /// A failed step's result code and the connection's message, as GRDB reports errors.
    static func error(_ code: Int32, _ connection: OpaquePointer?) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)))
    }
}

extension Database {
    /// Runs a cached statement with `values` bound through the SQLite C API (`DirectSQL`).
    func runBound(_ sql: String, _ values: [SQLValue]) throws {
        let statement = try cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(statement)
        for (offset, value) in values.enumerated() { DirectSQL.bind(statement, Int32(offset + 1), value) }
        try DirectSQL.step(statement, connection: sqliteConnection)
    }
}

extension Database {
    /// Steps every row of a cached statement through the SQLite C API: `bind` sets its
    /// parameters, `body` reads each row (with `DirectSQL.text` and `sqlite3_column_*`). For
    /// reads that run every cycle over every feed or observation, where GRDB's row decoding
    /// was most of the cost.
    func eachRow(_ sql: String, bind: (OpaquePointer) -> Void = { _ in }, _ body: (OpaquePointer) throws -> Void) throws {
        let statement = try cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(statement)
        defer { sqlite3_reset(statement) }
        bind(statement)
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw DirectSQL.error(code, sqliteConnection) }
            try body(statement)
        }
    }
}
