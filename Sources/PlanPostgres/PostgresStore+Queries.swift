import PlanCore
import PlanStore

extension PostgresStore {
    static let summaryColumns = """
        id, idempotency_key, queue, priority, state, runs, run_at, created_at, finished_at, last_error ->> 'code' AS error_code
        """

    static func summary(_ row: SQLRow) throws -> JobSummary {
        JobSummary(id: try row.int("id"), idempotencyKey: try row.text("idempotency_key"), queue: try row.text("queue"),
                   priority: Int(try row.int("priority")), state: try row.state(), runs: Int(try row.int("runs")),
                   runAt: try row.iso("run_at") ?? "", createdAt: try row.iso("created_at") ?? "", finishedAt: try row.iso("finished_at"),
                   errorCode: try row.optionalText("error_code").map(ErrorCode.init(rawValue:)))
    }

    public func list(_ filter: JobFilter, limit: Int) async throws(StoreError) -> [JobSummary] {
        try await read { transaction in
            try await transaction.query(
                """
                SELECT \(Self.summaryColumns) FROM jobs
                WHERE ($1::text[] IS NULL OR state = ANY($1)) AND ($2::text IS NULL OR queue = $2)
                    AND ($3::text IS NULL OR left(idempotency_key, length($3)) = $3) AND ($4::timestamptz IS NULL OR created_at < $4)
                ORDER BY id DESC LIMIT $5
                """,
                [filter.states.map { .texts($0.map(\.rawValue)) } ?? .null, .optionalText(filter.queue), .optionalText(filter.keyPrefix),
                 .optionalTime(filter.createdBefore), .int(Int64(limit))]
            ).map(Self.summary)
        }
    }

    public func state(of reference: JobReference) async throws(StoreError) -> JobState {
        try await read { transaction in try await self.resolve(reference, transaction).state }
    }

    public func detail(_ reference: JobReference) async throws(StoreError) -> JobDetail {
        // One snapshot: the job, its steps and its history as of one moment.
        try await commit { transaction in
            try await transaction.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            let id = try await self.resolve(reference, transaction).id
            let row = try await transaction.query("SELECT \(Self.summaryColumns), plan, result, last_error FROM jobs WHERE id = $1", [.int(id)])[0]
            guard let plan = try row.json("plan") else { throw StoreError.corruptValue("job \(id) has no plan") }
            let steps = try await Self.steps(of: id, plan: plan, transaction)
            let events = try await transaction.query("SELECT at, kind, detail FROM job_history WHERE job_id = $1 ORDER BY event_id", [.int(id)])
                .map { row in JobEvent(at: try row.iso("at") ?? "", kind: try row.eventKind(), detail: try row.json("detail")) }
            return JobDetail(summary: try Self.summary(row), plan: plan, result: try row.json("result"),
                             error: try row.json("last_error"), steps: steps, events: events)
        }
    }

    /// The job's steps, as `StepSummary.summaries` tells where each stands.
    static func steps(of id: Int64, plan: JSONValue, _ transaction: PostgresSession.Transaction) async throws -> [StepSummary] {
        let executions = try await transaction.query(
            "SELECT step_id, outcome, output, error, started_at, finished_at, superseded FROM step_results WHERE job_id = $1 ORDER BY id",
            [.int(id)]
        ).map { row in
            StepExecution(key: try row.text("step_id"), superseded: try row.int("superseded") == 1, outcome: try row.optionalText("outcome"),
                          output: try row.json("output"), error: try row.json("error"), startedAt: try row.iso("started_at"),
                          finishedAt: try row.iso("finished_at"))
        }
        return try StepSummary.summaries(plan: plan, executions: executions)
    }

