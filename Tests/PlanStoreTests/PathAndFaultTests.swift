import CSQLite
import Foundation
import Glibc
import PlanCore
@testable import PlanStore
import Testing

/// What `--db` may name, databases left half-made, values that do not read back, and pruning.
@Suite(.timeLimit(.minutes(2))) struct PathsAndFaults {
    @Test(arguments: [true, false])
    func aDeviceIsRefusedAndNeverChmodded(create: Bool) throws {
        var before = stat()
        stat("/dev/null", &before)
        #expect(throws: StoreError.self) { try SQLiteStore(StoreOptions(path: "/dev/null", create: create)) }
        var after = stat()
        stat("/dev/null", &after)
        #expect(after.st_mode == before.st_mode)
        do {
            _ = try SQLiteStore(StoreOptions(path: "/dev/null", create: create))
        } catch {
            #expect(error.isFault)
            #expect(error.description.contains("character device"))
        }
    }

    @Test func aFIFOOrADirectoryIsRefusedWithoutBlocking() async throws {
        let database = TemporaryDatabase()
        let fifo = database.folder.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        for path in [fifo, database.folder.path] {
            for create in [true, false] {
                #expect(throws: StoreError.self) { try SQLiteStore(StoreOptions(path: path, create: create)) }
            }
        }
    }

    @Test func aSymlinkToADatabaseIsFine() async throws {
        let database = TemporaryDatabase()
        _ = try database.openSQLite()
        let link = database.folder.appendingPathComponent("link.db").path
        #expect(symlink(database.path, link) == 0)
        _ = try SQLiteStore(StoreOptions(path: link, create: false))
    }

    @Test(arguments: ["", "PRAGMA user_version = 1", "PRAGMA journal_mode = WAL; CREATE TABLE schema_migrations (x)"])
    func aHalfCreatedDatabaseIsRefusedByReadersAndFinishedByWriters(setup: String) async throws {
        let database = TemporaryDatabase()
        _ = FileManager.default.createFile(atPath: database.path, contents: nil)
        if !setup.isEmpty { database.execute(setup) }
        do {
            _ = try SQLiteStore(StoreOptions(path: database.path, create: false))
            Issue.record("a reader opened a database with no tables")
        } catch {
            guard case .notInitialized = error else {
                if setup.contains("schema_migrations") { return }  // a foreign table of that name: the writer refuses too, below
                Issue.record("\(error)")
                return
            }
        }
        if setup.contains("schema_migrations") { return }
        let store = try database.openSQLite()
        #expect(try await store.enqueue([samplePlan(key: "k")])[0].created)
        _ = try SQLiteStore(StoreOptions(path: database.path, create: false))
    }

    @Test func storedJSONThatDoesNotParseIsAStoreErrorNeverAString() async throws {
        let database = TemporaryDatabase()
        let store = try database.openSQLite()
        let id = try await store.enqueue([samplePlan(key: "k")])[0].id
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        try await job.beginStep("s0", attempt: 1)
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        database.execute("UPDATE step_results SET outcome = 'ok', output = '\(deep)' WHERE job_id = \(id)")
        #expect(throws: StoreError.self) { try store.stepRecord(jobID: id, stepKey: "s0") }
        await #expect(throws: StoreError.self) { try await store.detail(.id(id)) }
    }

    @Test func theCascadeOfAPruneIsAnIndexLookup() async throws {
        let database = TemporaryDatabase()
        _ = try database.openSQLite()
        var handle: OpaquePointer?
        sqlite3_open(database.path, &handle)
        defer { sqlite3_close(handle) }
        var statement: OpaquePointer?
        sqlite3_prepare_v2(handle, "EXPLAIN QUERY PLAN SELECT 1 FROM step_results WHERE job_id = 5", -1, &statement, nil)
        defer { sqlite3_finalize(statement) }
        var details: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW { details.append(String(cString: sqlite3_column_text(statement, 3))) }
        #expect(details == ["SEARCH step_results USING COVERING INDEX step_results_job (job_id=?)"])
    }

    @Test func pruneCountsOnADryRunAndDeletesInBatches() async throws {
        let database = TemporaryDatabase()
        let store = try database.openSQLite()
        let plans = (0..<450).map { samplePlan(key: "k\($0)", steps: 2) }
        _ = try await store.enqueue(plans)
        database.execute("""
            UPDATE jobs SET state = 'succeeded', finished_at = '2020-01-01T00:00:00.000Z';
            INSERT INTO step_results (job_id, step_id, attempt, outcome, output, started_at, finished_at, lease_token)
                SELECT id, 's0', 1, 'ok', '1', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z', 1 FROM jobs;
            """)
        _ = try await store.enqueue([samplePlan(key: "live")])
        let cutoff = Timestamp.now()
        let candidates = try await store.pruneCandidates(finishedBefore: cutoff)
        #expect(candidates.jobs == 450 && candidates.stepResults == 450 && candidates.events == 450)
        #expect(database.scalar("SELECT count(*) FROM jobs") == "451")
        #expect(try await store.prune(finishedBefore: cutoff, batch: 100) == 450)
        #expect(database.scalar("SELECT count(*) FROM jobs") == "1")
        #expect(database.scalar("SELECT count(*) FROM step_results") == "0")
        #expect(database.scalar("SELECT count(*) FROM job_events") == "1")
    }
}
