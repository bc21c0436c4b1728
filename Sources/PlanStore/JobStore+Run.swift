import PlanCore

/// How a run ended.
public enum RunOutcome: Sendable {
    case succeeded(JSONValue)
    case failed(ErrInfo)
    case cancelled(ErrInfo?)
}

/// A write of a run made ready ahead of its transaction, to be committed with the run's next
/// write (`after:`): fenced by the run's token like every other.
public struct RunWrite: Sendable {
    let apply: @Sendable (Connection) throws -> Void
}

extension JobStore {
    /// What is recorded for a step key: its current success, the executions started, the last error.
    public func stepRecord(jobID: Int64, stepKey: String) throws(StoreError) -> StepRecord {
        try read { connection in try connection.stepRecords(jobIDs: .idList([jobID]))[jobID]?[stepKey] ?? StepRecord() }
    }

    /// Commits the start of execution `attempt` of a step, before its capability is called.
    /// `earlier` writes of the run commit first, in the same transaction.
    public func beginStep(jobID: Int64, token: Int64, stepKey: String, attempt: Int, now: Timestamp = .now(),
                          after earlier: [RunWrite] = []) async throws(StoreError) {
        try await commitRunWrites(earlier + [stepStarted(jobID: jobID, token: token, stepKey: stepKey, attempt: attempt, now: now)])
    }

    /// `beginStep` made ready, to be committed with other writes.
    public func stepStarted(jobID: Int64, token: Int64, stepKey: String, attempt: Int, now: Timestamp = .now()) -> RunWrite {
        let values: [SQLValue] = [.integer(jobID), .text(stepKey), .integer(Int64(attempt)), .time(now), .integer(token)]
        let event = EventRow(jobID, "step_started", at: now, ["step": .string(stepKey), "attempt": .integer(Int64(attempt))])
        return RunWrite { connection in
            try connection.query(
                """
                INSERT INTO step_results (job_id, step_id, attempt, started_at, lease_token) SELECT ?1, ?2, ?3, ?4, ?5
                WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND lease_token = ?5 AND state = 'running')
                """, values)
            try connection.requireChange(jobID)
            try connection.insert(event)
        }
    }

    /// Records the outcome of execution `attempt` of a step. A failure with code `cancelled` is
    /// recorded as `cancelled`. Refused without the lease; a second success is refused by the schema.
    public func finishStep(jobID: Int64, token: Int64, stepKey: String, attempt: Int, outcome: Result<JSONValue, ErrInfo>,
                           now: Timestamp = .now()) async throws(StoreError) {
        try await commitRunWrites([stepFinished(jobID: jobID, token: token, stepKey: stepKey, attempt: attempt, outcome: outcome, now: now)])
    }

    /// Commits writes made ready ahead, in order, in one operation: all or none.
    public func commitRunWrites(_ writes: [RunWrite]) async throws(StoreError) {
        try await commit(writes) { _ in }
    }

    /// `finishStep` made ready, to be committed with the run's next write.
    public func stepFinished(jobID: Int64, token: Int64, stepKey: String, attempt: Int, outcome: Result<JSONValue, ErrInfo>,
                             now: Timestamp = .now()) -> RunWrite {
        let (name, output, error): (String, JSONValue?, ErrInfo?) = switch outcome {
        case .success(let value): ("ok", value, nil)
        case .failure(let error): (error.code == "cancelled" ? "cancelled" : "error", nil, error)
        }
        let values: [SQLValue] = [.text(name), .json(output), .json(error?.json), .time(now), .integer(jobID), .text(stepKey),
                                  .integer(Int64(attempt)), .integer(token)]
        var detail: [JSONKey: JSONValue] = ["step": .string(stepKey), "attempt": .integer(Int64(attempt))]
        if let error { detail["error"] = error.json }
        let event = EventRow(jobID, name == "ok" ? "step_succeeded" : "step_failed", at: now, .object(detail))
        return RunWrite { connection in
            try connection.query(
                """
                UPDATE step_results SET outcome = ?1, output = ?2, error = ?3, finished_at = ?4
                WHERE job_id = ?5 AND step_id = ?6 AND attempt = ?7 AND superseded = 0 AND outcome IS NULL
                AND EXISTS (SELECT 1 FROM jobs WHERE id = ?5 AND lease_token = ?8 AND state = 'running')
                """, values)
            try connection.requireChange(jobID)
            try connection.insert(event)
        }
    }

    /// Ends a run: `succeeded` with its result, `failed` with its error (the dead letter), or `cancelled`.
    /// `earlier` writes of the run commit first, in the same transaction (so do those of `reschedule` and `release`).
    public func finish(jobID: Int64, token: Int64, _ outcome: RunOutcome, now: Timestamp = .now(),
                        after earlier: [RunWrite] = []) async throws(StoreError) {
        try await commitRunWrites(earlier + [finished(jobID: jobID, token: token, outcome, now: now)])
    }

