import CSQLite
import PlanCore

let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// A value bound to or read from a statement.
package enum SQLValue: Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// A prepared statement; finalized when released. Not thread-safe: owned by one `Connection`.
final class Statement {
    let handle: OpaquePointer
    let sql: String
    private unowned let connection: Connection

    init(_ sql: String, connection: Connection) throws(SQLiteError) {
        var handle: OpaquePointer?
        let code = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard code == SQLITE_OK, let handle else { throw connection.error(code, sql: sql) }
        self.handle = handle
        self.sql = sql
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and binds `values` to its parameters, in order.
    func bind(_ values: [SQLValue]) throws(SQLiteError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32 = switch value {
            case .null: sqlite3_bind_null(handle, index)
            case .integer(let number): sqlite3_bind_int64(handle, index, number)
            case .real(let number): sqlite3_bind_double(handle, index, number)
            case .text(var text) where !text.isEmpty:
                // The string's own UTF-8 storage, copied once, by SQLite (no C string made first).
                text.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
                }
            case .text:
                sqlite3_bind_text(handle, index, "", 0, SQLITE_TRANSIENT)
            case .blob(let bytes):
                bytes.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
            }
            guard code == SQLITE_OK else { throw connection.error(code, sql: sql) }
        }
    }

    /// Steps once: `true` when a row is ready, `false` when done.
    func step() throws(SQLiteError) -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            sqlite3_reset(handle)
            throw connection.error(code, sql: sql)
        }
    }

    func column(_ index: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, index))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, index))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(handle, index))
            guard let bytes = sqlite3_column_text(handle, index) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, index))
            guard let bytes = sqlite3_column_blob(handle, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }

    var columnCount: Int32 { sqlite3_column_count(handle) }

    /// The names of the result columns (an `AS` alias where the query gives one).
    private(set) lazy var columnNames: [String] = (0..<columnCount).map { String(cString: sqlite3_column_name(handle, $0)) }
}

/// One result row, read by column name. A column the query does not return is a programming
/// error; a NULL or mistyped value where the schema promises one is a damaged database
/// (`StoreError.corruptValue`), never a crash.
package struct Row {
    let values: [SQLValue]
    /// The statement's column names, shared by its rows.
    let columns: [String]

    package subscript(_ name: String) -> SQLValue {
        guard let index = columns.firstIndex(of: name) else { preconditionFailure("the query returns no column \(name)") }
        return values[index]
    }

    /// The integer in column `name`, or `nil` when it is NULL.
    package func optionalInt(_ name: String) throws(StoreError) -> Int64? {
        switch self[name] {
        case .null: return nil
        case .integer(let value): return value
        default: throw .corruptValue("column \(name) holds \(self[name]), not an integer")
        }
    }

    /// The text in column `name`, or `nil` when it is NULL.
    package func optionalText(_ name: String) throws(StoreError) -> String? {
        switch self[name] {
        case .null: return nil
        case .text(let value): return value
        default: throw .corruptValue("column \(name) holds \(self[name]), not text")
        }
    }

    /// The integer in column `name`, which must not be NULL.
    package func int(_ name: String) throws(StoreError) -> Int64 {
        guard let value = try optionalInt(name) else { throw .corruptValue("column \(name) is NULL") }
        return value
    }

    /// The text in column `name`, which must not be NULL.
    package func text(_ name: String) throws(StoreError) -> String {
        guard let value = try optionalText(name) else { throw .corruptValue("column \(name) is NULL") }
        return value
    }

    /// The stored JSON in column `name`, or `nil` when it is NULL.
    package func json(_ name: String) throws(StoreError) -> JSONValue? {
        guard let text = try optionalText(name) else { return nil }
        return try JSONValue(stored: text)
    }

    /// The time in column `name`, or `nil` when it is NULL.
    package func time(_ name: String) throws(StoreError) -> Timestamp? {
        guard let text = try optionalText(name) else { return nil }
        guard let time = Timestamp(rfc3339: text) else { throw .corruptValue("column \(name) holds \(text.quoted), not a time") }
        return time
    }

    /// A `job_events.kind` column.
    package func eventKind(_ name: String = "kind") throws(StoreError) -> EventKind {
        let text = try text(name)
        guard let kind = EventKind(rawValue: text) else { throw .corruptValue("column \(name) holds \(text.quoted), not an event kind") }
        return kind
    }

    /// A `JobState` column.
    package func state(_ name: String = "state") throws(StoreError) -> JobState {
        let text = try text(name)
        guard let state = JobState(rawValue: text) else { throw .corruptValue("column \(name) holds \(text.quoted), not a job state") }
        return state
    }
}
