import PlanCore
import PlanStore

extension PostgresStore {
    /// As on SQLite, with `FOR UPDATE SKIP LOCKED`: claims on several hosts take different jobs
    /// without waiting for each other. Claims run on the session that holds the worker's session
    /// lock, which a new connection takes again before anything else. A rate-limited queue's row is locked by the claim that
    /// counts its window, so its limit holds across hosts.
    public func claim(_ request: ClaimRequest, now: Timestamp) async throws(StoreError) -> ClaimBatch {
        let expiry = now.adding(PlanDuration(request.duration))
        let owner = request.owner
        let (rows, records, begun, nextRunAt) = try await commit(onPrimary: true) { transaction -> ([SQLRow], [Int64: [String: StepRecord]], [Int64: String], Timestamp?) in
            let dueNow = try await transaction.dueQueues(now: now).filter { request.queues?.contains($0.name) ?? true }
            let rated = dueNow.filter(\.rated).map(\.name)
            let allowances = rated.isEmpty ? [:] : try await transaction.rateAllowances(of: rated, now: now)
            let due = dueNow.map(\.name).filter { (allowances[$0]?.allowed ?? 1) > 0 }
            var claimed: [(order: (Int64, Int64, Int64), row: SQLRow)] = []
            for (queue, granted) in due.isEmpty ? [] : request.grants(due) where granted > 0 {
                let limit = min(granted, allowances[queue]?.allowed ?? granted)
                // The jobs, their `claimed` events and (asked to) their first steps begun, in one
                // statement: each job's event takes its place as its row is read, before its step.
                let rows = try await transaction.query(
                    """
                    WITH claimed AS (
                        UPDATE jobs SET state = 'running', lease_token = lease_token + 1, runs = runs + 1,
                            lease_owner = $1, lease_host = $2, lease_boot_id = $3, lease_pid = $4, lease_pid_start = $5,
                            lease_expires_at = $6, updated_at = $7
                        WHERE id IN (
                            SELECT id FROM jobs WHERE state = 'pending' AND queue = $8 AND run_at <= $7
                            AND NOT EXISTS (SELECT 1 FROM queues WHERE name = $8 AND paused = 1)
                            ORDER BY priority, run_at, id LIMIT $9 FOR UPDATE SKIP LOCKED)
                        RETURNING id, queue, priority, run_at, lease_token, runs, plan),
                    placed AS (SELECT claimed.*, nextval('history_place') AS place FROM claimed),
                    event AS (
                        INSERT INTO job_events (id, job_id, at, kind, detail)
                        SELECT place, id, $7, 'claimed', json_build_object('owner', $1::text, 'run', runs, 'token', lease_token) FROM placed),
                    first AS (
                        INSERT INTO step_results (job_id, step_id, attempt, started_at, lease_token, started_event)
                        SELECT id, plan #>> '{steps,0,id}', 1, $7, lease_token, nextval('history_place') FROM placed
                        WHERE $10::int = 1 AND lease_token = 1 AND plan #>> '{steps,0,id}' IS NOT NULL AND plan #> '{steps,0,each}' IS NULL
                        RETURNING job_id, step_id)
                    SELECT p.id, p.queue, p.priority, p.run_at, p.lease_token, p.runs, p.plan, f.step_id AS begun_step
                    FROM placed p LEFT JOIN first f ON f.job_id = p.id
                    """,
                    [.text(owner.label), .text(owner.host), .text(owner.bootID), .int(Int64(owner.pid)), .int(owner.pidStart),
                     .time(expiry), .time(now), .text(queue), .int(Int64(limit)), .int(request.beginFirstSteps ? 1 : 0)])
                claimed += try rows.map { row in
                    ((try row.int("priority"), try row.time("run_at")?.millisecondsSinceEpoch ?? 0, try row.int("id")), row)
                }.sorted { $0.order < $1.order }
                if allowances[queue] != nil, !rows.isEmpty {
                    try await transaction.query("INSERT INTO queue_starts (queue, at) SELECT $1, $2 FROM generate_series(1, $3)",
                                                [.text(queue), .time(now), .int(Int64(rows.count))])
                    try await transaction.query("UPDATE queues SET rate_used = rate_used + $1 WHERE name = $2", [.int(Int64(rows.count)), .text(queue)])
                }
            }
            guard !claimed.isEmpty else {
                let next = [try await transaction.nextRunAt(queues: request.queues, after: now)] + allowances.values.map(\.freesAt)
                return ([], [:], [:], next.compactMap { $0 }.min())
            }
            let claimedBefore = try claimed.filter { entry in try entry.row.int("lease_token") > 1 }.map { entry in try entry.row.int("id") }
            let records = claimedBefore.isEmpty ? [:] : try await transaction.stepRecords(jobIDs: claimedBefore)
            var begun: [Int64: String] = [:]
            for entry in claimed {
                if let step = try entry.row.optionalText("begun_step") { begun[try entry.row.int("id")] = step }
            }
            return (claimed.map(\.row), records, begun, nil)
        }
        var leases: [Lease] = []
        var unreadable: [(id: Lease.ID, problem: String)] = []
        for row in rows {
            let id = Lease.ID(jobID: try row.int("id"), token: try row.int("lease_token"))
            do {
                guard let stored = try row.json("plan") else { throw StoreError.corruptValue("the plan is NULL") }
                let plan = try PlanDescription.decode(stored, newKey: { "" })
                leases.append(Lease(id: id, queue: try row.text("queue"), priority: Int(try row.int("priority")),
                                    runAt: (try row.time("run_at") ?? now).iso8601, runs: Int(try row.int("runs")), plan: plan,
                                    records: records[id.jobID] ?? [:], begunStep: begun[id.jobID], store: self))
            } catch {
                unreadable.append((id, "\(error)"))
            }
        }
        // A plan this planq cannot read ends its job failed, as on SQLite.
        for job in unreadable {
            let error = ErrInfo(code: .planUnreadable, message: "the stored plan cannot be read: \(job.problem)", retryable: false)
            try await commit([.finished(.failed(error), at: now)], of: job.id)
        }
        return ClaimBatch(leases: leases, nextRunAt: nextRunAt)
    }

