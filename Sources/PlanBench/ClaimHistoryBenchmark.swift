import Glibc
import PlanCore
import PlanStore

/// Measures whether claiming slows down as finished history grows: claim+finish cycles per second
/// on a database without history, and on one holding `history` finished jobs (each with a step
/// result and three events), with the same pragmas as production.
struct ClaimHistoryBenchmark: Sendable {
    struct Figures: Sendable {
        let cyclesPerSecondEmpty: Double
        let cyclesPerSecondWithHistory: Double
        let historyJobs: Int
        /// `withHistory / empty`: 1 means history costs nothing.
        var ratio: Double { cyclesPerSecondWithHistory / cyclesPerSecondEmpty }
    }

    let folder: String
    let history: Int
    let cycles: Int
    let durability: Durability

    init(folder: String, history: Int, cycles: Int, durability: Durability) {
        self.folder = folder
        self.history = history
        self.cycles = cycles
        self.durability = durability
    }

    func run() async throws(StoreError) -> Figures {
        let empty = try await cyclesPerSecond(path: "\(folder)/claim-empty.db", history: 0)
        let full = try await cyclesPerSecond(path: "\(folder)/claim-history.db", history: history)
        return Figures(cyclesPerSecondEmpty: empty, cyclesPerSecondWithHistory: full, historyJobs: history)
    }

    private func cyclesPerSecond(path: String, history: Int) async throws(StoreError) -> Double {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        let store = try SQLiteStore(StoreOptions(path: path, create: true, durability: durability))
        try seedFinished(store, count: history)
        let plan = try? PlanDescription.decode(Array(#"{"version":1,"steps":[{"id":"a","call":"echo","input":{"n":1}}]}"#.utf8), newKey: { "" })
        var plans: [PlanDescription] = []
        for index in 0..<cycles {
            var copy = plan!
            copy.idempotencyKey = "bench-\(index)"
            plans.append(copy)
            if plans.count == 1000 || index == cycles - 1 {
                _ = try await store.enqueue(plans)
                plans.removeAll()
            }
        }
        return try await claimFinishCyclesPerSecond(store, count: cycles)
    }

    /// Writes `count` succeeded jobs with their rows, in one transaction.
    private func seedFinished(_ store: SQLiteStore, count: Int) throws(StoreError) {
        guard count > 0 else { return }
        let now = Timestamp.now().iso8601
        try store.write { connection in
            try connection.execute("""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(count))
                INSERT INTO jobs (idempotency_key, queue, priority, state, run_at, created_at, updated_at, finished_at, plan, result, runs)
                SELECT 'history-' || i, 'default', i % 10, 'succeeded', '\(now)', '\(now)', '\(now)', '\(now)',
                       '{"version":1,"steps":[{"id":"a","call":"echo","input":{"n":1}}]}', '{"n":1}', 1 FROM n;
                INSERT INTO step_results (job_id, step_id, attempt, outcome, output, started_at, finished_at, lease_token)
                SELECT id, 'a', 1, 'ok', '{"n":1}', '\(now)', '\(now)', 1 FROM jobs;
                INSERT INTO job_events (job_id, at, kind) SELECT id, '\(now)', 'enqueued' FROM jobs;
                INSERT INTO job_events (job_id, at, kind) SELECT id, '\(now)', 'claimed' FROM jobs;
                INSERT INTO job_events (job_id, at, kind) SELECT id, '\(now)', 'succeeded' FROM jobs;
                INSERT OR IGNORE INTO queues (name) VALUES ('default');
                """)
        }
        try store.read { try $0.execute("ANALYZE") }
    }
}

/// Claims and finishes up to `count` jobs of the `default` queue one at a time, one transaction
/// each; how many cycles per second that made.
func claimFinishCyclesPerSecond(_ store: some JobStore, count: Int) async throws(StoreError) -> Double {
    let owner = LeaseOwner.current()
    let clock = ContinuousClock()
    let started = clock.now
    for _ in 0..<count {
        guard let lease = try await store.claim([("default", 1)], owner: owner, lease: .seconds(60)).first else { break }
        try await lease.finish(.succeeded(["n": 1]))
    }
    return Double(count) / (clock.now - started).seconds
}
