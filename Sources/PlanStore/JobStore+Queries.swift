import PlanCore

/// One line of `planq list`.
public struct JobSummary: Sendable, Hashable {
    public let id: Int64
    public let idempotencyKey: String
    public let queue: String
    public let priority: Int
    public let state: JobState
    public let runs: Int
    public let runAt: String
    public let createdAt: String
    public let finishedAt: String?
    public let errorCode: String?

    public var json: JSONValue {
        ["id": .integer(id), "idempotency_key": .string(idempotencyKey), "queue": .string(queue), "priority": .integer(Int64(priority)),
         "state": .string(state.rawValue), "runs": .integer(Int64(runs)), "run_at": .string(runAt), "created_at": .string(createdAt),
         "finished_at": finishedAt.map(JSONValue.string) ?? .null, "error_code": errorCode.map(JSONValue.string) ?? .null]
    }
}

/// A step key's executions, as `planq show` reports them.
public struct StepSummary: Sendable, Hashable {
    public let id: String
    /// The outcome of the latest execution: `ok`, `error`, `cancelled`, or `nil` while in flight.
    public let outcome: String?
    public let attempts: Int
    public let output: JSONValue?
    public let error: JSONValue?
}

/// One event of a job's history.
public struct JobEvent: Sendable, Hashable {
    public let at: String
    public let kind: String
    public let detail: JSONValue?
}

/// Everything about one job.
public struct JobDetail: Sendable, Hashable {
    public let summary: JobSummary
    public let plan: JSONValue
    public let result: JSONValue?
    public let error: JSONValue?
    public let steps: [StepSummary]
    public let events: [JobEvent]

    /// The `show --json` document.
    public var json: JSONValue {
        [
            "id": .integer(summary.id), "idempotency_key": .string(summary.idempotencyKey), "queue": .string(summary.queue),
            "priority": .integer(Int64(summary.priority)), "state": .string(summary.state.rawValue), "run_at": .string(summary.runAt),
            "created_at": .string(summary.createdAt), "finished_at": summary.finishedAt.map(JSONValue.string) ?? .null,
            "result": result ?? .null, "error": error ?? .null, "runs": .integer(Int64(summary.runs)), "plan": plan,
            "steps": .array(steps.map {
                ["id": .string($0.id), "outcome": $0.outcome.map(JSONValue.string) ?? .null, "attempts": .integer(Int64($0.attempts)),
                 "output": $0.output ?? .null, "error": $0.error ?? .null]
            }),
            "events": .array(events.map { ["at": .string($0.at), "kind": .string($0.kind), "detail": $0.detail ?? .null] }),
        ]
    }
}

/// Counts for `planq stats`.
public struct QueueStats: Sendable, Hashable {
    public let queue: String
    public let paused: Bool
    public let maxPending: Int?
    public let counts: [JobState: Int]
}

public struct StoreStats: Sendable, Hashable {
    public let queues: [QueueStats]
    /// How long the oldest due pending job has waited, in seconds.
    public let oldestPendingSeconds: Double?
    /// Jobs that finished in the last minute.
    public let finishedLastMinute: Int
}

/// A capability a worker registered.
public struct RegisteredCapability: Sendable, Hashable {
    public let name: String
    public let worker: String
    public let registeredAt: String
}

extension JobStore {
    static let summaryColumns = """
        id, idempotency_key, queue, priority, state, runs, run_at, created_at, finished_at, last_error ->> '$.code'
        """

    static func summary(_ row: Row) -> JobSummary {
        JobSummary(id: row.int(0)!, idempotencyKey: row.text(1)!, queue: row.text(2)!, priority: Int(row.int(3)!),
                   state: JobState(rawValue: row.text(4)!)!, runs: Int(row.int(5)!), runAt: row.text(6)!, createdAt: row.text(7)!,
                   finishedAt: row.text(8), errorCode: row.text(9))
    }