    /// Each queue's first due job, in the claim's order, so that the look-up is a seek in
    /// `jobs_due` whatever the statistics say. Asked with `EXISTS`, the planner may scan the table
    /// instead: after a burst was analyzed as pending and then mostly ran, it read every finished
    /// row ahead of the first pending one, on every claim.
    package static let dueQueuesSQL = """
        SELECT q.name, (q.rate_limit IS NOT NULL)::int AS rated FROM queues q,
        LATERAL (SELECT 1 FROM jobs j WHERE j.state = 'pending' AND j.queue = q.name AND j.run_at <= $1
                 ORDER BY j.priority, j.run_at, j.id LIMIT 1) first
        WHERE q.paused = 0 ORDER BY q.name
        """

    /// The first job not yet due of each unpaused queue and priority, a seek in `jobs_due` each:
    /// an empty claim costs ten seeks a queue, not a read of every job waiting for a later time.
    package static let nextRunAtSQL = """
        SELECT min(later.run_at) AS next FROM queues q
        CROSS JOIN generate_series(\(PlanDescription.priorities.lowerBound), \(PlanDescription.priorities.upperBound)) p,
        LATERAL (SELECT j.run_at FROM jobs j WHERE j.state = 'pending' AND j.queue = q.name AND j.priority = p
                 AND j.run_at > $1 ORDER BY j.run_at LIMIT 1) later
        WHERE q.paused = 0 AND ($2::text[] IS NULL OR q.name = ANY($2))
        """

    public func expireLeases(now: Timestamp) async throws(StoreError) -> [Int64] {
        try await commit { transaction in
            let rows = try await transaction.query(
                """
                UPDATE jobs SET state = 'pending', updated_at = $1, lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL,
                    lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
                WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at <= $1 ORDER BY id FOR UPDATE SKIP LOCKED)
                RETURNING id, lease_token
                """, [.time(now)])
            var ids: [Int64] = []
            for row in rows.sorted(by: { (try? $0.int("id")) ?? 0 < (try? $1.int("id")) ?? 0 }) {
                let id = try row.int("id")
                try await transaction.event(id, .leaseExpired, at: now, ["reason": "the lease expired", "token": .integer(try row.int("lease_token"))])
                ids.append(id)
            }
            return ids
        }
    }

    /// As on SQLite for the owners on this host, and across hosts: a worker whose database
    /// session ended (killed, crashed, its host lost) no longer holds its session lock, and its
    /// running jobs go back to pending at once. The lock is held until this transaction commits,
    /// so a worker that was only cut off and connects again finds its leases gone.
    public func recoverDeadOwners(me: LeaseOwner, now: Timestamp) async throws(StoreError) -> [Int64] {
        try await commit { transaction in
            var recovered: [Int64] = []
            let rows = try await transaction.query(
                "SELECT id, lease_token, lease_boot_id, lease_pid, lease_pid_start FROM jobs WHERE state = 'running' AND lease_host = $1 ORDER BY id",
                [.text(me.host)])
            for row in rows {
                guard let reason = me.deathReason(ofBootID: try row.optionalText("lease_boot_id") ?? "", pid: Int32(try row.optionalInt("lease_pid") ?? 0),
                                                  pidStart: try row.optionalInt("lease_pid_start") ?? 0)
                else { continue }
                let (id, token) = (try row.int("id"), try row.int("lease_token"))
                let changed = try await transaction.query(
                    """
                    UPDATE jobs SET state = 'pending', updated_at = $1, lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL,
                        lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
                    WHERE id = $2 AND lease_token = $3 AND state = 'running' RETURNING id
                    """, [.time(now), .int(id), .int(token)])
                guard !changed.isEmpty else { continue }
                try await transaction.event(id, .leaseExpired, at: now, ["reason": .string(reason), "token": .integer(token)])
                recovered.append(id)
            }
            return recovered + (try await recoverEndedSessions(transaction, me: me, now: now))
        }
    }

