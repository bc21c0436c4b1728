import PlanCore

extension SQLiteStore {
    func resolve(_ reference: JobReference, _ connection: Connection) throws -> (id: Int64, state: JobState) {
        let rows = switch reference {
        case .id(let id): try connection.query("SELECT id, state FROM jobs WHERE id = ?", [.integer(id)])
        case .key(let key): try connection.query("SELECT id, state FROM jobs WHERE idempotency_key = ?", [.text(key)])
        }
        guard let row = rows.first else { throw StoreError.jobNotFound(reference.description) }
        return (try row.int("id"), try row.state())
    }

    public func cancel(_ reference: JobReference, now: Timestamp) async throws(StoreError) -> CancelResult {
        try await commit { connection in
            let (id, state) = try self.resolve(reference, connection)
            switch state {
            case .cancelled:
                return .alreadyCancelled
            case .succeeded, .failed:
                throw StoreError.wrongState(jobID: id, state: state, operation: "cancelled")
            case .pending:
                try connection.query(
                    "UPDATE jobs SET state = 'cancelled', finished_at = ?1, updated_at = ?1 WHERE id = ?2", [.time(now), .integer(id)])
                try connection.event(id, .cancelled, at: now, ["by": "planq cancel"])
                return .cancelled
            case .running:
                try connection.query("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", [.time(now), .integer(id)])
                return .requested
            }
        }
    }

    public func retry(_ reference: JobReference, fromStep: String?, now: Timestamp) async throws(StoreError) -> Int64 {
        try await commit { connection in
            let (id, state) = try self.resolve(reference, connection)
            guard state == .failed || state == .cancelled else {
                throw StoreError.wrongState(jobID: id, state: state, operation: "retried (only failed and cancelled jobs can)")
            }
            try connection.query(
                "UPDATE step_results SET superseded = 1 WHERE job_id = ? AND superseded = 0 AND (outcome IS NULL OR outcome != 'ok')",
                [.integer(id)])
            if let fromStep {
                let plan = try connection.query("SELECT plan FROM jobs WHERE id = ?", [.integer(id)])[0].json("plan")
                let steps = (plan?.objectValue?["steps"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.stringValue }
                guard let start = steps.firstIndex(of: fromStep) else { throw StoreError.unknownStep(fromStep) }
                for step in steps[start...] {
                    try connection.query(
                        "UPDATE step_results SET superseded = 1 WHERE job_id = ? AND superseded = 0 AND (step_id = ? OR step_id LIKE ? ESCAPE '\\')",
                        [.integer(id), .text(step), .text(Self.likeEscaped(step) + "[%")])
                }
            }
            try connection.query(
                """
                UPDATE jobs SET state = 'pending', run_at = ?1, updated_at = ?1, finished_at = NULL, result = NULL,
                    last_error = NULL, cancel_requested = 0
                WHERE id = ?2
                """, [.time(now), .integer(id)])
            try connection.event(id, .retried, at: now, fromStep.map { ["from": .string($0)] } ?? ["from": nil])
            return id
        }
    }

    static func likeEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// Works in transactions of 200 jobs and rests between them as long as each took (at least
    /// 10 ms), so that a worker writing beside it waits moments, never its busy timeout.
    public func prune(finishedBefore cutoff: Timestamp) async throws(StoreError) -> Int {
        try await prune(finishedBefore: cutoff, batch: 200)
    }

    func prune(finishedBefore cutoff: Timestamp, batch: Int) async throws(StoreError) -> Int {
        let clock = ContinuousClock()
        var total = 0
        while true {
            let started = clock.now
            let deleted = try await commit { connection in
                try connection.query(
                    """
                    DELETE FROM jobs WHERE id IN (
                        SELECT id FROM jobs WHERE finished_at < ? AND state IN ('succeeded', 'failed', 'cancelled') LIMIT ?)
                    """, [.time(cutoff), .integer(Int64(batch))])
                return connection.changes
            }
            total += deleted
            if deleted < batch { return total }
            try? await clock.sleep(for: max(clock.now - started, .milliseconds(10)))
        }
    }

    public func pruneCandidates(finishedBefore cutoff: Timestamp) async throws(StoreError) -> PruneCounts {
        try read { connection in
            let row = try connection.query(
                """
                WITH doomed AS (SELECT id FROM jobs WHERE finished_at < ? AND state IN ('succeeded', 'failed', 'cancelled'))
                SELECT (SELECT count(*) FROM doomed) AS jobs,
                    (SELECT count(*) FROM step_results WHERE job_id IN doomed) AS step_results,
                    (SELECT count(*) FROM job_history WHERE job_id IN doomed) AS events
                """, [.time(cutoff)])[0]
            return PruneCounts(jobs: Int(try row.int("jobs")), stepResults: Int(try row.int("step_results")), events: Int(try row.int("events")))
        }
    }

    public func setPaused(_ paused: Bool, queue: String) async throws(StoreError) {
        try await commit { connection in
            _ = try connection.query(
                "INSERT INTO queues (name, paused) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET paused = ?2",
                [.text(queue), .integer(paused ? 1 : 0)])
        }
    }

    public func setMaxPending(_ limit: Int?, queue: String) async throws(StoreError) {
        try await commit { connection in
            _ = try connection.query(
                "INSERT INTO queues (name, max_pending) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET max_pending = ?2",
                [.text(queue), limit.map { .integer(Int64($0)) } ?? .null])
        }
    }

    public func setRate(_ rate: QueueRate?, queue: String) async throws(StoreError) {
        try await commit { connection in
            _ = try connection.query(
                """
                INSERT INTO queues (name, rate_limit, rate_period_ms) VALUES (?1, ?2, ?3)
                ON CONFLICT (name) DO UPDATE SET rate_limit = ?2, rate_period_ms = ?3
                """,
                [.text(queue), rate.map { .integer(Int64($0.limit)) } ?? .null, rate.map { .integer($0.period.milliseconds) } ?? .null])
            if rate == nil {
                _ = try connection.query("DELETE FROM queue_starts WHERE queue = ?", [.text(queue)])
                _ = try connection.query("UPDATE queues SET rate_used = 0 WHERE name = ?", [.text(queue)])
            }
        }
    }
}
