import PlanCore
import PlanStore

extension PostgresStore {
    public func enqueue(_ plans: [PlanDescription], now: Timestamp) async throws(StoreError) -> [EnqueueResult] {
        try await commit { transaction in
            var results: [EnqueueResult] = []
            for plan in plans { results.append(try await Self.insert(plan, transaction, now: now)) }
            return results
        }
    }

    static func insert(_ plan: PlanDescription, _ transaction: PostgresSession.Transaction, now: Timestamp) async throws -> EnqueueResult {
        let runAt: Timestamp = switch plan.start {
        case .delay(let delay)?: now.adding(delay)
        case .runAt(let time)?: time
        case nil: now
        }
        let inserted = try await transaction.query(
            """
            INSERT INTO jobs (idempotency_key, queue, priority, state, run_at, created_at, updated_at, plan)
            VALUES ($1, $2, $3, 'pending', $4, $5, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id
            """,
            [.text(plan.idempotencyKey), .text(plan.queue), .int(Int64(plan.priority)), .time(runAt), .time(now), .json(plan.json)])
        guard let id = try inserted.first?.int("id") else {
            let existing = try await transaction.query("SELECT id FROM jobs WHERE idempotency_key = $1", [.text(plan.idempotencyKey)])[0].int("id")
            return EnqueueResult(id: existing, idempotencyKey: plan.idempotencyKey, created: false)
        }
        try await admit(to: plan.queue, transaction)
        try await transaction.event(id, .enqueued, at: now, ["queue": .string(plan.queue), "run_at": .string(runAt.iso8601)])
        return EnqueueResult(id: id, idempotencyKey: plan.idempotencyKey, created: true)
    }