    public func stats(now: Timestamp) async throws(StoreError) -> StoreStats {
        try await commit { transaction in
            try await transaction.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            var counts: [String: [JobState: Int]] = [:]
            for row in try await transaction.query("SELECT queue, state, count(*) AS jobs FROM jobs GROUP BY queue, state") {
                counts[try row.text("queue"), default: [:]][try row.state()] = Int(try row.int("jobs"))
            }
            var oldest: [String: Timestamp] = [:]
            for row in try await transaction.query(
                "SELECT queue, min(run_at) AS oldest FROM jobs WHERE state = 'pending' AND run_at <= $1 GROUP BY queue", [.time(now)]) {
                oldest[try row.text("queue")] = try row.time("oldest")
            }
            var queues: [QueueStats] = []
            for row in try await transaction.query("SELECT name, paused, max_pending, rate_limit, rate_period_ms FROM queues ORDER BY name") {
                let name = try row.text("name")
                var rate: QueueRate?, heldUntil: Timestamp?
                if let limit = try row.optionalInt("rate_limit"), let period = try row.optionalInt("rate_period_ms") {
                    rate = QueueRate(limit: Int(limit), period: PlanDuration(milliseconds: period))
                    let window = try await transaction.query(
                        "SELECT count(*) AS used, min(at) AS oldest FROM queue_starts WHERE queue = $1 AND at > $2",
                        [.text(name), .time(Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - period))])[0]
                    if try window.int("used") >= limit, let first = try window.time("oldest") {
                        heldUntil = Timestamp(millisecondsSinceEpoch: first.millisecondsSinceEpoch + period)
                    }
                }
                queues.append(QueueStats(queue: name, paused: try row.int("paused") == 1, maxPending: try row.optionalInt("max_pending").map(Int.init),
                                         counts: counts[name] ?? [:], rate: rate, heldUntil: heldUntil,
                                         oldestDueSeconds: oldest[name].map { Double(now.millisecondsSinceEpoch - $0.millisecondsSinceEpoch) / 1000 }))
            }
            let finished = try await transaction.query(
                "SELECT count(*) AS jobs FROM jobs WHERE finished_at >= $1",
                [.time(Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - 60_000))])[0].int("jobs")
            return StoreStats(queues: queues, finishedLastMinute: Int(finished))
        }
    }

    public func capabilities() async throws(StoreError) -> [RegisteredCapability] {
        try await read { transaction in
            try await transaction.query("SELECT name, worker, registered_at FROM capabilities ORDER BY name").map { row in
                RegisteredCapability(name: try row.text("name"), worker: try row.text("worker"), registeredAt: try row.iso("registered_at") ?? "")
            }
        }
    }

    /// Places may commit out of order here, so a reader follows the history by transaction: each
    /// read after a cursor takes the events of the transactions its snapshot sees and the
    /// cursor's did not, in place order.
    public func events(_ filter: EventFilter, after cursor: EventCursor?, limit: Int) async throws(StoreError) -> (events: [HistoryEvent], cursor: EventCursor) {
        try await commit { transaction in
            // One snapshot: the one the cursor names is the one the rows were read in.
            try await transaction.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            let snapshot = try await transaction.query("SELECT pg_current_snapshot()::text AS snapshot")[0].text("snapshot")
            let jobID = try await filter.job.asyncMap { try await self.resolve($0, transaction).id }
            // After a cursor: the rows its snapshot did not see and this one (or the snapshot of a
            // read cut short, then after its last place) does.
            let (seen, reading, after): (String?, String, Int64) = switch cursor {
            case nil: (nil, snapshot, 0)
            case let cursor? where !cursor.readingSnapshot.isEmpty: (cursor.seenSnapshot, cursor.readingSnapshot, cursor.lastEventID)
            case let cursor?: (cursor.seenSnapshot, snapshot, 0)
            }
            let rows = try await transaction.query(
                """
                WITH written AS (
                    SELECT job_id, id AS place, txid FROM job_events WHERE txid >= pg_snapshot_xmin($4::pg_snapshot)
                    UNION ALL
                    SELECT job_id, started_event, started_txid FROM step_results
                    WHERE coalesce(finished_txid, started_txid) >= pg_snapshot_xmin($4::pg_snapshot) AND started_event IS NOT NULL
                    UNION ALL
                    SELECT job_id, finished_event, finished_txid FROM step_results
                    WHERE coalesce(finished_txid, started_txid) >= pg_snapshot_xmin($4::pg_snapshot) AND finished_event IS NOT NULL),
                fresh AS (SELECT job_id, place FROM written
                          WHERE NOT pg_visible_in_snapshot(txid, $4::pg_snapshot) AND pg_visible_in_snapshot(txid, $5::pg_snapshot))
                SELECT h.event_id, h.job_id, h.idempotency_key, j.queue, h.at, h.kind, h.detail
                FROM job_history h JOIN jobs j ON j.id = h.job_id
                WHERE ($1::bigint IS NULL OR h.job_id = $1) AND ($2::text IS NULL OR j.queue = $2) AND ($3::timestamptz IS NULL OR h.at >= $3)
                    AND h.event_id > $6 AND \(seen == nil ? "TRUE" : "h.job_id IN (SELECT job_id FROM fresh) AND h.event_id IN (SELECT place FROM fresh)")
                ORDER BY h.event_id \(seen == nil ? "DESC" : "ASC") LIMIT $7
                """,
                [jobID.map { .int($0) } ?? .null, .optionalText(filter.queue), .optionalTime(filter.since),
                 .text(seen ?? snapshot), .text(reading), .int(after), .int(Int64(limit))])
            let events = try rows.map { row in
                HistoryEvent(eventID: try row.int("event_id"), jobID: try row.int("job_id"), idempotencyKey: try row.text("idempotency_key"),
                             queue: try row.text("queue"), at: try row.iso("at") ?? "", kind: try row.eventKind(), detail: try row.json("detail"))
            }
            guard let seen else { return (events.reversed(), EventCursor(seenSnapshot: snapshot)) }
            if events.count == limit, let last = events.last {
                return (events, EventCursor(lastEventID: last.eventID, seenSnapshot: seen, readingSnapshot: reading))
            }
            return (events, EventCursor(seenSnapshot: reading))
        }
    }
}

extension SQLRow {
    /// A time column as planq's stored text (RFC 3339, UTC, milliseconds); `nil` when NULL.
    func iso(_ name: String) throws(StoreError) -> String? { try time(name)?.iso8601 }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
