import Foundation
import PlanCore
@testable import PlanStore
import Testing

@Suite struct SQLiteSchema {
    @Test func theSchemaKeepsOneCurrentSuccessPerStepEvenBypassingTheFence() async throws {
        let database = TemporaryDatabase()
        let store = try database.openSQLite()
        _ = try await store.enqueue([samplePlan(key: "k")])
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        try await job.beginStep("s0", attempt: 1)
        try await job.recordStep("s0", attempt: 1, outcome: .failure(ErrInfo(code: "x", message: "x", retryable: true)))
        try await job.beginStep("s0", attempt: 2)
        try await job.recordStep("s0", attempt: 2, outcome: .success("fresh"))
        #expect(throws: (any Error).self) {
            try store.read { try $0.query("UPDATE step_results SET outcome = 'ok', output = '\"stale\"' WHERE attempt = 1") }
        }
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE outcome = 'ok'") == "1")
        #expect(try store.stepRecord(jobID: job.jobID, stepKey: "s0") == StepRecord(output: "fresh", attempts: 2,
                                                                                     lastError: ErrInfo(code: "x", message: "x", retryable: true)))
    }

    @Test func dueQueuesAreTheUnpausedOnesWithDueJobs() async throws {
        let database = TemporaryDatabase()
        let store = try database.openSQLite()
        let now = Timestamp.now()
        _ = try await store.enqueue([samplePlan(key: "future", extra: #","delay":"1h""#), samplePlan(key: "paused", queue: "held"),
                                     samplePlan(key: "due")], now: now)
        try await store.setPaused(true, queue: "held")
        #expect(try store.dueQueues(now: now) == ["default"])
    }

    @Test func rowsAreReadByNameAndADamagedValueIsAStoreError() async throws {
        let database = TemporaryDatabase()
        let store = try database.openSQLite()
        let row = try store.read { try $0.query("SELECT 7 AS n, 'x' AS t, NULL AS missing")[0] }
        #expect(try row.int("n") == 7 && row.text("t") == "x" && row.optionalText("missing") == nil)
        #expect(throws: StoreError.self) { try row.int("missing") }
        #expect(throws: StoreError.self) { try row.int("t") }
        _ = try await store.enqueue([samplePlan(key: "k")])
        database.execute("PRAGMA ignore_check_constraints = ON; UPDATE jobs SET state = 'exploded'")
        await #expect(throws: StoreError.self) { try await store.list(state: nil, queue: nil, limit: 1) }
    }
}

@Suite struct HotPathsUseIndexes {
    static let hotQueries: [(String, String)] = [
        ("claim", """
            SELECT id FROM jobs WHERE state = 'pending' AND queue = ? AND run_at <= ?
            AND NOT EXISTS (SELECT 1 FROM queues WHERE name = ? AND paused = 1) ORDER BY priority, run_at, id LIMIT ?
            """),
        ("due queues", """
            SELECT name FROM queues q WHERE paused = 0
            AND EXISTS (SELECT 1 FROM jobs j INDEXED BY jobs_due WHERE j.state = 'pending' AND j.queue = q.name AND j.run_at <= ?)
            """),
        ("expire", "SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at <= ?"),
        ("step records", "SELECT step_id, outcome, output, error FROM step_results WHERE job_id = ? AND superseded = 0 ORDER BY step_id, attempt"),
        ("events", "SELECT at, kind, detail FROM job_events WHERE job_id = ? ORDER BY id"),
        ("prune", "SELECT id FROM jobs WHERE finished_at < ? AND state IN ('succeeded', 'failed', 'cancelled') LIMIT 1000"),
        ("by key", "SELECT id FROM jobs WHERE idempotency_key = ?"),
        ("pending count", "SELECT count(*) FROM jobs WHERE queue = ? AND state = 'pending'"),
        ("stats counts", SQLiteStore.countsByQueueAndState),
    ]

    /// An empty claim's look-up of the next job not yet due seeks each priority's first in
    /// `jobs_due`, instead of reading every pending job of the queue.
    @Test func theNextJobNotYetDueIsASeekPerPriority() throws {
        let store = try TemporaryDatabase().openSQLite()
        let plan = try store.queryPlan(Connection.nextRunAtSQL)
        #expect(plan.contains { $0.contains("SEARCH jobs USING INDEX jobs_due (queue=? AND priority=? AND run_at>?)") }, "\(plan)")
    }

    @Test(arguments: hotQueries)
    func usesAnIndex(name: String, sql: String) throws {
        let database = TemporaryDatabase()
        let store = try database.openSQLite()
        // With statistics of a finished history (and nothing pending), as a long-running store has them.
        try store.read { connection in
            try connection.execute("""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                INSERT INTO jobs (idempotency_key, queue, priority, state, run_at, created_at, updated_at, finished_at, plan)
                SELECT 'h' || i, 'default', i % 10, 'succeeded', 'x', 'x', 'x', 'x', '{}' FROM n;
                INSERT INTO step_results (job_id, step_id, attempt, outcome, started_at, lease_token) SELECT id, 'a', 1, 'ok', 'x', 1 FROM jobs;
                INSERT INTO queues (name) VALUES ('default');
                ANALYZE;
                """)
        }
        let plan = try store.queryPlan(sql)
        // Scanning `queues` (one row per queue) is fine; the tables that grow with history are not scanned.
        let scans = plan.filter { $0.hasPrefix("SCAN") && !$0.contains("INDEX") && $0 != "SCAN q" }
        #expect(scans.isEmpty, "\(name): \(plan)")
        #expect(plan.contains { $0.contains("INDEX") || $0.contains("PRIMARY KEY") }, "\(name): \(plan)")
    }
}
