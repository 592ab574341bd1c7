import GRDB
import GRDBSQLite

/// A value bound straight through the SQLite C API.
enum SQLValue {
    case text(String?)
    case integer(Int64?)
    case real(Double?)
}

extension Database {
    /// Runs a cached statement with values bound through the SQLite C API. For the
    /// statements every feed runs on every cycle: GRDB's argument boxing was most of
    /// their cost (measured with perf on a 500-feed cycle).
    func runBound(_ sql: String, _ values: [SQLValue]) throws {
        let statement = try cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(statement)
        defer { sqlite3_reset(statement) }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case .text(let text?): sqlite3_bind_text(statement, index, text, -1, SQLITE_TRANSIENT_BINDING)
            case .integer(let number?): sqlite3_bind_int64(statement, index, number)
            case .real(let number?): sqlite3_bind_double(statement, index, number)
            case .text(nil), .integer(nil), .real(nil): sqlite3_bind_null(statement, index)
            }
        }
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqliteConnection)))
        }
    }
}

/// SQLITE_TRANSIENT: SQLite copies the bound text before the call returns.
let SQLITE_TRANSIENT_BINDING = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
