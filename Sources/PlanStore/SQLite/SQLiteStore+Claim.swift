import PlanCore

extension SQLiteStore {
    /// The queues that have due pending jobs and are not paused.
    func dueQueues(now: Timestamp = .now()) throws(StoreError) -> [String] {
        try read { connection in try connection.dueQueues(now: now) }
    }

    /// With `beginFirstSteps`, the first step's first execution is begun in the claim's transaction
    /// (its `step_results` row, as `Lease.beginStep` writes it).
    public func claim(_ request: ClaimRequest, now: Timestamp) async throws(StoreError) -> ClaimBatch {
        let expiry = now.adding(PlanDuration(request.duration))
        let owner = request.owner
        let (rows, records, begun, nextRunAt) = try await commit {
            connection throws -> ([Row], [Int64: [String: StepRecord]], [Int64: String], Timestamp?) in
            let dueNow = try connection.dueQueues(now: now).filter { request.queues?.contains($0) ?? true }
            // A queue held by its rate gets no slot; one near it gets at most what its rate allows.
            let allowances = try connection.rateAllowances(of: dueNow, now: now)
            let due = dueNow.filter { (allowances[$0]?.allowed ?? 1) > 0 }
            var claimed: [(order: (Int64, String, Int64), row: Row)] = []
            for (queue, granted) in due.isEmpty ? [] : request.grants(due) where granted > 0 {
                let limit = min(granted, allowances[queue]?.allowed ?? granted)
                let rows = try connection.query(
                    """
                    UPDATE jobs SET state = 'running', lease_token = lease_token + 1, runs = runs + 1,
                        lease_owner = ?, lease_host = ?, lease_boot_id = ?, lease_pid = ?, lease_pid_start = ?,
                        lease_expires_at = ?, updated_at = ?
                    WHERE id IN (
                        SELECT id FROM jobs WHERE state = 'pending' AND queue = ? AND run_at <= ?
                        AND NOT EXISTS (SELECT 1 FROM queues WHERE name = ? AND paused = 1)
                        ORDER BY priority, run_at, id LIMIT ?)
                    RETURNING id, queue, priority, run_at, lease_token, runs, plan
                    """,
                    [.text(owner.label), .text(owner.host), .text(owner.bootID), .integer(Int64(owner.pid)),
                     .integer(owner.pidStart), .time(expiry), .time(now), .text(queue), .time(now), .text(queue),
                     .integer(Int64(limit))])
                claimed += try rows.map { row in ((try row.int("priority"), try row.text("run_at"), try row.int("id")), row) }
                    .sorted { $0.order < $1.order }
                if allowances[queue] != nil, !rows.isEmpty {
                    try connection.query("INSERT INTO queue_starts (queue, at) SELECT ?1, ?2 FROM json_each(?3)",
                                         [.text(queue), .time(now), .idList(try rows.map { try $0.int("id") })])
                    try connection.query("UPDATE queues SET rate_used = rate_used + ? WHERE name = ?", [.integer(Int64(rows.count)), .text(queue)])
                }
            }
            guard !claimed.isEmpty else {
                // Nothing to start: wake at the next run_at, or when a held queue's rate lets one start.
                let next = [try connection.nextRunAt(queues: request.queues, after: now)] + allowances.values.map(\.freesAt)
                return ([], [:], [:], next.compactMap { $0 }.min())
            }
            // One statement each for all the claimed jobs' events and journals. A job claimed for the
            // first time (token 1) has no journal yet.
            let ids = SQLValue.idList(try claimed.map { entry in try entry.row.int("id") })
            try connection.query(
                """
                INSERT INTO job_events (id, job_id, at, kind, detail)
                SELECT ? + row_number() OVER (ORDER BY id) - 1, id, ?, 'claimed',
                       json_object('owner', lease_owner, 'run', runs, 'token', lease_token)
                FROM jobs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id
                """, [.integer(try connection.historyPositions(claimed.count, forSteps: false)), .time(now), ids])
            let claimedBefore = try claimed.filter { entry in try entry.row.int("lease_token") > 1 }
                .map { entry in try entry.row.int("id") }
            let records = claimedBefore.isEmpty ? [:] : try connection.stepRecords(jobIDs: .idList(claimedBefore))
            return (claimed.map(\.row), records, request.beginFirstSteps ? try connection.beginFirstSteps(of: ids, count: claimed.count, now: now) : [:], nil)
        }
        var leases: [Lease] = []
        var unreadable: [(id: Lease.ID, problem: String)] = []
        for row in rows {
            let id = Lease.ID(jobID: try row.int("id"), token: try row.int("lease_token"))
            do {
                let plan = try PlanDescription.decode(try JSONValue(stored: try row.text("plan")), newKey: { "" })
                leases.append(Lease(id: id, queue: try row.text("queue"), priority: Int(try row.int("priority")), runAt: try row.text("run_at"),
                                    runs: Int(try row.int("runs")), plan: plan, records: records[id.jobID] ?? [:],
                                    begunStep: begun[id.jobID], store: self))
            } catch {
                unreadable.append((id, "\(error)"))
            }
        }
        // A plan this planq cannot read (altered by hand, or a newer planq's) ends its job failed,
        // instead of its lease expiring and the job being claimed again, forever.
        for job in unreadable {
            let error = ErrInfo(code: .planUnreadable, message: "the stored plan cannot be read: \(job.problem)", retryable: false)
            try await commit([.finished(.failed(error), at: now)], of: job.id)
        }
        return ClaimBatch(leases: leases, nextRunAt: nextRunAt)
    }