    /// `finish` made ready, to be committed with other writes.
    public func finished(jobID: Int64, token: Int64, _ outcome: RunOutcome, now: Timestamp = .now()) -> RunWrite {
        let (state, result, error): (JobState, JSONValue?, ErrInfo?) = switch outcome {
        case .succeeded(let value): (.succeeded, value, nil)
        case .failed(let error): (.failed, nil, error)
        case .cancelled(let error): (.cancelled, nil, error)
        }
        let values: [SQLValue] = [.text(state.rawValue), .json(result), .json(error?.json), .time(now), .integer(jobID), .integer(token)]
        let event = EventRow(jobID, state.rawValue, at: now, error.map { ["error": $0.json] })
        return RunWrite { connection in
            try connection.query(
                """
                UPDATE jobs SET state = ?1, result = ?2, last_error = ?3, finished_at = ?4, updated_at = ?4, cancel_requested = 0,
                    lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL, lease_pid = NULL, lease_pid_start = NULL,
                    lease_expires_at = NULL
                WHERE id = ?5 AND lease_token = ?6 AND state = 'running'
                """, values)
            try connection.requireChange(jobID)
            try connection.insert(event)
        }
    }

    /// Puts a run that failed with a retryable error back to `pending` until `runAt`.
    public func reschedule(jobID: Int64, token: Int64, runAt: Timestamp, error: ErrInfo, now: Timestamp = .now(),
                        after earlier: [RunWrite] = []) async throws(StoreError) {
        let values: [SQLValue] = [.time(runAt), .json(error.json), .time(now), .integer(jobID), .integer(token)]
        let event = EventRow(jobID, "retry_scheduled", at: now, ["run_at": .string(runAt.iso8601), "error": error.json])
        try await commit(earlier) { connection in
            try connection.query(
                """
                UPDATE jobs SET state = 'pending', run_at = ?1, last_error = ?2, updated_at = ?3,
                    lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL, lease_pid = NULL, lease_pid_start = NULL,
                    lease_expires_at = NULL
                WHERE id = ?4 AND lease_token = ?5 AND state = 'running'
                """, values)
            try connection.requireChange(jobID)
            try connection.insert(event)
        }
    }

    /// Hands a run back on shutdown: the job is `pending` and due at once, and neither the run nor
    /// the step executions it left unfinished or cancelled count against its attempts.
    public func release(jobID: Int64, token: Int64, now: Timestamp = .now(),
                        after earlier: [RunWrite] = []) async throws(StoreError) {
        let values: [SQLValue] = [.time(now), .integer(jobID), .integer(token)]
        let event = EventRow(jobID, "released", at: now, ["token": .integer(token)])
        try await commit(earlier) { connection in
            try connection.query(
                """
                UPDATE jobs SET state = 'pending', runs = runs - 1, updated_at = ?1,
                    lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL, lease_pid = NULL, lease_pid_start = NULL,
                    lease_expires_at = NULL
                WHERE id = ?2 AND lease_token = ?3 AND state = 'running'
                """, values)
            try connection.requireChange(jobID)
            try connection.query(
                """
                UPDATE step_results SET superseded = 1, outcome = coalesce(outcome, 'cancelled'), finished_at = coalesce(finished_at, ?1)
                WHERE job_id = ?2 AND lease_token = ?3 AND superseded = 0 AND (outcome IS NULL OR outcome = 'cancelled')
                """, values)
            try connection.insert(event)
        }
    }
}

extension Connection {
    /// What the journals of jobs `ids` (an `idList`) hold, by job and step key.
    func stepRecords(jobIDs ids: SQLValue) throws -> [Int64: [String: StepRecord]] {
        var records: [Int64: [String: StepRecord]] = [:]
        for row in try query(
            """
            SELECT job_id, step_id, outcome, output, error FROM step_results
            WHERE job_id IN (SELECT value FROM json_each(?)) AND superseded = 0 ORDER BY job_id, step_id, attempt
            """, [ids])
        {
            let (job, key) = (row.int(0)!, row.text(1)!)
            var record = records[job, default: [:]][key, default: StepRecord()]
            record.attempts += 1
            if row.text(2) == "ok" { record.output = try row.text(3).map { try JSONValue(stored: $0) } }
            if let error = row.text(4) { record.lastError = ErrInfo(json: try JSONValue(stored: error)) }
            records[job, default: [:]][key] = record
        }
        return records
    }
}

extension JobStore {
    /// Commits `earlier` and then `body` in one group-commit operation: all or none.
    func commit(_ earlier: [RunWrite], _ body: @escaping @Sendable (Connection) throws -> Void) async throws(StoreError) {
        try await commit { connection in
            for write in earlier { try write.apply(connection) }
            try body(connection)
        }
    }
}