    /// The running jobs of registered workers (not `me`) whose session lock is free, back to pending:
    /// only workers that took their lock since the server started (after a restart, every session
    /// ended; a worker not yet connected again is not known to be gone, and its leases decide).
    private func recoverEndedSessions(_ transaction: PostgresSession.Transaction, me: LeaseOwner, now: Timestamp) async throws -> [Int64] {
        let owners = try await transaction.query(
            """
            SELECT id, owner, host, boot_id, pid, pid_start FROM workers w
            WHERE NOT (host = $1 AND boot_id = $2 AND pid = $3 AND pid_start = $4)
            AND locked_at >= pg_postmaster_start_time()
            AND EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'running' AND j.lease_host = w.host AND j.lease_boot_id = w.boot_id
                        AND j.lease_pid = w.pid AND j.lease_pid_start = w.pid_start)
            ORDER BY id
            """, [.text(me.host), .text(me.bootID), .int(Int64(me.pid)), .int(me.pidStart)])
        var recovered: [Int64] = []
        for owner in owners {
            let workerID = try owner.int("id")
            let free = try await transaction.query("SELECT pg_try_advisory_xact_lock(\(Self.workerLockClass), $1::int)::int AS free",
                                                   [.int(Self.workerLockKey(workerID))])[0].int("free")
            guard free == 1 else { continue }
            let jobs = try await transaction.query(
                """
                UPDATE jobs SET state = 'pending', updated_at = $1, lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL,
                    lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
                WHERE state = 'running' AND lease_host = $2 AND lease_boot_id = $3 AND lease_pid = $4 AND lease_pid_start = $5
                RETURNING id, lease_token
                """, [.time(now), .text(try owner.text("host")), .text(try owner.text("boot_id")), .int(try owner.int("pid")), .int(try owner.int("pid_start"))])
            let reason = JSONValue.string("the database session of worker \(try owner.text("owner")) ended")
            for job in try jobs.sorted(by: { try $0.int("id") < $1.int("id") }) {
                let id = try job.int("id")
                try await transaction.event(id, .leaseExpired, at: now, ["reason": reason, "token": .integer(try job.int("lease_token"))])
                recovered.append(id)
            }
            try await transaction.query("UPDATE workers SET ended = 'lost', ended_at = $1 WHERE id = $2 AND ended IS NULL", [.time(now), .int(workerID)])
        }
        return recovered
    }
}

extension PostgresSession.Transaction {
    /// The unpaused queues with due pending jobs, and whether each has a rate limit.
    func dueQueues(now: Timestamp) async throws -> [(name: String, rated: Bool)] {
        try await query(PostgresStore.dueQueuesSQL, [.time(now)]).map { row in (try row.text("name"), try row.int("rated") == 1) }
    }

    /// As on SQLite: of `queues`, those with a rate, how many may start now and when the next
    /// start frees up. Their rows stay locked until the claim commits.
    func rateAllowances(of queues: [String], now: Timestamp) async throws -> [String: (allowed: Int, freesAt: Timestamp?)] {
        var allowances: [String: (allowed: Int, freesAt: Timestamp?)] = [:]
        for row in try await query(
            "SELECT name, rate_limit, rate_period_ms, rate_used FROM queues WHERE rate_limit IS NOT NULL AND name = ANY($1) ORDER BY name FOR UPDATE",
            [.texts(queues)])
        {
            let queue = try row.text("name")
            let period = try row.int("rate_period_ms")
            let windowStart = Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - period)
            var used = try row.int("rate_used")
            let gone = try await query("DELETE FROM queue_starts WHERE queue = $1 AND at <= $2 RETURNING 1 AS gone", [.text(queue), .time(windowStart)])
            if !gone.isEmpty {
                used -= Int64(gone.count)
                try await query("UPDATE queues SET rate_used = $1 WHERE name = $2", [.int(used), .text(queue)])
            }
            let allowed = Int(try row.int("rate_limit") - used)
            guard allowed <= 0 else {
                allowances[queue] = (allowed, nil)
                continue
            }
            let oldest = try await query("SELECT min(at) AS oldest FROM queue_starts WHERE queue = $1", [.text(queue)])[0].time("oldest")
            allowances[queue] = (0, oldest.map { Timestamp(millisecondsSinceEpoch: $0.millisecondsSinceEpoch + period) })
        }
        return allowances
    }

    /// The earliest `run_at` of a pending job in an unpaused queue (of `queues`, when given) that is not due yet.
    func nextRunAt(queues: [String]?, after now: Timestamp) async throws -> Timestamp? {
        try await query(PostgresStore.nextRunAtSQL, [.time(now), queues.map(SQLBind.texts) ?? .null])[0].time("next")
    }

    /// The unpaused queues (of `queues`, when given).
    func unpausedQueues(_ queues: [String]?) async throws -> [String] {
        let unpaused = try await query("SELECT name FROM queues WHERE paused = 0 ORDER BY name").map { row in try row.text("name") }
        guard let queues else { return unpaused }
        return unpaused.filter(queues.contains)
    }
}
