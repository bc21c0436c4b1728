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

    /// One write is one statement, committed on its own; so are the successes a run carries with
    /// its next write (see `carrying`). Other lists share a transaction.
    public func commit(_ writes: [RunWrite], of lease: Lease.ID) async throws(StoreError) {
        if writes.count > 1, let statement = Self.carrying(writes, of: lease) {
            do {
                try await commit(transaction: false) { try await $0.query(statement.sql, statement.binds) }
            } catch .server(let error) where error.sqlState == "22012" {
                throw .leaseLost(lease)
            }
            return
        }
        try await commit(transaction: writes.count > 1) { transaction in
            for write in writes { try await Self.perform(write, of: lease, transaction) }
        }
    }

    /// Step successes carried by a run and the write that carries them (the next step's start, or
    /// the run's end or retry) as one statement, all or nothing: it holds the history's row only
    /// while it runs, where a transaction would hold it across round trips and keep the other
    /// connections' writes waiting. Its last line divides by zero (SQLSTATE 22012, read as
    /// `leaseLost`) unless every part applied, which undoes the statement. `nil` for other lists.
    static func carrying(_ writes: [RunWrite], of lease: Lease.ID) -> (sql: String, binds: [SQLBind])? {
        guard let last = writes.last else { return nil }
        let carried = writes.dropLast()
        var binds: [SQLBind] = [.int(lease.jobID), .int(lease.token)]
        func bind(_ value: SQLBind) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        let places = writes.count
        var found: [String] = [], finished: [String] = []
        for (index, write) in carried.enumerated() {
            guard case .stepFinished(let stepKey, let attempt, .success(let output), let now) = write else { return nil }
            found.append("""
                found\(index) AS (SELECT id FROM step_results WHERE job_id = $1 AND step_id = \(bind(.text(stepKey)))
                    AND attempt = \(bind(.int(Int64(attempt)))) AND superseded = 0 AND outcome IS NULL)
                """)
            finished.append("""
                finished\(index) AS (UPDATE step_results s SET outcome = 'ok', output = \(bind(.json(output))), error = NULL,
                    finished_at = \(bind(.time(now))), finished_event = place.first + \(index + 1)
                    FROM found\(index), place WHERE s.id = found\(index).id AND s.superseded = 0 AND s.outcome IS NULL RETURNING s.id)
                """)
        }
        var fence = "SELECT 1 FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'"
        let final: String
        switch last {
        case .stepStarted(let stepKey, let attempt, let now):
            let at = bind(.time(now))
            fence += " AND lease_expires_at > \(at)"
            final = """
                last AS (INSERT INTO step_results (job_id, step_id, attempt, started_at, lease_token, started_event)
                    SELECT $1, \(bind(.text(stepKey))), \(bind(.int(Int64(attempt)))), \(at), $2, place.first + \(places) FROM place RETURNING id)
                """
        case .finished(let outcome, let now):
            let (state, result, error, kind): (JobState, JSONValue?, ErrInfo?, EventKind) = switch outcome {
            case .succeeded(let value): (.succeeded, value, nil, .succeeded)
            case .failed(let error): (.failed, nil, error, .failed)
            case .cancelled(let error): (.cancelled, nil, error, .cancelled)
            }
            let at = bind(.time(now))
            final = """
                last AS (UPDATE jobs SET state = \(bind(.text(state.rawValue))), result = \(bind(.json(result))),
                    last_error = \(bind(.json(error?.json))), finished_at = \(at), updated_at = \(at), cancel_requested = 0, \(releasedLease)
                    FROM place WHERE id = $1 AND lease_token = $2 AND state = 'running' RETURNING jobs.id),
                event AS (INSERT INTO job_events (id, job_id, at, kind, detail)
                    SELECT place.first + \(places), $1, \(at), \(bind(.text(kind.rawValue))), \(bind(.json(error.map { ["error": $0.json] })))
                    FROM place, last RETURNING id)
                """
        case .rescheduled(let runAt, let error, let now):
            let at = bind(.time(now))
            final = """
                last AS (UPDATE jobs SET state = 'pending', run_at = \(bind(.time(runAt))), last_error = \(bind(.json(error.json))),
                    updated_at = \(at), \(releasedLease)
                    FROM place WHERE id = $1 AND lease_token = $2 AND state = 'running' RETURNING jobs.id),
                event AS (INSERT INTO job_events (id, job_id, at, kind, detail)
                    SELECT place.first + \(places), $1, \(at), 'retry_scheduled',
                        \(bind(.json(["run_at": .string(runAt.iso8601), "error": error.json]))) FROM place, last RETURNING id)
                """
        default:
            return nil
        }
        let applied = (carried.indices.map { "(SELECT count(*) FROM finished\($0))" } + ["(SELECT count(*) FROM last)"]).joined(separator: " + ")
        let sql = """
            WITH \((found + [""]).joined(separator: ",\n"))ok AS (SELECT 1 WHERE EXISTS (\(fence))\(carried.indices.map { " AND EXISTS (SELECT 1 FROM found\($0))" }.joined())),
            place AS (UPDATE history_sequence SET last = last + \(places) WHERE id = 1 AND EXISTS (SELECT 1 FROM ok) RETURNING last - \(places) AS first),
            \((finished + [final]).joined(separator: ",\n"))
            SELECT 1 / (\(applied) = \(places))::int AS applied
            """
        return (sql, binds)
    }

    /// Performs `write` in one statement that changes nothing unless the run still holds its lease.
    static func perform(_ write: RunWrite, of lease: Lease.ID, _ transaction: PostgresSession.Transaction) async throws {
        let (job, token) = (SQLBind.int(lease.jobID), SQLBind.int(lease.token))
        switch write {
        case .stepStarted(let stepKey, let attempt, let now):
            // Only while the lease is unexpired, besides its token (as on SQLite).
            try transaction.requireOne(try await transaction.query(
                """
                WITH place AS (\(nextPlace("EXISTS (SELECT 1 FROM jobs WHERE id = $1 AND lease_token = $5 AND state = 'running' AND lease_expires_at > $4)")))
                INSERT INTO step_results (job_id, step_id, attempt, started_at, lease_token, started_event)
                SELECT $1, $2, $3, $4, $5, last FROM place
                RETURNING id
                """, [job, .text(stepKey), .int(Int64(attempt)), .time(now), token]), lease)
        case .stepFinished(let stepKey, let attempt, let outcome, let now):
            let (output, error): (JSONValue?, ErrInfo?) = switch outcome {
            case .success(let value): (value, nil)
            case .failure(let error): (nil, error)
            }
            try transaction.requireOne(try await transaction.query(
                """
                WITH target AS (
                    SELECT id FROM step_results WHERE job_id = $5 AND step_id = $6 AND attempt = $7 AND superseded = 0 AND outcome IS NULL
                    AND EXISTS (SELECT 1 FROM jobs WHERE id = $5 AND lease_token = $8 AND state = 'running')),
                place AS (\(nextPlace("EXISTS (SELECT 1 FROM target)")))
                UPDATE step_results s SET outcome = $1, output = $2, error = $3, finished_at = $4, finished_event = place.last
                FROM target, place WHERE s.id = target.id AND s.superseded = 0 AND s.outcome IS NULL
                RETURNING s.id
                """, [.text(StepOutcome(outcome).rawValue), .json(output), .json(error?.json), .time(now), job, .text(stepKey),
                      .int(Int64(attempt)), token]), lease)
        case .finished(let outcome, let now):
            let (state, result, error, kind): (JobState, JSONValue?, ErrInfo?, EventKind) = switch outcome {
            case .succeeded(let value): (.succeeded, value, nil, .succeeded)
            case .failed(let error): (.failed, nil, error, .failed)
            case .cancelled(let error): (.cancelled, nil, error, .cancelled)
            }
            try transaction.requireOne(try await transaction.query(
                """
                WITH done AS (
                    UPDATE jobs SET state = $1, result = $2, last_error = $3, finished_at = $4, updated_at = $4, cancel_requested = 0,
                        \(releasedLease)
                    WHERE id = $5 AND lease_token = $6 AND state = 'running' RETURNING id),
                \(eventOf("done", at: "$4", kind: "$7", detail: "$8"))
                """, [.text(state.rawValue), .json(result), .json(error?.json), .time(now), job, token, .text(kind.rawValue),
                      .json(error.map { ["error": $0.json] })]), lease)
        case .rescheduled(let runAt, let error, let now):
            try transaction.requireOne(try await transaction.query(
                """
                WITH done AS (
                    UPDATE jobs SET state = 'pending', run_at = $1, last_error = $2, updated_at = $3, \(releasedLease)
                    WHERE id = $4 AND lease_token = $5 AND state = 'running' RETURNING id),
                \(eventOf("done", at: "$3", kind: "'retry_scheduled'", detail: "$6"))
                """, [.time(runAt), .json(error.json), .time(now), job, token,
                      .json(["run_at": .string(runAt.iso8601), "error": error.json])]), lease)
        case .released(let now):
            try transaction.requireOne(try await transaction.query(
                """
                WITH done AS (
                    UPDATE jobs SET state = 'pending', runs = runs - 1, updated_at = $1, \(releasedLease)
                    WHERE id = $2 AND lease_token = $3 AND state = 'running' RETURNING id),
                set_aside AS (
                    UPDATE step_results SET superseded = 1, outcome = coalesce(outcome, 'cancelled'), finished_at = coalesce(finished_at, $1)
                    WHERE job_id = $2 AND lease_token = $3 AND superseded = 0 AND (outcome IS NULL OR outcome = 'cancelled')
                    AND EXISTS (SELECT 1 FROM done)),
                \(eventOf("done", at: "$1", kind: "'released'", detail: "$4"))
                """, [.time(now), job, token, .json(["token": .integer(lease.token)])]), lease)
        }
    }

    /// The columns of a lease, cleared.
    private static let releasedLease = """
        lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL, lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
        """

    /// The end of a `WITH` whose `changed` names the job a statement changed (its `id`): the job's
    /// event, at the history's next place, one row returned when it was changed.
    private static func eventOf(_ changed: String, at: String, kind: String, detail: String) -> String {
        """
        place AS (\(nextPlace("EXISTS (SELECT 1 FROM \(changed))")))
        INSERT INTO job_events (id, job_id, at, kind, detail) SELECT place.last, \(changed).id, \(at), \(kind), \(detail) FROM place, \(changed)
        RETURNING id
        """
    }

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
