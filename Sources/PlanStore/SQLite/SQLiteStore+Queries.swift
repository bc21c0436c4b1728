import PlanCore

extension SQLiteStore {
    static let summaryColumns = """
        id, idempotency_key, queue, priority, state, runs, run_at, created_at, finished_at, last_error ->> '$.code' AS error_code
        """

    static func summary(_ row: Row) throws(StoreError) -> JobSummary {
        JobSummary(id: try row.int("id"), idempotencyKey: try row.text("idempotency_key"), queue: try row.text("queue"),
                   priority: Int(try row.int("priority")), state: try row.state(), runs: Int(try row.int("runs")),
                   runAt: try row.text("run_at"), createdAt: try row.text("created_at"), finishedAt: try row.optionalText("finished_at"),
                   errorCode: try row.optionalText("error_code").map(ErrorCode.init(rawValue:)))
    }

    public func list(state: JobState?, queue: String?, limit: Int) async throws(StoreError) -> [JobSummary] {
        try read { connection in
            try connection.query(
                """
                SELECT \(Self.summaryColumns) FROM jobs
                WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR queue = ?2) ORDER BY id DESC LIMIT ?3
                """,
                [state.map { .text($0.rawValue) } ?? .null, queue.map { .text($0) } ?? .null, .integer(Int64(limit))]
            ).map(Self.summary)
        }
    }

    public func state(of reference: JobReference) async throws(StoreError) -> JobState {
        try read { connection in try resolve(reference, connection).state }
    }

    public func detail(_ reference: JobReference) async throws(StoreError) -> JobDetail {
        try read { connection in
            let id = try resolve(reference, connection).id
            let row = try connection.query("SELECT \(Self.summaryColumns), plan, result, last_error FROM jobs WHERE id = ?", [.integer(id)])[0]
            var steps: [StepSummary] = []
            for step in try connection.query(
                """
                SELECT step_id, count(*) AS executions, max(attempt) AS last_attempt,
                    (SELECT output FROM step_results o WHERE o.job_id = s.job_id AND o.step_id = s.step_id AND o.outcome = 'ok' AND o.superseded = 0) AS output
                FROM step_results s WHERE job_id = ? AND superseded = 0 GROUP BY step_id ORDER BY min(id)
                """, [.integer(id)])
            {
                let stepID = try step.text("step_id")
                let last = try connection.query(
                    "SELECT outcome, error FROM step_results WHERE job_id = ? AND step_id = ? AND attempt = ? AND superseded = 0",
                    [.integer(id), .text(stepID), .integer(try step.int("last_attempt"))])[0]
                let outcome = try last.optionalText("outcome").map { text in
                    guard let outcome = StepOutcome(rawValue: text) else { throw StoreError.corruptValue("step outcome \(text.quoted)") }
                    return outcome
                }
                steps.append(StepSummary(id: stepID, outcome: outcome, attempts: Int(try step.int("executions")),
                                         output: try step.json("output"), error: try last.json("error")))
            }
            let events = try connection.query("SELECT at, kind, detail FROM job_history WHERE job_id = ? ORDER BY event_id", [.integer(id)])
                .map { row in JobEvent(at: try row.text("at"), kind: try row.eventKind(), detail: try row.json("detail")) }
            guard let plan = try row.json("plan") else { throw StoreError.corruptValue("job \(id) has no plan") }
            return JobDetail(summary: try Self.summary(row), plan: plan, result: try row.json("result"),
                             error: try row.json("last_error"), steps: steps, events: events)
        }
    }

    /// Counts by queue and state, each part read from the partial index of its states alone.
    static let countsByQueueAndState = """
        SELECT queue, 'pending' AS state, count(*) AS jobs FROM jobs WHERE state = 'pending' GROUP BY queue
        UNION ALL SELECT queue, 'running', count(*) FROM jobs WHERE state = 'running' GROUP BY queue
        UNION ALL SELECT queue, state, count(*) FROM jobs
            WHERE finished_at IS NOT NULL AND state IN ('succeeded', 'failed', 'cancelled') GROUP BY queue, state
        """

    public func stats(now: Timestamp) async throws(StoreError) -> StoreStats {
        try read { connection in
            var counts: [String: [JobState: Int]] = [:]
            for row in try connection.query(Self.countsByQueueAndState) {
                counts[try row.text("queue"), default: [:]][try row.state()] = Int(try row.int("jobs"))
            }
            var queues: [QueueStats] = []
            for row in try connection.query("SELECT name, paused, max_pending FROM queues ORDER BY name") {
                let name = try row.text("name")
                queues.append(QueueStats(queue: name, paused: try row.int("paused") == 1, maxPending: try row.optionalInt("max_pending").map(Int.init),
                                         counts: counts[name] ?? [:]))
            }
            let oldest = try connection.query(
                "SELECT min(run_at) AS oldest FROM jobs WHERE state = 'pending' AND run_at <= ?", [.time(now)])[0].time("oldest")
            let finished = try connection.query(
                "SELECT count(*) AS jobs FROM jobs WHERE finished_at >= ?",
                [.time(Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - 60_000))])[0].int("jobs")
            return StoreStats(
                queues: queues, oldestPendingSeconds: oldest.map { Double(now.millisecondsSinceEpoch - $0.millisecondsSinceEpoch) / 1000 },
                finishedLastMinute: Int(finished))
        }
    }

    public func capabilities() async throws(StoreError) -> [RegisteredCapability] {
        try read { connection in
            try connection.query("SELECT name, worker, registered_at FROM capabilities ORDER BY name").map { row in
                RegisteredCapability(name: try row.text("name"), worker: try row.text("worker"), registeredAt: try row.text("registered_at"))
            }
        }
    }

    /// `EXPLAIN QUERY PLAN` of `sql`: the detail column of each row, for checking index use.
    func queryPlan(_ sql: String) throws(StoreError) -> [String] {
        try read { connection in try connection.query("EXPLAIN QUERY PLAN " + sql).map { try $0.optionalText("detail") ?? "" } }
    }
}
