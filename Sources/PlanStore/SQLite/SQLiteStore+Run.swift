import PlanCore

extension SQLiteStore {
    /// The writes' statements and values are made here, in the caller's task; only running them
    /// waits for the (shared) transaction.
    public func commit(_ writes: [RunWrite], of lease: Lease.ID) async throws(StoreError) {
        try await commitRuns([(lease, writes)])
    }

    /// The writes of several runs in one transaction: all or none (what group commit does for runs
    /// writing at once; the floor figure measures it from one task).
    package func commitRuns(_ runs: [(lease: Lease.ID, writes: [RunWrite])]) async throws(StoreError) {
        let statements = runs.flatMap { run in run.writes.map { Self.statements(for: $0, of: run.lease) } }
        try await commit { connection in
            for write in statements { try write(connection) }
        }
    }

    /// What is recorded for a step key: its current success, the executions started, the last error.
    func stepRecord(jobID: Int64, stepKey: String) throws(StoreError) -> StepRecord {
        try read { connection in try connection.stepRecords(jobIDs: .idList([jobID]))[jobID]?[stepKey] ?? StepRecord() }
    }

    private static func statements(for write: RunWrite, of lease: Lease.ID) -> @Sendable (Connection) throws -> Void {
        switch write {
        case .stepStarted(let stepKey, let attempt, let now): stepStarted(lease, stepKey, attempt, now)
        case .stepFinished(let stepKey, let attempt, let outcome, let now): stepFinished(lease, stepKey, attempt, outcome, now)
        case .finished(let outcome, let now): finished(lease, outcome, now)
        case .rescheduled(let runAt, let error, let now): rescheduled(lease, runAt, error, now)
        case .released(let now): released(lease, now)
        }
    }

    /// A step's start and end are its `step_results` row; `job_history` shows them as events, at
    /// the places in the history they take here.
    ///
    /// A step starts only while the lease is unexpired, besides its token: a worker that was stopped
    /// past its lease, and resumes before anyone recovered the job, must not begin a step that the
    /// recovery (at any moment now) would begin again. Its heartbeat renews the lease first, or the
    /// start is refused as a lost lease. A step's end is recorded on the token alone.
    private static func stepStarted(_ lease: Lease.ID, _ stepKey: String, _ attempt: Int, _ now: Timestamp) -> @Sendable (Connection) throws -> Void {
        let values: [SQLValue] = [.integer(lease.jobID), .text(stepKey), .integer(Int64(attempt)), .time(now), .integer(lease.token)]
        return { connection in
            let position = try connection.historyPositions(1, forSteps: true)
            try connection.query(
                """
                INSERT INTO step_results (job_id, step_id, attempt, started_at, lease_token, started_event) SELECT ?1, ?2, ?3, ?4, ?5, ?6
                WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND lease_token = ?5 AND state = 'running' AND lease_expires_at > ?4)
                """, values + [.integer(position)])
            try connection.requireChange(lease)
        }
    }

    private static func stepFinished(_ lease: Lease.ID, _ stepKey: String, _ attempt: Int, _ outcome: Result<JSONValue, ErrInfo>,
                                     _ now: Timestamp) -> @Sendable (Connection) throws -> Void {
        let recorded = StepOutcome(outcome)
        let (output, error): (JSONValue?, ErrInfo?) = switch outcome {
        case .success(let value): (value, nil)
        case .failure(let error): (nil, error)
        }
        let values: [SQLValue] = [.text(recorded.rawValue), .json(output), .json(error?.json), .time(now), .integer(lease.jobID), .text(stepKey),
                                  .integer(Int64(attempt)), .integer(lease.token)]
        return { connection in
            let position = try connection.historyPositions(1, forSteps: true)
            try connection.query(
                """
                UPDATE step_results SET outcome = ?1, output = ?2, error = ?3, finished_at = ?4, finished_event = ?9
                WHERE job_id = ?5 AND step_id = ?6 AND attempt = ?7 AND superseded = 0 AND outcome IS NULL
                AND EXISTS (SELECT 1 FROM jobs WHERE id = ?5 AND lease_token = ?8 AND state = 'running')
                """, values + [.integer(position)])
            try connection.requireChange(lease)
        }
    }

    private static func finished(_ lease: Lease.ID, _ outcome: RunOutcome, _ now: Timestamp) -> @Sendable (Connection) throws -> Void {
        let (state, result, error): (JobState, JSONValue?, ErrInfo?) = switch outcome {
        case .succeeded(let value): (.succeeded, value, nil)
        case .failed(let error): (.failed, nil, error)
        case .cancelled(let error): (.cancelled, nil, error)
        }
        let values: [SQLValue] = [.text(state.rawValue), .json(result), .json(error?.json), .time(now), .integer(lease.jobID), .integer(lease.token)]
        let kind: EventKind = switch state {
        case .succeeded: .succeeded
        case .failed: .failed
        default: .cancelled
        }
        let event = EventRow(lease.jobID, kind, at: now, error.map { ["error": $0.json] })
        return { connection in
            try connection.query(
                """
                UPDATE jobs SET state = ?1, result = ?2, last_error = ?3, finished_at = ?4, updated_at = ?4, cancel_requested = 0,
                    lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL, lease_pid = NULL, lease_pid_start = NULL,
                    lease_expires_at = NULL
                WHERE id = ?5 AND lease_token = ?6 AND state = 'running'
                """, values)
            try connection.requireChange(lease)
            try connection.insert(event)
        }
    }

    private static func rescheduled(_ lease: Lease.ID, _ runAt: Timestamp, _ error: ErrInfo, _ now: Timestamp) -> @Sendable (Connection) throws -> Void {
        let values: [SQLValue] = [.time(runAt), .json(error.json), .time(now), .integer(lease.jobID), .integer(lease.token)]
        let event = EventRow(lease.jobID, .retryScheduled, at: now, ["run_at": .string(runAt.iso8601), "error": error.json])
        return { connection in
            try connection.query(
                """
                UPDATE jobs SET state = 'pending', run_at = ?1, last_error = ?2, updated_at = ?3,
                    lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL, lease_pid = NULL, lease_pid_start = NULL,
                    lease_expires_at = NULL
                WHERE id = ?4 AND lease_token = ?5 AND state = 'running'
                """, values)
            try connection.requireChange(lease)
            try connection.insert(event)
        }
    }

    private static func released(_ lease: Lease.ID, _ now: Timestamp) -> @Sendable (Connection) throws -> Void {
        let values: [SQLValue] = [.time(now), .integer(lease.jobID), .integer(lease.token)]
        let event = EventRow(lease.jobID, .released, at: now, ["token": .integer(lease.token)])
        return { connection in
            try connection.query(
                """
                UPDATE jobs SET state = 'pending', runs = runs - 1, updated_at = ?1,
                    lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL, lease_pid = NULL, lease_pid_start = NULL,
                    lease_expires_at = NULL
                WHERE id = ?2 AND lease_token = ?3 AND state = 'running'
                """, values)
            try connection.requireChange(lease)
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
            let (job, key) = (try row.int("job_id"), try row.text("step_id"))
            var record = records[job, default: [:]][key, default: StepRecord()]
            record.attempts += 1
            if try row.optionalText("outcome") == StepOutcome.ok.rawValue { record.output = try row.json("output") }
            if let error = try row.json("error") { record.lastError = ErrInfo(json: error) }
            records[job, default: [:]][key] = record
        }
        return records
    }
}
