import CSQLite
import Migrations

/// What this binary is: its release, the schema it writes, and the SQLite library it runs on.
public enum Versions {
    /// planq's release.
    public static let planq = "0.15.0"

    /// The newest migration this binary carries: the schema version it writes.
    public static var schema: Int { Migrations.files.map(\.version).max() ?? 0 }

    /// The SQLite library loaded at run time (the system's `libsqlite3`), e.g. `3.45.1`.
    public static var sqlite: String { String(cString: sqlite3_libversion()) }

    /// The oldest SQLite planq runs on: its views use the `->>` operator (SQLite 3.38.0).
    public static let minimumSQLite = (text: "3.38.0", number: Int32(3_038_000))

    /// Why a library of version `number` (`sqlite3_libversion_number()`'s form, e.g. 3045001)
    /// cannot serve, or `nil` when it can.
    public static func sqliteProblem(version text: String, number: Int32) -> String? {
        guard number < minimumSQLite.number else { return nil }
        return "the SQLite library is \(text), older than \(minimumSQLite.text), the oldest planq runs on (its views use the ->> operator); install a newer libsqlite3"
    }

    /// The check against the library loaded now.
    static var loadedSQLiteProblem: String? { sqliteProblem(version: sqlite, number: sqlite3_libversion_number()) }
}