    /// Makes sure the queue has its row, and throws `queueFull` when the job just inserted took it
    /// over its `max_pending` limit. Enqueues to a limited queue count one after the other, on any
    /// host, under an advisory lock on the queue's name (no right to update `queues` needed).
    private static func admit(to queue: String, _ transaction: PostgresSession.Transaction) async throws {
        try await transaction.query("INSERT INTO queues (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [.text(queue)])
        let row = try await transaction.query("SELECT max_pending FROM queues WHERE name = $1", [.text(queue)])[0]
        guard let limit = try row.optionalInt("max_pending") else { return }
        try await transaction.query("SELECT pg_advisory_xact_lock(hashtext('planq queue ' || $1))", [.text(queue)])
        let pending = try await transaction.query(
            "SELECT count(*) AS pending FROM jobs WHERE queue = $1 AND state = 'pending'", [.text(queue)])[0].int("pending")
        if pending > limit { throw StoreError.queueFull(queue: queue, limit: Int(limit)) }
    }

    /// A run's writes as one statement, committed on its own, when `statement(for:)` can say them
    /// so (a single write, or step results and the write that carries them); otherwise each write's
    /// statement in one transaction.
    public func commit(_ writes: [RunWrite], of lease: Lease.ID) async throws(StoreError) {
        guard !writes.isEmpty else { return }
        do {
            if let statement = Self.statement(for: writes, of: lease) {
                try await commit(transaction: false) { try await $0.query(statement.sql, statement.binds) }
            } else {
                try await commit { transaction in
                    for write in writes {
                        guard let statement = Self.statement(for: [write], of: lease) else { throw StoreError.corruptValue("a run write with no statement") }
                        try await transaction.query(statement.sql, statement.binds)
                    }
                }
            }
        } catch .server(let error) where error.sqlState == "22012" {
            throw .leaseLost(lease)
        }
    }

    /// `writes` as one statement that changes nothing unless the run still holds its lease and
    /// every write applies: step results (`stepFinished`), then at most one of a step's start, the
    /// run's end or its retry; or a release alone: one round trip where a transaction would take
    /// one per write. Its last line divides by zero (SQLSTATE 22012, read as `leaseLost`) unless
    /// every part applied, which undoes the statement. `nil` for other lists.
    static func statement(for writes: [RunWrite], of lease: Lease.ID) -> (sql: String, binds: [SQLBind])? {
        var binds: [SQLBind] = [.int(lease.jobID), .int(lease.token)]
        func bind(_ value: SQLBind) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        let places = writes.count
        var fence = "SELECT 1 FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'"
        // Each step result: its row looked up (before `ok` decides), then updated (after `place`).
        var lookups: [String] = [], results: [String] = []
        var last: String?
        for (index, write) in writes.enumerated() {
            let place = "place.places[\(index + 1)]"
            switch write {
            case .stepFinished(let stepKey, let attempt, let outcome, let now):
                guard last == nil else { return nil }
                let (output, error): (JSONValue?, ErrInfo?) = switch outcome {
                case .success(let value): (value, nil)
                case .failure(let error): (nil, error)
                }
                lookups.append("""
                    found\(index) AS (SELECT id FROM step_results WHERE job_id = $1 AND step_id = \(bind(.text(stepKey)))
                        AND attempt = \(bind(.int(Int64(attempt)))) AND superseded = 0 AND outcome IS NULL)
                    """)
                results.append("""
                    finished\(index) AS (UPDATE step_results s SET outcome = \(bind(.text(StepOutcome(outcome).rawValue))),
                        output = \(bind(.json(output))), error = \(bind(.json(error?.json))), finished_at = \(bind(.time(now))), finished_event = \(place),
                        finished_txid = \(currentTransaction)
                        FROM place WHERE s.id = (SELECT id FROM found\(index)) AND s.superseded = 0 AND s.outcome IS NULL RETURNING s.id)
                    """)
            case .stepStarted(let stepKey, let attempt, let now):
                guard last == nil else { return nil }
                let at = bind(.time(now))
                fence += " AND lease_expires_at > \(at)"
                last = """
                    last AS (INSERT INTO step_results (job_id, step_id, attempt, started_at, lease_token, started_event)
                        SELECT $1, \(bind(.text(stepKey))), \(bind(.int(Int64(attempt)))), \(at), $2, \(place) FROM place RETURNING id)
                    """
            case .finished(let outcome, let now):
                guard last == nil else { return nil }
                let (state, result, error, kind): (JobState, JSONValue?, ErrInfo?, EventKind) = switch outcome {
                case .succeeded(let value): (.succeeded, value, nil, .succeeded)
                case .failed(let error): (.failed, nil, error, .failed)
                case .cancelled(let error): (.cancelled, nil, error, .cancelled)
                }
                let at = bind(.time(now))
                last = jobChange(
                    "state = \(bind(.text(state.rawValue))), result = \(bind(.json(result))), last_error = \(bind(.json(error?.json))), finished_at = \(at), updated_at = \(at), cancel_requested = 0",
                    event: "\(place), $1, \(at), \(bind(.text(kind.rawValue))), \(bind(.json(error.map { ["error": $0.json] })))")
            case .rescheduled(let runAt, let error, let now):
                guard last == nil else { return nil }
                let at = bind(.time(now))
                last = jobChange(
                    "state = 'pending', run_at = \(bind(.time(runAt))), last_error = \(bind(.json(error.json))), updated_at = \(at)",
                    event: "\(place), $1, \(at), 'retry_scheduled', \(bind(.json(["run_at": .string(runAt.iso8601), "error": error.json])))")
            case .released(let now):
                guard writes.count == 1 else { return nil }
                let at = bind(.time(now))
                last = jobChange("state = 'pending', runs = runs - 1, updated_at = \(at)",
                                 event: "\(place), $1, \(at), 'released', \(bind(.json(["token": .integer(lease.token)])))") + """
                    ,
                    set_aside AS (
                        UPDATE step_results SET superseded = 1, outcome = coalesce(outcome, 'cancelled'), finished_at = coalesce(finished_at, \(at))
                        WHERE job_id = $1 AND lease_token = $2 AND superseded = 0 AND (outcome IS NULL OR outcome = 'cancelled')
                        AND EXISTS (SELECT 1 FROM last))
                    """
            }
        }
        let changes = writes.indices.compactMap { index -> String? in
            if case .stepFinished = writes[index] { "finished\(index)" } else { nil }
        } + (last == nil ? [] : ["last"])
        let foundAll = writes.indices.compactMap { index -> String? in
            if case .stepFinished = writes[index] { " AND EXISTS (SELECT 1 FROM found\(index))" } else { nil }
        }.joined()
        let sql = """
            WITH \(lookups.map { $0 + ",\n" }.joined())ok AS (SELECT 1 WHERE EXISTS (\(fence))\(foundAll)),
            place AS (\(nextPlaces("\(places)", when: "EXISTS (SELECT 1 FROM ok)"))),
            \((results + (last.map { [$0] } ?? [])).joined(separator: ",\n"))
            SELECT 1 / (\(changes.map { "(SELECT count(*) FROM \($0))" }.joined(separator: " + ")) = \(changes.count))::int AS applied
            """
        return (sql, binds)
    }

    /// The parts of a statement that change the run's job row (`set`, with its lease cleared) and
    /// append its event (`event`: the values of `id, job_id, at, kind, detail`), as `last` and `event`.
    private static func jobChange(_ set: String, event: String) -> String {
        """
        last AS (UPDATE jobs SET \(set), \(releasedLease)
            FROM place WHERE id = $1 AND lease_token = $2 AND state = 'running' RETURNING jobs.id),
        event AS (INSERT INTO job_events (id, job_id, at, kind, detail) SELECT \(event) FROM place, last RETURNING id)
        """
    }

    /// The columns of a lease, cleared.
    private static let releasedLease = """
        lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL, lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
        """

    /// One statement, no transaction: the renewal, and whether `planq cancel` asked the run to stop.
    public func heartbeat(_ lease: Lease.ID, duration: Duration, now: Timestamp) async throws(StoreError) -> Heartbeat {
        try await commit(transaction: false) { transaction in
            let row = try await transaction.query(
                """
                WITH held AS (UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND lease_token = $3 AND state = 'running' RETURNING id)
                SELECT (SELECT count(*) FROM held) AS held, (SELECT cancel_requested FROM jobs WHERE id = $2) AS cancel
                """, [.time(now.adding(PlanDuration(duration))), .int(lease.jobID), .int(lease.token)])[0]
            return Heartbeat(leaseHeld: try row.int("held") == 1, cancelRequested: try row.optionalInt("cancel") == 1)
        }
    }
}

extension PostgresSession.Transaction {
    /// What the journals of jobs `ids` hold, by job and step key.
    func stepRecords(jobIDs ids: [Int64]) async throws -> [Int64: [String: StepRecord]] {
        var records: [Int64: [String: StepRecord]] = [:]
        for row in try await query(
            "SELECT job_id, step_id, outcome, output, error FROM step_results WHERE job_id = ANY($1) AND superseded = 0 ORDER BY job_id, step_id, attempt",
            [.ints(ids)])
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
