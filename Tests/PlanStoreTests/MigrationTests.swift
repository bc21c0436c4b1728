import Foundation
import Migrations
@testable import PlanStore
import Testing

@Suite struct MigrationsAndFiles {
    @Test func aNewDatabaseGetsEveryMigrationWithItsChecksum() async throws {
        let database = TemporaryDatabase()
        let store = try database.openSQLite()
        let status = try await store.migrationStatus()
        #expect(status.map(\.name) == Migrations.files.map(\.name))
        #expect(status.allSatisfy { $0.appliedAt != nil })
        #expect(database.scalar("SELECT checksum FROM schema_migrations WHERE version = 1") == Migrator.checksum(Migrations.files[0].sql))
        for table in ["jobs", "step_results", "job_events", "capabilities", "queues"] {
            #expect(database.scalar("SELECT sql FROM sqlite_schema WHERE name = '\(table)'")?.hasSuffix("STRICT") == true, "\(table) is STRICT")
        }
        #expect(database.scalar("PRAGMA journal_mode") == "wal")
    }

    @Test func reapplyingIsANoOp() async throws {
        let database = TemporaryDatabase()
        _ = try database.openSQLite()
        let applied = database.scalar("SELECT applied_at FROM schema_migrations")
        let again = try database.openSQLite()
        #expect(try await again.migrate() == [])
        #expect(database.scalar("SELECT count(*) FROM schema_migrations") == String(Migrations.files.count))
        #expect(database.scalar("SELECT applied_at FROM schema_migrations") == applied)
    }

    @Test func anEditedAppliedMigrationIsRefused() async throws {
        let database = TemporaryDatabase()
        _ = try database.openSQLite()
        database.execute("UPDATE schema_migrations SET checksum = '0000000000000000' WHERE version = 1")
        #expect {
            try database.openSQLite()
        } throws: { error in
            "\(error)".contains("migration 0001_init.sql was changed after it was applied")
        }
    }

    @Test func aMigrationThisBinaryDoesNotKnowIsRefused() async throws {
        let database = TemporaryDatabase()
        _ = try database.openSQLite()
        database.execute("INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 'x', '2030-01-01T00:00:00.000Z')")
        #expect { try database.openSQLite() } throws: { "\($0)".contains("newer than this binary") }
    }

    @Test func aMissingDatabaseIsNotCreatedByReaders() {
        let database = TemporaryDatabase()
        #expect { try SQLiteStore(StoreOptions(path: database.path, create: false)) } throws: {
            if case StoreError.databaseMissing = $0 { true } else { false }
        }
        #expect(!FileManager.default.fileExists(atPath: database.path))
    }

    /// The modes hold whatever the umask: a permissive one does not widen them, a strict one does
    /// not narrow the group's access (operators' umasks vary).
    @Test(arguments: [(false, 0o600, 0), (true, 0o660, 0o077)])
    func newFilesAreNeverReadableByOthers(groupWritable: Bool, mode: Int, mask: Int) async throws {
        let database = TemporaryDatabase()
        let previous = umask(mode_t(mask))
        defer { umask(previous) }
        let store = try database.open(groupWritable: groupWritable)
        _ = try await store.enqueue([samplePlan(key: "k")])
        for suffix in ["", "-wal", "-shm"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: database.path + suffix)
            #expect((attributes[.posixPermissions] as? Int) == mode, "planq.db\(suffix)")
        }
        withExtendedLifetime(store) {}
    }
}
