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
        // The job, its queue's row and its event in one statement; the queue's limit as it was
        // before (a queue this statement made has none).
        let inserted = try await transaction.query(
            """
            WITH job AS (
                INSERT INTO jobs (idempotency_key, queue, priority, state, run_at, created_at, updated_at, plan)
                VALUES ($1, $2, $3, 'pending', $4, $5, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id),
            queue AS (INSERT INTO queues (name) SELECT $2 WHERE EXISTS (SELECT 1 FROM job) ON CONFLICT (name) DO NOTHING),
            event AS (INSERT INTO job_events (id, job_id, at, kind, detail) SELECT nextval('history_place'), id, $5, 'enqueued', $7 FROM job)
            SELECT id, (SELECT max_pending FROM queues WHERE name = $2) AS max_pending FROM job
            """,
            [.text(plan.idempotencyKey), .text(plan.queue), .int(Int64(plan.priority)), .time(runAt), .time(now), .json(plan.json),
             .json(["queue": .string(plan.queue), "run_at": .string(runAt.iso8601)])])
        guard let row = inserted.first else {
            let existing = try await transaction.query("SELECT id FROM jobs WHERE idempotency_key = $1", [.text(plan.idempotencyKey)])[0].int("id")
            return EnqueueResult(id: existing, idempotencyKey: plan.idempotencyKey, created: false)
        }
        if let limit = try row.optionalInt("max_pending") { try await admit(to: plan.queue, limit: limit, transaction) }
        return EnqueueResult(id: try row.int("id"), idempotencyKey: plan.idempotencyKey, created: true)
    }

    /// Throws `queueFull` when the job just inserted took its queue over its `max_pending`
    /// `limit`. Enqueues to a limited queue count one after the other, on any host, under an
    /// advisory lock on the queue's name (no right to update `queues` needed).
    private static func admit(to queue: String, limit: Int64, _ transaction: PostgresSession.Transaction) async throws {
        try await transaction.query("SELECT pg_advisory_xact_lock(hashtext('planq queue ' || $1))", [.text(queue)])
        let pending = try await transaction.query(
            "SELECT count(*) AS pending FROM jobs WHERE queue = $1 AND state = 'pending'", [.text(queue)])[0].int("pending")
        if pending > limit { throw StoreError.queueFull(queue: queue, limit: Int(limit)) }
    }

    /// A run's writes, committed with other runs' writes waiting at the same time (group commit:
    /// see `writeWaiting`) when `parts(for:)` can say them in one statement; otherwise each
    /// write's statement in one transaction of its own.
    public func commit(_ writes: [RunWrite], of lease: Lease.ID) async throws(StoreError) {
        guard !writes.isEmpty else { return }
        guard let statement = Self.statement(for: writes, of: lease) else {
            do {
                return try await commit { transaction in
                    for write in writes {
                        guard let statement = Self.statement(for: [write], of: lease) else { throw StoreError.corruptValue("a run write with no statement") }
                        try await transaction.query(statement.sql, statement.binds)
                    }
                }
            } catch {
                throw Self.runError(error, lease)
            }
        }
        let pending = PendingRunWrite(writes: writes, lease: lease, statement: statement)
        waitingWrites.withLock { $0.append(pending) }
        var taken: [PendingRunWrite] = [], outcomes: [Result<Void, StoreError>] = []
        do {
            try await pool.run(transaction: true) { transaction in
                taken = waitingWrites.withLock { waiting in
                    defer { waiting.removeFirst(min(waiting.count, Self.writesPerBatch)) }
                    return Array(waiting.prefix(Self.writesPerBatch))
                }
                outcomes = try await writeWaiting(taken, transaction)
            }
        } catch {
            // The commit was not confirmed: what the batch's writes did is unknown, a fault for
            // each run whose write applied; a write refused (its lease lost) stays refused.
            let fault = Self.runError(error, pending.lease)
            for (index, write) in taken.enumerated() {
                if index < outcomes.count, case .failure = outcomes[index] { write.complete(outcomes[index]) } else { write.complete(.failure(fault)) }
            }
            outcomes = []
            // No connection: unless another call took it meanwhile, this write was not tried.
            let untried = waitingWrites.withLock { waiting in
                guard let index = waiting.firstIndex(where: { $0 === pending }) else { return false }
                waiting.remove(at: index)
                return true
            }
            if untried { throw error }
        }
        // Told only now, once COMMIT was answered: nothing acts on a write the server may not hold.
        for (write, outcome) in zip(taken, outcomes) { write.complete(outcome) }
        try await pending.outcome().get()
    }

    /// The most runs' writes one call to the server carries.
    static let writesPerBatch = 16

    /// Writes `batch` (runs' writes that waited for a connection) in the caller's transaction;
    /// each run's outcome, in order, for the caller to give once the transaction committed.
    /// Runs whose writes have the same shape share one statement, which applies each run's part
    /// only when that run still holds its lease; a run that lost it is told so, the others commit.
    /// Should the statement fail as a whole (a part that applied only half, a conflict), each run
    /// is written on its own, so that the error reaches only its run. Each statement but a lone
    /// one runs under a savepoint, so that its failure leaves the others' writes in place.
    private func writeWaiting(_ batch: [PendingRunWrite], _ transaction: PostgresSession.Transaction) async throws -> [Result<Void, StoreError>] {
        var groups: [String: [PendingRunWrite]] = [:], order: [String] = []
        for pending in batch {
            if groups[pending.shape] == nil { order.append(pending.shape) }
            groups[pending.shape, default: []].append(pending)
        }
        let guarded = batch.count > 1
        var outcomes: [ObjectIdentifier: Result<Void, StoreError>] = [:]
        for shape in order {
            let group = groups[shape]!.sorted { $0.lease.jobID < $1.lease.jobID }
            let started = ContinuousClock.now
            if group.count > 1, let statement = Self.statement(for: group.map { ($0.writes, $0.lease) }) {
                do {
                    let held = try await transaction.guarded(guarded) { try await $0.query(statement.sql, statement.binds)[0].text("held") }
                    for (pending, flag) in zip(group, held) { outcomes[ObjectIdentifier(pending)] = flag == "1" ? .success(()) : .failure(.leaseLost(pending.lease)) }
                    commitObserver?(group.count, .now - started)
                    continue
                } catch {}
            }
            for pending in group {
                let started = ContinuousClock.now
                do {
                    _ = try await transaction.guarded(guarded) { try await $0.query(pending.statement.sql, pending.statement.binds) }
                    outcomes[ObjectIdentifier(pending)] = .success(())
                    commitObserver?(1, .now - started)
                } catch {
                    // Unguarded (the batch's one statement), the transaction is aborted: its COMMIT
                    // answers ROLLBACK, and this outcome stands.
                    outcomes[ObjectIdentifier(pending)] = .failure(Self.runError(error, pending.lease))
                }
            }
        }
        return batch.map { outcomes[ObjectIdentifier($0)] ?? .failure(.corruptValue("a run write without an outcome")) }
    }

    /// `error` as a run's write reports it: a statement's division by zero is a lost lease.
    private static func runError(_ error: any Error, _ lease: Lease.ID) -> StoreError {
        let error = PostgresSession.storeError(error)
        if case .server(let server) = error, server.sqlState == "22012" { return .leaseLost(lease) }
        return error
    }

    /// `writes` as one statement that changes nothing unless the run still holds its lease and
    /// every write applies (see `parts(for:)`): its last line divides by zero (SQLSTATE 22012,
    /// read as `leaseLost`) unless every part applied, which undoes the statement.
    static func statement(for writes: [RunWrite], of lease: Lease.ID) -> (sql: String, binds: [SQLBind])? {
        var binds = StatementBinds()
        guard let run = parts(for: writes, of: lease, prefix: "", binds: &binds) else { return nil }
        return ("WITH \(run.parts.joined(separator: ",\n"))\nSELECT 1 / (\(run.applied))::int AS applied", binds.values)
    }

    /// Several runs' writes as one statement: each run's part applies only when that run holds
    /// its lease (`held`: a 1 or a 0 per run, in order); should a run that holds it not apply all
    /// its writes, the statement divides by zero and changes nothing.
    static func statement(for runs: [(writes: [RunWrite], lease: Lease.ID)]) -> (sql: String, binds: [SQLBind])? {
        var binds = StatementBinds()
        var all: [RunParts] = []
        for (index, run) in runs.enumerated() {
            guard let parts = parts(for: run.writes, of: run.lease, prefix: "r\(index)_", binds: &binds) else { return nil }
            all.append(parts)
        }
        let whole = all.map { "(NOT EXISTS (SELECT 1 FROM \($0.ok)) OR \($0.applied))" }.joined(separator: " AND ")
        let held = all.map { "(SELECT count(*) FROM \($0.ok))" }.joined(separator: ", ")
        return ("WITH \(all.flatMap(\.parts).joined(separator: ",\n"))\nSELECT 1 / (\(whole))::int AS applied, concat(\(held)) AS held", binds.values)
    }

    /// One run's writes as the parts of a `WITH` (their names start with `prefix`), which change
    /// nothing unless the run still holds its lease (`ok` has a row then): step results
    /// (`stepFinished`), then at most one of a step's start, the run's end or its retry; or a
    /// release alone. `applied` holds when every part changed its row. `nil` for other lists.
    /// The fence locks the job's row until commit, and reads its latest version: a recovery or a
    /// claim that committed after the statement began fails it, and none can commit before it ends.
    static func parts(for writes: [RunWrite], of lease: Lease.ID, prefix p: String, binds: inout StatementBinds) -> RunParts? {
        let job = binds.add(.int(lease.jobID)), token = binds.add(.int(lease.token))
        var fence = "SELECT 1 FROM jobs WHERE id = \(job) AND lease_token = \(token) AND state = 'running'"
        // Each step result: its row looked up (before `ok` decides), then updated (after `place`).
        var lookups: [String] = [], results: [String] = []
        var last: String?
        for (index, write) in writes.enumerated() {
            let place = "\(p)place.places[\(index + 1)]"
            switch write {
            case .stepFinished(let stepKey, let attempt, let outcome, let now):
                guard last == nil else { return nil }
                let (output, error): (JSONValue?, ErrInfo?) = switch outcome {
                case .success(let value): (value, nil)
                case .failure(let error): (nil, error)
                }
                lookups.append("""
                    \(p)found\(index) AS (SELECT id FROM step_results WHERE job_id = \(job) AND step_id = \(binds.add(.text(stepKey)))
                        AND attempt = \(binds.add(.int(Int64(attempt)))) AND superseded = 0 AND outcome IS NULL)
                    """)
                results.append("""
                    \(p)finished\(index) AS (UPDATE step_results s SET outcome = \(binds.add(.text(StepOutcome(outcome).rawValue))),
                        output = \(binds.add(.json(output))), error = \(binds.add(.json(error?.json))), finished_at = \(binds.add(.time(now))), finished_event = \(place),
                        finished_txid = \(currentTransaction)
                        FROM \(p)place WHERE s.id = (SELECT id FROM \(p)found\(index)) AND s.superseded = 0 AND s.outcome IS NULL RETURNING s.id)
                    """)
            case .stepStarted(let stepKey, let attempt, let now):
                guard last == nil else { return nil }
                let at = binds.add(.time(now))
                fence += " AND lease_expires_at > \(at)"
                last = """
                    \(p)last AS (INSERT INTO step_results (job_id, step_id, attempt, started_at, lease_token, started_event)
                        SELECT \(job), \(binds.add(.text(stepKey))), \(binds.add(.int(Int64(attempt)))), \(at), \(token), \(place) FROM \(p)place RETURNING id)
                    """
            case .finished(let outcome, let now):
                guard last == nil else { return nil }
                let (state, result, error, kind): (JobState, JSONValue?, ErrInfo?, EventKind) = switch outcome {
                case .succeeded(let value): (.succeeded, value, nil, .succeeded)
                case .failed(let error): (.failed, nil, error, .failed)
                case .cancelled(let error): (.cancelled, nil, error, .cancelled)
                }
                let at = binds.add(.time(now))
                last = jobChange(
                    "state = \(binds.add(.text(state.rawValue))), result = \(binds.add(.json(result))), last_error = \(binds.add(.json(error?.json))), finished_at = \(at), updated_at = \(at), cancel_requested = 0",
                    event: "\(place), \(job), \(at), \(binds.add(.text(kind.rawValue))), \(binds.add(.json(error.map { ["error": $0.json] })))",
                    job: job, token: token, prefix: p)
            case .rescheduled(let runAt, let error, let now):
                guard last == nil else { return nil }
                let at = binds.add(.time(now))
                last = jobChange(
                    "state = 'pending', run_at = \(binds.add(.time(runAt))), last_error = \(binds.add(.json(error.json))), updated_at = \(at)",
                    event: "\(place), \(job), \(at), 'retry_scheduled', \(binds.add(.json(["run_at": .string(runAt.iso8601), "error": error.json])))",
                    job: job, token: token, prefix: p)
            case .released(let now):
                guard writes.count == 1 else { return nil }
                let at = binds.add(.time(now))
                last = jobChange("state = 'pending', runs = runs - 1, updated_at = \(at)",
                                 event: "\(place), \(job), \(at), 'released', \(binds.add(.json(["token": .integer(lease.token)])))",
                                 job: job, token: token, prefix: p) + """
                    ,
                    \(p)set_aside AS (
                        UPDATE step_results SET superseded = 1, outcome = coalesce(outcome, 'cancelled'), finished_at = coalesce(finished_at, \(at))
                        WHERE job_id = \(job) AND lease_token = \(token) AND superseded = 0 AND (outcome IS NULL OR outcome = 'cancelled')
                        AND EXISTS (SELECT 1 FROM \(p)last))
                    """
            }
        }
        let changes = writes.indices.compactMap { index -> String? in
            if case .stepFinished = writes[index] { "\(p)finished\(index)" } else { nil }
        } + (last == nil ? [] : ["\(p)last"])
        let foundAll = writes.indices.compactMap { index -> String? in
            if case .stepFinished = writes[index] { " AND EXISTS (SELECT 1 FROM \(p)found\(index))" } else { nil }
        }.joined()
        let parts = lookups + [
            "\(p)ok AS (SELECT 1 WHERE EXISTS (\(fence) FOR SHARE)\(foundAll))",
            "\(p)place AS (\(nextPlaces("\(writes.count)", when: "EXISTS (SELECT 1 FROM \(p)ok)")))",
        ] + results + (last.map { [$0] } ?? [])
        return RunParts(parts: parts, ok: "\(p)ok",
                        applied: "\(changes.map { "(SELECT count(*) FROM \($0))" }.joined(separator: " + ")) = \(changes.count)")
    }

    /// The parts of a statement that change the run's job row (`set`, with its lease cleared) and
    /// append its event (`event`: the values of `id, job_id, at, kind, detail`), as `last` and `event`.
    private static func jobChange(_ set: String, event: String, job: String, token: String, prefix p: String) -> String {
        """
        \(p)last AS (UPDATE jobs SET \(set), \(releasedLease)
            FROM \(p)place WHERE id = \(job) AND lease_token = \(token) AND state = 'running' RETURNING jobs.id),
        \(p)event AS (INSERT INTO job_events (id, job_id, at, kind, detail) SELECT \(event) FROM \(p)place, \(p)last RETURNING id)
        """
    }

    /// The columns of a lease, cleared.
    private static let releasedLease = """
        lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL, lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
        """

    /// One statement, no transaction: the renewal, and whether `planq cancel` asked the run to stop.
    public func heartbeat(_ lease: Lease.ID, duration: Duration, now: Timestamp) async throws(StoreError) -> Heartbeat {
        // In a transaction: a heartbeat counts once its COMMIT is answered, not its statement.
        try await commit { transaction in
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
    /// Runs `body`; with `savepoint`, under a savepoint rolled back should it fail, so that the
    /// transaction goes on without its writes.
    func guarded<T>(_ savepoint: Bool, _ body: (Self) async throws -> T) async throws -> T {
        guard savepoint else { return try await body(self) }
        try await execute("SAVEPOINT run_write")
        do {
            return try await body(self)
        } catch {
            try await execute("ROLLBACK TO SAVEPOINT run_write")
            throw error
        }
    }

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

/// The values bound to a statement being built, each added as the next `$n`.
struct StatementBinds {
    private(set) var values: [SQLBind] = []

    /// Adds `value`; its placeholder.
    mutating func add(_ value: SQLBind) -> String {
        values.append(value)
        return "$\(values.count)"
    }
}

/// One run's writes as parts of a statement (see `PostgresStore.parts(for:of:prefix:binds:)`).
struct RunParts {
    let parts: [String]
    /// The part that has a row when the run holds its lease.
    let ok: String
    /// An SQL condition: every write changed its row.
    let applied: String
}

/// A run's writes waiting to be written with others, and what came of them.
final class PendingRunWrite: Sendable {
    let writes: [RunWrite]
    let lease: Lease.ID
    /// The writes as a statement of their own.
    let statement: (sql: String, binds: [SQLBind])
    /// Writes of the same shape (the same statement but for its values, and NULLs in the same
    /// places) share a statement.
    let shape: String
    private let state = Locked<(outcome: Result<Void, StoreError>?, waiter: CheckedContinuation<Result<Void, StoreError>, Never>?)>((nil, nil))

    init(writes: [RunWrite], lease: Lease.ID, statement: (sql: String, binds: [SQLBind])) {
        self.writes = writes
        self.lease = lease
        self.statement = statement
        shape = statement.sql + SQLBind.nullPattern(statement.binds)
    }

    /// Sets the outcome and wakes the run waiting for it.
    func complete(_ outcome: Result<Void, StoreError>) {
        let waiter = state.withLock { state in
            defer { state.waiter = nil }
            state.outcome = outcome
            return state.waiter
        }
        waiter?.resume(returning: outcome)
    }

    /// The outcome, once the call that took these writes set it.
    func outcome() async -> Result<Void, StoreError> {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.outcome == nil { state.waiter = continuation }
                return state.outcome
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
