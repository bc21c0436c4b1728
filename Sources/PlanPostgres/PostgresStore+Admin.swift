import PlanCore
import PlanStore

extension PostgresStore {
    /// The first key of the advisory lock a worker's session holds ("plnq").
    static let workerLockClass: Int64 = 0x706C_6E71
    /// The second key: the worker's id, in the lock's 31 bits.
    static func workerLockKey(_ workerID: Int64) -> Int64 { workerID % Int64(Int32.max) }

    func resolve(_ reference: JobReference, _ transaction: PostgresSession.Transaction, lock: Bool = false) async throws -> (id: Int64, state: JobState) {
        let suffix = lock ? " FOR UPDATE" : ""
        let rows = switch reference {
        case .id(let id): try await transaction.query("SELECT id, state FROM jobs WHERE id = $1" + suffix, [.int(id)])
        case .key(let key): try await transaction.query("SELECT id, state FROM jobs WHERE idempotency_key = $1" + suffix, [.text(key)])
        }
        guard let row = rows.first else { throw StoreError.jobNotFound(reference.description) }
        return (try row.int("id"), try row.state())
    }

    public func cancel(_ reference: JobReference, now: Timestamp) async throws(StoreError) -> CancelResult {
        try await commit { transaction in
            let (id, state) = try await self.resolve(reference, transaction, lock: true)
            switch state {
            case .cancelled:
                return .alreadyCancelled
            case .succeeded, .failed:
                throw StoreError.wrongState(jobID: id, state: state, operation: "cancelled")
            case .pending:
                try await transaction.query("UPDATE jobs SET state = 'cancelled', finished_at = $1, updated_at = $1 WHERE id = $2", [.time(now), .int(id)])
                try await transaction.event(id, .cancelled, at: now, ["by": "planq cancel"])
                return .cancelled
            case .running:
                try await transaction.query("UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id = $2", [.time(now), .int(id)])
                return .requested
            }
        }
    }

