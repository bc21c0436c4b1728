import Glibc
import PlanCore

/// Measures whether claiming slows down as finished history grows: claim+finish cycles per second
/// on a database without history, and on one holding `history` finished jobs (each with a step
/// result and three events), with the same pragmas as production.
public struct ClaimHistoryBenchmark: Sendable {
    public struct Figures: Sendable {
        public let cyclesPerSecondEmpty: Double
        public let cyclesPerSecondWithHistory: Double
        public let historyJobs: Int
        /// `withHistory / empty`: 1 means history costs nothing.
        public var ratio: Double { cyclesPerSecondWithHistory / cyclesPerSecondEmpty }
    }

    public let folder: String
    public let history: Int
    public let cycles: Int
    public let durability: Durability

    public init(folder: String, history: Int, cycles: Int, durability: Durability) {
        self.folder = folder
        self.history = history
        self.cycles = cycles
        self.durability = durability
    }

    public func run() async throws(StoreError) -> Figures {
        let empty = try await cyclesPerSecond(path: "\(folder)/claim-empty.db", history: 0)
        let full = try await cyclesPerSecond(path: "\(folder)/claim-history.db", history: history)
        return Figures(cyclesPerSecondEmpty: empty, cyclesPerSecondWithHistory: full, historyJobs: history)
    }

    private func cyclesPerSecond(path: String, history: Int) async throws(StoreError) -> Double {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        let store = try JobStore(StoreOptions(path: path, create: true, durability: durability))
        try seedFinished(store, count: history)
        let plan = try? PlanDescription.decode(Array(#"{"version":1,"steps":[{"id":"a","call":"echo","input":{"n":1}}]}"#.utf8), newKey: { "" })
        var plans: [PlanDescription] = []
        for index in 0..<cycles {
            var copy = plan!
            copy.idempotencyKey = "bench-\(index)"
            plans.append(copy)
            if plans.count == 1000 || index == cycles - 1 {
                _ = try store.enqueue(plans)
                plans.removeAll()
            }
        }
        return try await store.claimFinishCyclesPerSecond(count: cycles)
    }

    /// Writes `count` succeeded jobs with their rows, in one transaction.
    private func seedFinished(_ store: JobStore, count: Int) throws(StoreError) {
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

extension JobStore {
    /// Claims and finishes up to `count` jobs of the `default` queue one at a time, one transaction
    /// each; how many cycles per second that made.
    public func claimFinishCyclesPerSecond(count: Int) async throws(StoreError) -> Double {
        let owner = LeaseOwner.current()
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<count {
            guard let job = try await claim([("default", 1)], owner: owner, lease: .seconds(60)).first else { break }
            try await finish(jobID: job.id, token: job.token, .succeeded(["n": 1]))
        }
        return Double(count) / (clock.now - started).seconds
    }
}
