import Migrations
import PlanCore

/// A migration as `planq migrate --status` reports it.
public struct MigrationStatus: Sendable, Hashable {
    public let version: Int
    public let name: String

    public init(version: Int, name: String, appliedAt: String?) {
        self.version = version
        self.name = name
        self.appliedAt = appliedAt
    }
    /// When it was applied, or `nil` when it is pending.
    public let appliedAt: String?
}

/// Applies the embedded `Migrations/` files in order, one transaction each, recording each with a
/// checksum in `schema_migrations`. A recorded migration whose text changed is refused.
package struct Migrator {
    let connection: Connection
    let files: [Migrations.File]

    static let bootstrap = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at TEXT NOT NULL
        ) STRICT
        """

    /// FNV-1a (64 bit) of the SQL text, in hex: enough to notice an edited file.
    package static func checksum(_ sql: String) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The recorded migrations, after checking none was edited and none is unknown to this binary.
    func verified() throws -> [Int: String] {
        try connection.execute(Self.bootstrap)
        var applied: [Int: String] = [:]
        for row in try connection.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version") {
            let version = Int(try row.int("version"))
            guard let file = files.first(where: { $0.version == version }) else {
                throw StoreError.migration("the database has migration \(version) (\(try row.text("name"))), which this planq does not know; it is newer than this binary")
            }
            let checksum = try row.text("checksum")
            guard Self.checksum(file.sql) == checksum else {
                throw StoreError.migration("migration \(file.name) was changed after it was applied (checksum \(checksum), file \(Self.checksum(file.sql))); restore the original file and add a new migration instead")
            }
            applied[version] = try row.text("applied_at")
        }
        return applied
    }

    /// Applies the pending migrations; returns the names applied.
    @discardableResult
    func migrate(now: Timestamp) throws -> [String] {
        let applied = try verified()
        var names: [String] = []
        for file in files where applied[file.version] == nil {
            try connection.writeTransaction {
                guard try connection.query("SELECT 1 FROM schema_migrations WHERE version = ?", [.integer(Int64(file.version))]).isEmpty
                else { return }
                try connection.execute(file.sql)
                try connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                    [.integer(Int64(file.version)), .text(file.name), .text(Self.checksum(file.sql)), .text(now.iso8601)])
                names.append(file.name)
            }
        }
        return names
    }

    func status() throws -> [MigrationStatus] {
        let applied = try verified()
        return files.map { MigrationStatus(version: $0.version, name: $0.name, appliedAt: applied[$0.version]) }
    }
}
