import CSQLite

/// A failed SQLite call: the extended result code, SQLite's message and the SQL (never the bound values).
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended result code (`SQLITE_BUSY_SNAPSHOT`, `SQLITE_CONSTRAINT_UNIQUE`, ...).
    public let code: Int32
    public let message: String
    public let sql: String?

    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, ...).
    public var primaryCode: Int32 { code & 0xFF }

    /// Whether the database was locked past the busy timeout.
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    /// A fault of the database or the machine rather than of a statement: busy or locked, full,
    /// read-only, an I/O error, a damaged or foreign file, a file that cannot be opened.
    public var isFault: Bool {
        isBusy || [SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_CANTOPEN, SQLITE_PROTOCOL, SQLITE_NOMEM]
            .contains(primaryCode)
    }

    /// The class of the error as `StoreError.kind` names it.
    var kind: String {
        switch primaryCode {
        case _ where isBusy: "busy"
        case SQLITE_FULL: "full"
        case SQLITE_READONLY: "read_only"
        case SQLITE_IOERR: "io"
        case SQLITE_CORRUPT, SQLITE_NOTADB: "corrupt"
        case SQLITE_CANTOPEN: "cant_open"
        default: "other"
        }
    }

    public var description: String {
        let name = String(cString: sqlite3_errstr(code))
        return "SQLite error \(code) (\(name)): \(message)" + (sql.map { " in: \($0)" } ?? "")
    }
}
