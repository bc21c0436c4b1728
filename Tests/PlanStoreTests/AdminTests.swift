import Foundation
import PlanCore
@testable import PlanStore
import Testing

/// Runs job `id` of `store` through its steps with the given outcomes, then ends it.
private func run(_ store: JobStore, steps: [(String, Result<JSONValue, ErrInfo>)], end: RunOutcome) async throws -> Int64 {
    let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
    for (key, outcome) in steps {
        let attempt = try store.stepRecord(jobID: job.id, stepKey: key).attempts + 1
        try await store.beginStep(jobID: job.id, token: job.token, stepKey: key, attempt: attempt)
        try await store.finishStep(jobID: job.id, token: job.token, stepKey: key, attempt: attempt, outcome: outcome)
    }
    try await store.finish(jobID: job.id, token: job.token, end)
    return job.id
}

private let boom = ErrInfo(code: "boom", message: "no", retryable: false)

@Suite struct Administration {
    @Test func cancelFollowsTheStateRules() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue([samplePlan(key: "a"), samplePlan(key: "b")])
        #expect(try store.cancel(.key("a")) == .cancelled)
        #expect(try store.cancel(.key("a")) == .alreadyCancelled)
        let id = try await run(store, steps: [("s0", .success(1))], end: .succeeded(1))
        #expect { try store.cancel(.id(id)) } throws: { if case StoreError.wrongState = $0 { true } else { false } }
        #expect(database.scalar("SELECT state FROM jobs WHERE id = \(id)") == "succeeded")
        #expect { try store.cancel(.id(99)) } throws: { if case StoreError.jobNotFound = $0 { true } else { false } }
    }

    @Test func retryReplaysSuccessesAndRestoresTheAttemptBudget() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue([samplePlan(key: "k", steps: 3)])
        let id = try await run(store, steps: [("s0", .success("zero")), ("s1", .failure(boom))], end: .failed(boom))
        #expect(try store.retry(.id(id)) == id)
        #expect(database.scalar("SELECT state FROM jobs") == "pending")
        #expect(try store.stepRecord(jobID: id, stepKey: "s0") == StepRecord(output: "zero", attempts: 1))
        #expect(try store.stepRecord(jobID: id, stepKey: "s1") == StepRecord(attempts: 0))
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE superseded = 1") == "1")
        #expect(database.scalar("SELECT kind FROM job_events ORDER BY id DESC LIMIT 1") == "retried")
    }

    @Test func retryFromAStepRunsItAndEveryLaterStepAgain() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue([samplePlan(key: "k", steps: 3)])
        let id = try await run(store, steps: [("s0", .success(0)), ("s1[0]", .success(10)), ("s1", .success([10])), ("s2", .failure(boom))],
                         end: .failed(boom))
        _ = try store.retry(.id(id), fromStep: "s1")
        #expect(try store.stepRecord(jobID: id, stepKey: "s0").output == 0)
        #expect(try store.stepRecord(jobID: id, stepKey: "s1").output == nil)
        #expect(try store.stepRecord(jobID: id, stepKey: "s1[0]").output == nil)
        #expect(database.scalar("SELECT count(*) FROM step_results") == "4", "old rows stay for history")
        #expect(database.scalar("SELECT detail ->> '$.from' FROM job_events WHERE kind = 'retried'") == "s1")
    }

    @Test func retryRefusesJobsThatAreNotFailedOrCancelledAndUnknownSteps() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue([samplePlan(key: "k")])
        #expect { try store.retry(.key("k")) } throws: { if case StoreError.wrongState = $0 { true } else { false } }
        _ = try store.cancel(.key("k"))
        #expect { try store.retry(.key("k"), fromStep: "nope") } throws: { if case StoreError.unknownStep("nope") = $0 { true } else { false } }
        #expect(database.scalar("SELECT state FROM jobs") == "cancelled")
    }

    @Test func pruneRemovesOldFinishedJobsWithTheirRowsAndNothingElse() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue((0..<5).map { samplePlan(key: "k\($0)") })
        let old = try await run(store, steps: [("s0", .success(1))], end: .succeeded(1))
        let recent = try await run(store, steps: [("s0", .failure(boom))], end: .failed(boom))
        _ = try store.cancel(.key("k2"))
        _ = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))
        database.execute("UPDATE jobs SET finished_at = '2020-01-01T00:00:00.000Z' WHERE id IN (\(old), 3)")
        #expect(try store.prune(finishedBefore: Timestamp(rfc3339: "2021-01-01T00:00:00Z")!) == 2)
        #expect(database.scalar("SELECT group_concat(id) FROM (SELECT id FROM jobs ORDER BY id)") == "\(recent),4,5")
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE job_id NOT IN (SELECT id FROM jobs)") == "0")
        #expect(database.scalar("SELECT count(*) FROM job_events WHERE job_id NOT IN (SELECT id FROM jobs)") == "0")
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE job_id = \(recent)") == "1")
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
        ("stats counts", JobStore.countsByQueueAndState),
    ]

    @Test(arguments: hotQueries)
    func usesAnIndex(name: String, sql: String) throws {
        let database = TemporaryDatabase()
        let store = try database.open()
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
