import CSQLite
import Glibc

/// `synchronous` pragma: FULL (the default) makes every commit survive power loss; NORMAL in WAL
/// mode may lose the last commits on power loss (never on a process crash) and fsyncs less.
public enum Durability: String, Sendable, CaseIterable {
    case full, normal
}

/// One SQLite connection with its cached statements. Not thread-safe: one owner at a time.
package final class Connection {
    let handle: OpaquePointer
    private var statements: [String: Statement] = [:]
    /// The history positions handed out in the open write transaction.
    private var history = HistoryPositions()

    /// Opens `path`; with `create`, makes the file first (mode 0600, or 0660 when `groupWritable`).
    /// WAL, foreign keys, `busy_timeout`, and `synchronous` as `durability` says.
    package init(path: String, create: Bool, groupWritable: Bool, durability: Durability, busyTimeoutMilliseconds: Int32) throws(SQLiteError) {
        Self.configureLibrary
        if create && access(path, F_OK) != 0 { try Self.createFile(path, groupWritable: groupWritable) }
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw SQLiteError(code: code, message: "\(message): \(path)", sql: nil)
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        try enableWAL(waitingUpTo: busyTimeoutMilliseconds)
        try execute("PRAGMA foreign_keys = ON")
        try execute("PRAGMA synchronous = \(durability.rawValue.uppercased())")
    }

    /// Switches to WAL. On a new database two processes may race to do it, and SQLite answers the
    /// loser busy without calling the busy handler: try again until the busy timeout.
    private func enableWAL(waitingUpTo milliseconds: Int32) throws(SQLiteError) {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(milliseconds)
        var pause: UInt32 = 1_000
        while true {
            do {
                return try execute("PRAGMA journal_mode = WAL")
            } catch where error.isBusy && clock.now < deadline {
                usleep(pause)
                pause = min(pause * 2, 50_000)
            }
        }
    }

    /// Process-wide SQLite settings, made once before the first connection: no memory statistics
    /// (they cost a global mutex on every allocation — 8 % of the worker's writer thread).
    private static let configureLibrary: Void = { _ = planq_sqlite_disable_memstatus() }()

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    private static func createFile(_ path: String, groupWritable: Bool) throws(SQLiteError) {
        let mode: mode_t = groupWritable ? 0o660 : 0o600
        // Non-blocking: a FIFO put in the file's place fails here instead of blocking.
        let descriptor = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, mode)
        guard descriptor >= 0 else {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot create \(path): \(String(cString: strerror(errno)))", sql: nil)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "cannot create \(path): not a regular file", sql: nil)
        }
        if status.st_size == 0 { fchmod(descriptor, mode) }
    }

    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle) != 0 ? sqlite3_extended_errcode(handle) : code,
                    message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs SQL that returns no rows; may hold several statements.
    package func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        guard code == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: text, sql: sql)
        }
    }

    /// The cached prepared statement for `sql`.
    func statement(_ sql: String) throws(SQLiteError) -> Statement {
        if let cached = statements[sql] { return cached }
        let statement = try Statement(sql, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Runs `sql` with `values` and returns every row.
    @discardableResult
    package func query(_ sql: String, _ values: [SQLValue] = []) throws(SQLiteError) -> [Row] {
        let statement = try statement(sql)
        try statement.bind(values)
        defer { sqlite3_reset(statement.handle) }
        var rows: [Row] = []
        let count = statement.columnCount
        let names = statement.columnNames
        while try statement.step() {
            rows.append(Row(values: (0..<count).map(statement.column), columns: names))
        }
        return rows
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    package var changes: Int { Int(sqlite3_changes(handle)) }

    /// The rowid of the last row inserted on this connection.
    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back when it throws.
    package func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try begin()
        do {
            let value = try body()
            try commit()
            return value
        } catch {
            rollback()
            throw error
        }
    }

    /// Opens a write transaction (`BEGIN IMMEDIATE`). Transaction statements go through the
    /// statement cache too: parsing them costs as much as running them.
    func begin() throws(SQLiteError) {
        history = HistoryPositions()
        try query("BEGIN IMMEDIATE")
    }

    /// Commits the write transaction, with the history positions it handed out to steps.
    func commit() throws(SQLiteError) {
        defer { history = HistoryPositions() }
        if history.handedToSteps, let next = history.next {
            try query("UPDATE history_sequence SET last = ? WHERE id = 1", [.integer(next - 1)])
        }
        try query("COMMIT")
    }

    /// Rolls the write transaction back.
    func rollback() {
        history = HistoryPositions()
        _ = try? query("ROLLBACK")
    }

    /// The first of `count` new places in the history (`job_events.id`, `step_results.started_event`
    /// and `finished_event`), in order of the calls within a write transaction; `forSteps` when they
    /// go to `step_results`, whose positions the sequence then records at commit (the highest
    /// `job_events` id counts as handed out without it).
    func historyPositions(_ count: Int, forSteps: Bool) throws -> Int64 {
        let first: Int64
        if let next = history.next {
            first = next
        } else {
            first = try query(
                """
                SELECT max(coalesce((SELECT last FROM history_sequence WHERE id = 1), 0),
                           coalesce((SELECT max(id) FROM job_events), 0)) + 1 AS next
                """)[0].int("next")
        }
        history.next = first + Int64(count)
        if forSteps { history.handedToSteps = true }
        return first
    }
}

/// What a write transaction handed out of the history sequence.
private struct HistoryPositions {
    var next: Int64?
    var handedToSteps = false
}