    public func heartbeat(_ lease: Lease.ID, duration: Duration, now: Timestamp) async throws(StoreError) -> Heartbeat {
        try await commit { connection in
            try connection.query(
                "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND state = 'running'",
                [.time(now.adding(PlanDuration(duration))), .integer(lease.jobID), .integer(lease.token)])
            let held = connection.changes == 1
            let cancel = try connection.query("SELECT cancel_requested FROM jobs WHERE id = ?", [.integer(lease.jobID)]).first
            return Heartbeat(leaseHeld: held, cancelRequested: try cancel?.int("cancel_requested") == 1)
        }
    }

    public func expireLeases(now: Timestamp) async throws(StoreError) -> [Int64] {
        try await commit { connection in
            let rows = try connection.query(
                """
                UPDATE jobs SET state = 'pending', updated_at = ?1, lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL,
                    lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
                WHERE state = 'running' AND lease_expires_at <= ?1 RETURNING id, lease_token
                """, [.time(now)])
            return try rows.map { row in
                let id = try row.int("id")
                try connection.event(id, .leaseExpired, at: now, ["reason": "the lease expired", "token": .integer(try row.int("lease_token"))])
                return id
            }
        }
    }

    public func recoverDeadOwners(me: LeaseOwner, now: Timestamp) async throws(StoreError) -> [Int64] {
        try await commit { connection in
            var recovered: [Int64] = []
            let rows = try connection.query(
                "SELECT id, lease_token, lease_boot_id, lease_pid, lease_pid_start FROM jobs WHERE state = 'running' AND lease_host = ?",
                [.text(me.host)])
            for row in rows {
                guard let reason = me.deathReason(ofBootID: try row.optionalText("lease_boot_id") ?? "", pid: Int32(try row.optionalInt("lease_pid") ?? 0),
                                                  pidStart: try row.optionalInt("lease_pid_start") ?? 0)
                else { continue }
                let (id, token) = (try row.int("id"), try row.int("lease_token"))
                try connection.query(
                    """
                    UPDATE jobs SET state = 'pending', updated_at = ?, lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL,
                        lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
                    WHERE id = ? AND lease_token = ? AND state = 'running'
                    """, [.time(now), .integer(id), .integer(token)])
                try connection.event(id, .leaseExpired, at: now, ["reason": .string(reason), "token": .integer(token)])
                recovered.append(id)
            }
            return recovered
        }
    }
}

extension Connection {
    /// Of `queues`, those with a rate: how many jobs may start now, and when the next start frees
    /// up (the oldest start of the window leaving it). Starts older than the window are deleted,
    /// and `rate_used` keeps counting the rest: no claim counts the window's rows.
    func rateAllowances(of queues: [String], now: Timestamp) throws -> [String: (allowed: Int, freesAt: Timestamp?)] {
        var allowances: [String: (allowed: Int, freesAt: Timestamp?)] = [:]
        for row in try query("SELECT name, rate_limit, rate_period_ms, rate_used FROM queues WHERE rate_limit IS NOT NULL") {
            let queue = try row.text("name")
            guard queues.contains(queue) else { continue }
            let period = try row.int("rate_period_ms")
            let windowStart = Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - period)
            var used = try row.int("rate_used")
            try query("DELETE FROM queue_starts WHERE queue = ? AND at <= ?", [.text(queue), .time(windowStart)])
            if changes > 0 {
                used -= Int64(changes)
                try query("UPDATE queues SET rate_used = ? WHERE name = ?", [.integer(used), .text(queue)])
            }
            let allowed = Int(try row.int("rate_limit") - used)
            guard allowed <= 0 else {
                allowances[queue] = (allowed, nil)
                continue
            }
            let oldest = try query("SELECT min(at) AS oldest FROM queue_starts WHERE queue = ?", [.text(queue)])[0].time("oldest")
            allowances[queue] = (0, oldest.map { Timestamp(millisecondsSinceEpoch: $0.millisecondsSinceEpoch + period) })
        }
        return allowances
    }

    /// Begins execution 1 of the first step of the jobs `ids` (an `idList`) claimed for the first
    /// time whose first step is a single call, as `beginStep` would; returns those steps by job.
    func beginFirstSteps(of ids: SQLValue, count: Int, now: Timestamp) throws -> [Int64: String] {
        let rows = try query(
            """
            INSERT INTO step_results (job_id, step_id, attempt, started_at, lease_token, started_event)
            SELECT id, plan ->> '$.steps[0].id', 1, ?, lease_token, ? + row_number() OVER (ORDER BY id) - 1 FROM jobs
            WHERE id IN (SELECT value FROM json_each(?)) AND lease_token = 1 AND state = 'running'
                AND plan ->> '$.steps[0].id' IS NOT NULL AND json_type(plan, '$.steps[0].each') IS NULL
            ORDER BY id
            RETURNING job_id, step_id
            """, [.time(now), .integer(try historyPositions(count, forSteps: true)), ids])
        return Dictionary(uniqueKeysWithValues: try rows.map { row in (try row.int("job_id"), try row.text("step_id")) })
    }

    /// The unpaused queues with due pending jobs.
    func dueQueues(now: Timestamp) throws -> [String] {
        try query(
            """
            SELECT name FROM queues q WHERE paused = 0
            AND EXISTS (SELECT 1 FROM jobs j INDEXED BY jobs_due WHERE j.state = 'pending' AND j.queue = q.name AND j.run_at <= ?)
            ORDER BY name
            """, [.time(now)]).map { row in try row.text("name") }
    }

    /// Throws `leaseLost` unless the last statement, fenced by the run's token, changed one row.
    func requireChange(_ lease: Lease.ID) throws(StoreError) {
        guard changes == 1 else { throw .leaseLost(lease) }
    }
}