    /// Jobs, newest first, optionally of one state and queue.
    public func list(state: JobState? = nil, queue: String? = nil, limit: Int = 50) throws(StoreError) -> [JobSummary] {
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

    /// The state of one job.
    public func state(of reference: JobReference) throws(StoreError) -> JobState {
        try read { connection in try resolve(reference, connection).state }
    }

    /// One job with its plan, steps and history.
    public func detail(_ reference: JobReference) throws(StoreError) -> JobDetail {
        try read { connection in
            let id = try resolve(reference, connection).id
            let row = try connection.query("SELECT \(Self.summaryColumns), plan, result, last_error FROM jobs WHERE id = ?", [.integer(id)])[0]
            var steps: [StepSummary] = []
            for step in try connection.query(
                """
                SELECT step_id, count(*), max(attempt),
                    (SELECT output FROM step_results o WHERE o.job_id = s.job_id AND o.step_id = s.step_id AND o.outcome = 'ok' AND o.superseded = 0)
                FROM step_results s WHERE job_id = ? AND superseded = 0 GROUP BY step_id ORDER BY min(id)
                """, [.integer(id)])
            {
                let last = try connection.query(
                    "SELECT outcome, error FROM step_results WHERE job_id = ? AND step_id = ? AND attempt = ? AND superseded = 0",
                    [.integer(id), .text(step.text(0)!), .integer(step.int(2)!)])[0]
                steps.append(StepSummary(id: step.text(0)!, outcome: last.text(0), attempts: Int(step.int(1)!),
                                         output: try step.text(3).map { try JSONValue(stored: $0) }, error: try last.text(1).map { try JSONValue(stored: $0) }))
            }
            let events = try connection.query("SELECT at, kind, detail FROM job_events WHERE job_id = ? ORDER BY id", [.integer(id)])
                .map { row in JobEvent(at: row.text(0)!, kind: row.text(1)!, detail: try row.text(2).map { try JSONValue(stored: $0) }) }
            return JobDetail(summary: Self.summary(row), plan: try JSONValue(stored: row.text(10)!), result: try row.text(11).map { try JSONValue(stored: $0) },
                             error: try row.text(12).map { try JSONValue(stored: $0) }, steps: steps, events: events)
        }
    }

    /// Counts by queue and state, each part read from the partial index of its states alone.
    static let countsByQueueAndState = """
        SELECT queue, 'pending', count(*) FROM jobs WHERE state = 'pending' GROUP BY queue
        UNION ALL SELECT queue, 'running', count(*) FROM jobs WHERE state = 'running' GROUP BY queue
        UNION ALL SELECT queue, state, count(*) FROM jobs
            WHERE finished_at IS NOT NULL AND state IN ('succeeded', 'failed', 'cancelled') GROUP BY queue, state
        """

    /// Counts by queue and state, the age of the oldest due pending job, and last minute's throughput.
    public func stats(now: Timestamp = .now()) throws(StoreError) -> StoreStats {
        try read { connection in
            var counts: [String: [JobState: Int]] = [:]
            for row in try connection.query(Self.countsByQueueAndState) {
                counts[row.text(0)!, default: [:]][JobState(rawValue: row.text(1)!)!] = Int(row.int(2)!)
            }
            var queues: [QueueStats] = []
            for row in try connection.query("SELECT name, paused, max_pending FROM queues ORDER BY name") {
                queues.append(QueueStats(queue: row.text(0)!, paused: row.int(1) == 1, maxPending: row.int(2).map(Int.init),
                                         counts: counts[row.text(0)!] ?? [:]))
            }
            let oldest = try connection.query(
                "SELECT min(run_at) FROM jobs WHERE state = 'pending' AND run_at <= ?", [.time(now)])[0].text(0).flatMap(Timestamp.init(rfc3339:))
            let finished = try connection.query(
                "SELECT count(*) FROM jobs WHERE finished_at >= ?", [.time(Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - 60_000))])[0]
            return StoreStats(
                queues: queues, oldestPendingSeconds: oldest.map { Double(now.millisecondsSinceEpoch - $0.millisecondsSinceEpoch) / 1000 },
                finishedLastMinute: Int(finished.int(0)!))
        }
    }

    /// The capabilities workers registered, by name.
    public func capabilities() throws(StoreError) -> [RegisteredCapability] {
        try read { connection in
            try connection.query("SELECT name, worker, registered_at FROM capabilities ORDER BY name").map {
                RegisteredCapability(name: $0.text(0)!, worker: $0.text(1)!, registeredAt: $0.text(2)!)
            }
        }
    }

    /// `EXPLAIN QUERY PLAN` of `sql`: the detail column of each row, for checking index use.
    public func queryPlan(_ sql: String) throws(StoreError) -> [String] {
        try read { connection in try connection.query("EXPLAIN QUERY PLAN " + sql).map { $0.text(3) ?? "" } }
    }
}
