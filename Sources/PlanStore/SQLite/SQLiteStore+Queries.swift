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

    public func list(_ filter: JobFilter, limit: Int) async throws(StoreError) -> [JobSummary] {
        try read { connection in
            try connection.query(
                """
                SELECT \(Self.summaryColumns) FROM jobs
                WHERE (?1 IS NULL OR state IN (SELECT value FROM json_each(?1))) AND (?2 IS NULL OR queue = ?2)
                    AND (?3 IS NULL OR substr(idempotency_key, 1, length(?3)) = ?3) AND (?4 IS NULL OR created_at < ?4)
                ORDER BY id DESC LIMIT ?5
                """,
                [filter.states.map { .json(.array($0.map { .string($0.rawValue) })) } ?? .null, filter.queue.map { .text($0) } ?? .null,
                 filter.keyPrefix.map { .text($0) } ?? .null, filter.createdBefore.map { .time($0) } ?? .null, .integer(Int64(limit))]
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
            guard let plan = try row.json("plan") else { throw StoreError.corruptValue("job \(id) has no plan") }
            let steps = try Self.steps(of: id, plan: plan, connection)
            let events = try connection.query("SELECT at, kind, detail FROM job_history WHERE job_id = ? ORDER BY event_id", [.integer(id)])
                .map { row in JobEvent(at: try row.text("at"), kind: try row.eventKind(), detail: try row.json("detail")) }
            return JobDetail(summary: try Self.summary(row), plan: plan, result: try row.json("result"),
                             error: try row.json("last_error"), steps: steps, events: events)
        }
    }

    /// The job's steps, as `StepSummary.summaries` tells where each stands.
    static func steps(of id: Int64, plan: JSONValue, _ connection: Connection) throws -> [StepSummary] {
        let executions = try connection.query(
            "SELECT step_id, outcome, output, error, started_at, finished_at, superseded FROM step_results WHERE job_id = ? ORDER BY id",
            [.integer(id)]
        ).map { row in
            StepExecution(key: try row.text("step_id"), superseded: try row.int("superseded") == 1, outcome: try row.optionalText("outcome"),
                          output: try row.json("output"), error: try row.json("error"), startedAt: try row.optionalText("started_at"),
                          finishedAt: try row.optionalText("finished_at"))
        }
        return try StepSummary.summaries(plan: plan, executions: executions)
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
            var oldest: [String: Timestamp] = [:]
            for row in try connection.query(
                "SELECT queue, min(run_at) AS oldest FROM jobs WHERE state = 'pending' AND run_at <= ? GROUP BY queue", [.time(now)]) {
                oldest[try row.text("queue")] = try row.time("oldest")
            }
            var queues: [QueueStats] = []
            for row in try connection.query("SELECT name, paused, max_pending, rate_limit, rate_period_ms FROM queues ORDER BY name") {
                let name = try row.text("name")
                var rate: QueueRate?, heldUntil: Timestamp?
                if let limit = try row.optionalInt("rate_limit"), let period = try row.optionalInt("rate_period_ms") {
                    rate = QueueRate(limit: Int(limit), period: PlanDuration(milliseconds: period))
                    // Starts within the last period (the window's own rows may be older: pruned only by claims).
                    let window = try connection.query(
                        "SELECT count(*) AS used, min(at) AS oldest FROM queue_starts WHERE queue = ? AND at > ?",
                        [.text(name), .time(Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - period))])[0]
                    if try window.int("used") >= limit, let oldest = try window.time("oldest") {
                        heldUntil = Timestamp(millisecondsSinceEpoch: oldest.millisecondsSinceEpoch + period)
                    }
                }
                queues.append(QueueStats(queue: name, paused: try row.int("paused") == 1, maxPending: try row.optionalInt("max_pending").map(Int.init),
                                         counts: counts[name] ?? [:], rate: rate, heldUntil: heldUntil,
                                         oldestDueSeconds: oldest[name].map { Double(now.millisecondsSinceEpoch - $0.millisecondsSinceEpoch) / 1000 }))
            }
            let finished = try connection.query(
                "SELECT count(*) AS jobs FROM jobs WHERE finished_at >= ?",
                [.time(Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - 60_000))])[0].int("jobs")
            return StoreStats(queues: queues, finishedLastMinute: Int(finished))
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
