import CSQLite
@testable import PlanStore
import Testing

@Suite struct SQLiteLayer {
    @Test func bindsAndReadsEveryStorageClass() async throws {
        let database = TemporaryDatabase()
        let connection = try Connection(path: database.path, create: true, groupWritable: false, durability: .full, busyTimeoutMilliseconds: 100)
        try connection.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n ANY) STRICT")
        let text = "nul\u{0}inside, é and 😀"
        try connection.query("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [.integer(.min), .real(2.5), .text(text), .blob([0, 1, 255]), .null])
        let row = try connection.query("SELECT i, r, s, b, n FROM t")[0]
        #expect(row.values == [.integer(.min), .real(2.5), .text(text), .blob([0, 1, 255]), .null])
        try connection.query("INSERT INTO t (i, s) VALUES (2, ?), (3, ?)", [.text(""), .text("small")])
        #expect(try connection.query("SELECT s, typeof(s) FROM t WHERE i > 0 ORDER BY i").map(\.values)
            == [[.text(""), .text("text")], [.text("small"), .text("text")]], "an empty string is text, not NULL")
        #expect(try connection.statement("SELECT i FROM t") === connection.statement("SELECT i FROM t"), "statements are cached")
        #expect(try connection.query("PRAGMA synchronous")[0].int("synchronous") == 2, "FULL")
        #expect(try connection.query("PRAGMA foreign_keys")[0].int("foreign_keys") == 1)
    }

    @Test func normalDurabilityIsAnOptIn() async throws {
        let database = TemporaryDatabase()
        let connection = try Connection(path: database.path, create: true, groupWritable: false, durability: .normal, busyTimeoutMilliseconds: 100)
        #expect(try connection.query("PRAGMA synchronous")[0].int("synchronous") == 1, "NORMAL")
    }

    @Test func errorsKeepTheExtendedCodeAndTheSQLButNeverTheValues() async throws {
        let database = TemporaryDatabase()
        let connection = try Connection(path: database.path, create: true, groupWritable: false, durability: .full, busyTimeoutMilliseconds: 100)
        try connection.execute("CREATE TABLE t (k TEXT UNIQUE)")
        try connection.query("INSERT INTO t VALUES (?)", [.text("secret-token-1")])
        #expect {
            try connection.query("INSERT INTO t VALUES (?)", [.text("secret-token-1")])
        } throws: { error in
            guard let error = error as? SQLiteError else { return false }
            return error.code == SQLITE_CONSTRAINT | (8 << 8) /* SQLITE_CONSTRAINT_UNIQUE */ && error.primaryCode == SQLITE_CONSTRAINT
                && error.sql == "INSERT INTO t VALUES (?)" && !error.description.contains("secret-token-1")
        }
    }

    @Test func aLockHeldPastTheBusyTimeoutIsABusyError() async throws {
        let database = TemporaryDatabase()
        let holder = try Connection(path: database.path, create: true, groupWritable: false, durability: .full, busyTimeoutMilliseconds: 100)
        let waiter = try Connection(path: database.path, create: false, groupWritable: false, durability: .full, busyTimeoutMilliseconds: 100)
        try holder.execute("CREATE TABLE t (x)")
        try holder.execute("BEGIN IMMEDIATE")
        defer { try? holder.execute("ROLLBACK") }
        #expect { try waiter.writeTransaction { try waiter.query("INSERT INTO t VALUES (1)") } } throws: {
            ($0 as? SQLiteError)?.isBusy == true && StoreError.sqlite($0 as! SQLiteError).description.hasPrefix("the database stayed locked")
        }
    }
}
