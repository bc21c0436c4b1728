import CSQLite
@testable import PlanStore
import Testing

@Suite struct SQLiteLibrary {
    /// The store relies on `RETURNING` (3.35), `STRICT` tables (3.37) and `->>` (3.38).
    @Test func isRecentEnough() {
        #expect(sqlite3_libversion_number() >= 3_038_000, "libsqlite3 \(String(cString: sqlite3_libversion())) is older than 3.38")
        #expect(sqlite3_threadsafe() != 0)
    }
}

@Suite struct SQLiteVersionCheck {
    @Test func aLibraryOlderThan3_38IsRefusedNamingBothVersions() {
        let problem = Versions.sqliteProblem(version: "3.37.2", number: 3_037_002)
        #expect(problem?.contains("3.37.2") == true && problem?.contains("3.38.0") == true, "\(problem ?? "nil")")
        #expect(Versions.sqliteProblem(version: "3.38.0", number: 3_038_000) == nil)
        #expect(Versions.loadedSQLiteProblem == nil, "this machine's library serves")
        #expect(StoreError.sqliteTooOld(problem!).isFault, "exits 69, as a database that cannot be opened")
    }
}
