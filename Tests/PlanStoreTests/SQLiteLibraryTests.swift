import CSQLite
import Testing

@Suite struct SQLiteLibrary {
    /// The store relies on `RETURNING` (3.35), `STRICT` tables (3.37) and `->>` (3.38).
    @Test func isRecentEnough() {
        #expect(sqlite3_libversion_number() >= 3_038_000, "libsqlite3 \(String(cString: sqlite3_libversion())) is older than 3.38")
        #expect(sqlite3_threadsafe() != 0)
    }
}