    public func retry(_ reference: JobReference, fromStep: String?, now: Timestamp) async throws(StoreError) -> Int64 {
        try await commit { transaction in
            let (id, state) = try await self.resolve(reference, transaction, lock: true)
            guard state == .failed || state == .cancelled else {
                throw StoreError.wrongState(jobID: id, state: state, operation: "retried (only failed and cancelled jobs can)")
            }
            try await transaction.query(
                "UPDATE step_results SET superseded = 1 WHERE job_id = $1 AND superseded = 0 AND (outcome IS NULL OR outcome != 'ok')", [.int(id)])
            if let fromStep {
                let plan = try await transaction.query("SELECT plan FROM jobs WHERE id = $1", [.int(id)])[0].json("plan")
                let steps = (plan?.objectValue?["steps"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.stringValue }
                guard let start = steps.firstIndex(of: fromStep) else { throw StoreError.unknownStep(fromStep) }
                try await transaction.query(
                    """
                    UPDATE step_results SET superseded = 1 WHERE job_id = $1 AND superseded = 0
                    AND (step_id = ANY($2) OR (position('[' in step_id) > 0 AND substr(step_id, 1, position('[' in step_id) - 1) = ANY($2)))
                    """, [.int(id), .texts(Array(steps[start...]))])
            }
            try await transaction.query(
                """
                UPDATE jobs SET state = 'pending', run_at = $1, updated_at = $1, finished_at = NULL, result = NULL,
                    last_error = NULL, cancel_requested = 0
                WHERE id = $2
                """, [.time(now), .int(id)])
            try await transaction.event(id, .retried, at: now, fromStep.map { ["from": .string($0)] } ?? ["from": nil])
            return id
        }
    }

    /// In transactions of 200 jobs, as on SQLite.
    public func prune(finishedBefore cutoff: Timestamp) async throws(StoreError) -> Int {
        var total = 0
        while true {
            let deleted = try await commit { transaction in
                try await transaction.query(
                    """
                    DELETE FROM jobs WHERE id IN (
                        SELECT id FROM jobs WHERE finished_at < $1 AND state IN ('succeeded', 'failed', 'cancelled') LIMIT 200)
                    RETURNING id
                    """, [.time(cutoff)]).count
            }
            total += deleted
            if deleted < 200 { return total }
        }
    }

    public func pruneCandidates(finishedBefore cutoff: Timestamp) async throws(StoreError) -> PruneCounts {
        try await read { transaction in
            let row = try await transaction.query(
                """
                WITH doomed AS (SELECT id FROM jobs WHERE finished_at < $1 AND state IN ('succeeded', 'failed', 'cancelled'))
                SELECT (SELECT count(*) FROM doomed) AS jobs,
                    (SELECT count(*) FROM step_results WHERE job_id IN (SELECT id FROM doomed)) AS step_results,
                    (SELECT count(*) FROM job_history WHERE job_id IN (SELECT id FROM doomed)) AS events
                """, [.time(cutoff)])[0]
            return PruneCounts(jobs: Int(try row.int("jobs")), stepResults: Int(try row.int("step_results")), events: Int(try row.int("events")))
        }
    }

    public func setPaused(_ paused: Bool, queue: String) async throws(StoreError) {
        try await commit { transaction in
            try await transaction.query("INSERT INTO queues (name, paused) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET paused = $2",
                                        [.text(queue), .int(paused ? 1 : 0)])
        }
    }

    public func setMaxPending(_ limit: Int?, queue: String) async throws(StoreError) {
        try await commit { transaction in
            try await transaction.query("INSERT INTO queues (name, max_pending) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET max_pending = $2",
                                        [.text(queue), limit.map { .int(Int64($0)) } ?? .null])
        }
    }

    public func setRate(_ rate: QueueRate?, queue: String) async throws(StoreError) {
        try await commit { transaction in
            try await transaction.query(
                """
                INSERT INTO queues (name, rate_limit, rate_period_ms) VALUES ($1, $2, $3)
                ON CONFLICT (name) DO UPDATE SET rate_limit = $2, rate_period_ms = $3
                """, [.text(queue), rate.map { .int(Int64($0.limit)) } ?? .null, rate.map { .int($0.period.milliseconds) } ?? .null])
            if rate == nil {
                try await transaction.query("DELETE FROM queue_starts WHERE queue = $1", [.text(queue)])
                try await transaction.query("UPDATE queues SET rate_used = 0 WHERE name = $1", [.text(queue)])
            }
        }
    }

    public func cancelRequested(among ids: [Int64]) async throws(StoreError) -> [Int64] {
        guard !ids.isEmpty else { return [] }
        return try await read { transaction in
            try await transaction.query("SELECT id FROM jobs WHERE id = ANY($1) AND cancel_requested = 1 AND state = 'running' ORDER BY id", [.ints(ids)])
                .map { row in try row.int("id") }
        }
    }

    public func hasOutstandingWork(queues: [String]?, now: Timestamp) async throws(StoreError) -> Bool {
        try await read { transaction in
            for name in try await transaction.unpausedQueues(queues) {
                let busy = try await transaction.query(
                    """
                    SELECT (EXISTS (SELECT 1 FROM jobs WHERE queue = $1 AND state = 'running')
                        OR EXISTS (SELECT 1 FROM jobs WHERE queue = $1 AND state = 'pending' AND (run_at <= $2 OR runs > 0)))::int AS busy
                    """, [.text(name), .time(now)])[0].int("busy") == 1
                if busy { return true }
            }
            return false
        }
    }

    public func activityCounts() async throws(StoreError) -> ActivityCounts {
        try await read { transaction in
            let row = try await transaction.query(
                """
                SELECT (SELECT count(*) FROM jobs WHERE state = 'running') AS running,
                    (SELECT count(*) FROM jobs WHERE state = 'pending') AS pending
                """)[0]
            return ActivityCounts(running: Int(try row.int("running")), pending: Int(try row.int("pending")))
        }
    }

    /// On the primary session, which holds the worker's session lock from then on.
    /// Takes worker `id`'s session lock and records when, by the server's clock: a free lock means
    /// the worker is gone only if it took the lock since the server started (`recoverEndedSessions`).
    private static func takeWorkerLock(_ id: Int64, _ transaction: PostgresSession.Transaction) async throws {
        try await transaction.query("SELECT pg_advisory_lock(\(workerLockClass), $1::int)", [.int(workerLockKey(id))])
        try await transaction.query("UPDATE workers SET locked_at = now() WHERE id = $1", [.int(id)])
    }

    public func registerWorker(_ worker: WorkerRegistration, now: Timestamp) async throws(StoreError) -> Int64 {
        try await pool.primary.run(transaction: true) { transaction in
            let owner = worker.owner
            let id = try await transaction.query(
                """
                INSERT INTO workers (owner, host, boot_id, pid, pid_start, version, queues, concurrency, capabilities, started_at, last_seen_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id
                """,
                [.text(owner.label), .text(owner.host), .text(owner.bootID), .int(Int64(owner.pid)), .int(owner.pidStart),
                 .text(worker.version), .json(worker.queues.map { .array($0.map(JSONValue.string)) }), .int(Int64(worker.concurrency)),
                 .json(.array(worker.capabilities.map(JSONValue.string))), .time(now)])[0].int("id")
            pool.primary.setOnConnect { try await Self.takeWorkerLock(id, $0) }
            // Held by this session until it ends: its end is how other hosts know at once that
            // this worker is gone (`recoverDeadOwners`). A new connection takes it again first.
            try await Self.takeWorkerLock(id, transaction)
            for name in worker.capabilities {
                try await transaction.query(
                    """
                    INSERT INTO capabilities (name, worker, registered_at) VALUES ($1, $2, $3)
                    ON CONFLICT (name) DO UPDATE SET worker = $2, registered_at = $3
                    """, [.text(name), .text(owner.label), .time(now)])
            }
            return id
        }
    }

    /// On the primary session: a worker that is mostly idle still finds out soon that its
    /// connection (and its session lock) is gone, and takes the lock again.
    public func workerSeen(_ id: Int64, me: LeaseOwner, now: Timestamp) async throws(StoreError) {
        try await commit(onPrimary: true) { transaction in
            try await transaction.query("UPDATE workers SET last_seen_at = $1, ended_at = NULL, ended = NULL WHERE id = $2", [.time(now), .int(id)])
            try await transaction.query("UPDATE workers SET ended = 'lost', ended_at = $1 WHERE ended IS NULL AND last_seen_at < $2",
                                        [.time(now), .time(now.before(WorkerStatus.lostAfter))])
            for row in try await transaction.query("SELECT id, boot_id, pid, pid_start FROM workers WHERE ended IS NULL AND host = $1", [.text(me.host)])
                where me.deathReason(ofBootID: try row.text("boot_id"), pid: Int32(try row.int("pid")), pidStart: try row.int("pid_start")) != nil {
                try await transaction.query("UPDATE workers SET ended = 'lost', ended_at = $1 WHERE id = $2", [.time(now), .int(try row.int("id"))])
            }
            try await transaction.query("DELETE FROM workers WHERE ended_at < $1", [.time(now.before(.seconds(86_400)))])
        }
    }

    public func workerStopped(_ id: Int64, now: Timestamp) async throws(StoreError) {
        try await commit { transaction in
            try await transaction.query("UPDATE workers SET ended = 'stopped', ended_at = $1, last_seen_at = $1 WHERE id = $2", [.time(now), .int(id)])
        }
        pool.primary.setOnConnect(nil)
        try await pool.primary.run(transaction: false) { _ = try await $0.query("SELECT pg_advisory_unlock_all()") }
    }

    public func workers(me: LeaseOwner, now: Timestamp) async throws(StoreError) -> [WorkerStatus] {
        try await read { transaction in
            var workers: [WorkerStatus] = []
            for row in try await transaction.query("SELECT * FROM workers ORDER BY ended IS NOT NULL, started_at DESC, id DESC") {
                let owner = LeaseOwner(host: try row.text("host"), bootID: try row.text("boot_id"), pid: Int32(try row.int("pid")),
                                       pidStart: try row.int("pid_start"))
                let lastSeen = try row.time("last_seen_at") ?? now
                let state = WorkerStatus.state(ended: try row.optionalText("ended"), lastSeen: lastSeen, owner: owner, me: me, now: now)
                let running = state == .stopped ? [] : try await transaction.query(
                    """
                    SELECT id FROM jobs WHERE state = 'running' AND lease_host = $1 AND lease_boot_id = $2 AND lease_pid = $3 AND lease_pid_start = $4
                    ORDER BY id
                    """, [.text(owner.host), .text(owner.bootID), .int(Int64(owner.pid)), .int(owner.pidStart)]).map { try $0.int("id") }
                let registration = WorkerRegistration(
                    owner: owner, version: try row.text("version"), queues: try row.json("queues")?.arrayValue?.compactMap(\.stringValue),
                    concurrency: Int(try row.int("concurrency")),
                    capabilities: try row.json("capabilities")?.arrayValue?.compactMap(\.stringValue) ?? [])
                workers.append(WorkerStatus(id: try row.int("id"), registration: registration, state: state,
                                            startedAt: try row.time("started_at") ?? now, lastSeenAt: lastSeen, runningJobs: running))
            }
            return WorkerStatus.ordered(workers)
        }
    }
}

extension SQLRow {
    func state(_ name: String = "state") throws(StoreError) -> JobState {
        let text = try text(name)
        guard let state = JobState(rawValue: text) else { throw StoreError.corruptValue("column \(name) holds \(text.quoted), not a job state") }
        return state
    }

    func eventKind(_ name: String = "kind") throws(StoreError) -> EventKind {
        let text = try text(name)
        guard let kind = EventKind(rawValue: text) else { throw StoreError.corruptValue("column \(name) holds \(text.quoted), not an event kind") }
        return kind
    }
}
