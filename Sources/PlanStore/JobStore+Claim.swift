import PlanCore

/// A job claimed by a worker: its plan and the fencing token every write of this run must carry.
public struct ClaimedJob: Sendable {
    public let id: Int64
    public let queue: String
    public let priority: Int
    public let runAt: String
    /// The fencing token of this run.
    public let token: Int64
    /// How many times the job has been claimed, this time included.
    public let runs: Int
    public let plan: PlanDescription
    /// What the journal held at the claim, by step key: the run keeps it up to date itself.
    public let records: [String: StepRecord]
    /// The step whose first execution the claim began (`claim(beginFirstSteps:)`), not in `records`.
    public let begunStep: String?
}

/// What a heartbeat found.
public struct Heartbeat: Sendable, Hashable {
    /// `false` when the lease moved on: the worker must stop this run.
    public let leaseHeld: Bool
    /// `planq cancel` asked for this job to stop.
    public let cancelRequested: Bool
}

/// What one claim found.
public struct ClaimBatch: Sendable {
    public let jobs: [ClaimedJob]
    /// When nothing was claimed: the earliest `run_at` of a pending job not due yet, in the queues asked about.
    public let nextRunAt: Timestamp?
}

extension JobStore {
    /// The queues that have due pending jobs and are not paused.
    public func dueQueues(now: Timestamp = .now()) throws(StoreError) -> [String] {
        try read { connection in try connection.dueQueues(now: now) }
    }

    /// Claims up to `limit` due jobs of each queue named, in one transaction (see the other `claim`).
    public func claim(_ requests: [(queue: String, limit: Int)], owner: LeaseOwner, lease: Duration,
                      now: Timestamp = .now()) async throws(StoreError) -> [ClaimedJob] {
        try await claim(owner: owner, lease: lease, now: now) { _ in requests }.jobs
    }

    /// Claims due jobs in one transaction: `grants` is handed the unpaused queues with due jobs (of
    /// `queues`, when given) and says how many to take from each. The jobs go `running` with a lease
    /// for `owner` until `now + lease`, and a fencing token one higher than before; each comes with
    /// what its journal holds, so that the run reads nothing more. Within a queue: priority, run_at, id.
    ///
    /// With `beginFirstSteps`, a job claimed for the first time whose first step is a single call (no
    /// `each`) also has that step's first execution begun in this transaction (its `step_results` row
    /// and `step_started` event, as `beginStep` writes them): the run saves a transaction, and must
    /// record that execution's end even if the call never happens (`ClaimedJob.begunStep`).
    public func claim(owner: LeaseOwner, lease: Duration, queues: [String]? = nil, now: Timestamp = .now(),
                      beginFirstSteps: Bool = false,
                      grants: @escaping @Sendable (_ due: [String]) -> [(queue: String, limit: Int)]) async throws(StoreError) -> ClaimBatch {
        let expiry = now.adding(PlanDuration(lease))
        let (rows, records, begun, nextRunAt) = try await commit {
            connection -> ([Row], [Int64: [String: StepRecord]], [Int64: String], Timestamp?) in
            let due = try connection.dueQueues(now: now).filter { queues?.contains($0) ?? true }
            var claimed: [Row] = []
            for (queue, limit) in due.isEmpty ? [] : grants(due) where limit > 0 {
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
                claimed += rows.sorted { ($0.int(2)!, $0.text(3)!, $0.int(0)!) < ($1.int(2)!, $1.text(3)!, $1.int(0)!) }
            }
            guard !claimed.isEmpty else { return ([], [:], [:], try connection.nextRunAt(queues: queues, after: now)) }
            // One statement each for all the claimed jobs' events and journals. A job claimed for the
            // first time (token 1) has no journal yet.
            let ids = SQLValue.idList(claimed.map { $0.int(0)! })
            try connection.query(
                """
                INSERT INTO job_events (job_id, at, kind, detail)
                SELECT id, ?, 'claimed', json_object('owner', lease_owner, 'run', runs, 'token', lease_token)
                FROM jobs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id
                """, [.time(now), ids])
            let claimedBefore = claimed.filter { $0.int(4)! > 1 }.map { $0.int(0)! }
            let records = claimedBefore.isEmpty ? [:] : try connection.stepRecords(jobIDs: .idList(claimedBefore))
            return (claimed, records, beginFirstSteps ? try connection.beginFirstSteps(of: ids, now: now) : [:], nil)
        }
        var unreadable: [(id: Int64, token: Int64, problem: String)] = []
        let jobs = rows.compactMap { row -> ClaimedJob? in
            do {
                let plan = try PlanDescription.decode(try JSONValue(stored: row.text(6)!), newKey: { "" })
                return ClaimedJob(id: row.int(0)!, queue: row.text(1)!, priority: Int(row.int(2)!), runAt: row.text(3)!,
                                  token: row.int(4)!, runs: Int(row.int(5)!), plan: plan, records: records[row.int(0)!] ?? [:],
                                  begunStep: begun[row.int(0)!])
            } catch {
                unreadable.append((row.int(0)!, row.int(4)!, "\(error)"))
                return nil
            }
        }
        // A plan this planq cannot read (altered by hand, or a newer planq's) ends its job failed,
        // instead of its lease expiring and the job being claimed again, forever.
        for job in unreadable {
            let error = ErrInfo(code: "plan_unreadable", message: "the stored plan cannot be read: \(job.problem)", retryable: false)
            try await finish(jobID: job.id, token: job.token, .failed(error))
        }
        return ClaimBatch(jobs: jobs, nextRunAt: nextRunAt)
    }

    /// Extends the lease of a run to `now + lease`, if the token still holds it.
    public func heartbeat(jobID: Int64, token: Int64, lease: Duration, now: Timestamp = .now()) async throws(StoreError) -> Heartbeat {
        try await commit { connection in
            try connection.query(
                "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND state = 'running'",
                [.time(now.adding(PlanDuration(lease))), .integer(jobID), .integer(token)])
            let held = connection.changes == 1
            let cancel = try connection.query("SELECT cancel_requested FROM jobs WHERE id = ?", [.integer(jobID)]).first?.int(0) == 1
            return Heartbeat(leaseHeld: held, cancelRequested: cancel)
        }
    }

    /// Makes running jobs whose lease expired claimable again (`lease_expired` events); returns their ids.
    public func expireLeases(now: Timestamp = .now()) throws(StoreError) -> [Int64] {
        try write { connection in
            let rows = try connection.query(
                """
                UPDATE jobs SET state = 'pending', updated_at = ?1, lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL,
                    lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
                WHERE state = 'running' AND lease_expires_at <= ?1 RETURNING id, lease_token
                """, [.time(now)])
            for row in rows {
                try connection.event(row.int(0)!, "lease_expired", at: now, ["reason": "the lease expired", "token": .integer(row.int(1)!)])
            }
            return rows.map { $0.int(0)! }
        }
    }

    /// Makes running jobs whose owner on this host (`me.host`) is provably dead claimable again at
    /// once, without waiting for their lease (`lease_expired` events with the reason); returns their ids.
    public func recoverDeadOwners(me: LeaseOwner, now: Timestamp = .now()) throws(StoreError) -> [Int64] {
        try write { connection in
            var recovered: [Int64] = []
            let rows = try connection.query(
                "SELECT id, lease_token, lease_boot_id, lease_pid, lease_pid_start FROM jobs WHERE state = 'running' AND lease_host = ?",
                [.text(me.host)])
            for row in rows {
                guard let reason = me.deathReason(ofBootID: row.text(2) ?? "", pid: Int32(row.int(3) ?? 0), pidStart: row.int(4) ?? 0)
                else { continue }
                let id = row.int(0)!
                try connection.query(
                    """
                    UPDATE jobs SET state = 'pending', updated_at = ?, lease_owner = NULL, lease_host = NULL, lease_boot_id = NULL,
                        lease_pid = NULL, lease_pid_start = NULL, lease_expires_at = NULL
                    WHERE id = ? AND lease_token = ? AND state = 'running'
                    """, [.time(now), .integer(id), .integer(row.int(1)!)])
                try connection.event(id, "lease_expired", at: now, ["reason": .string(reason), "token": .integer(row.int(1)!)])
                recovered.append(id)
            }
            return recovered
        }
    }
}

extension Connection {
    /// Begins execution 1 of the first step of the jobs `ids` (an `idList`) claimed for the first
    /// time whose first step is a single call, as `beginStep` would; returns those steps by job.
    func beginFirstSteps(of ids: SQLValue, now: Timestamp) throws -> [Int64: String] {
        let rows = try query(
            """
            INSERT INTO step_results (job_id, step_id, attempt, started_at, lease_token)
            SELECT id, plan ->> '$.steps[0].id', 1, ?, lease_token FROM jobs
            WHERE id IN (SELECT value FROM json_each(?)) AND lease_token = 1 AND state = 'running'
                AND plan ->> '$.steps[0].id' IS NOT NULL AND json_type(plan, '$.steps[0].each') IS NULL
            ORDER BY id
            RETURNING job_id, step_id
            """, [.time(now), ids])
        guard !rows.isEmpty else { return [:] }
        // These jobs' only executions are the ones just begun.
        try query(
            """
            INSERT INTO job_events (job_id, at, kind, detail)
            SELECT job_id, started_at, 'step_started', json_object('attempt', attempt, 'step', step_id)
            FROM step_results WHERE job_id IN (SELECT value FROM json_each(?)) AND superseded = 0 ORDER BY job_id
            """, [.idList(rows.map { $0.int(0)! })])
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.int(0)!, $0.text(1)!) })
    }

    /// The unpaused queues with due pending jobs.
    func dueQueues(now: Timestamp) throws -> [String] {
        try query(
            """
            SELECT name FROM queues q WHERE paused = 0
            AND EXISTS (SELECT 1 FROM jobs j INDEXED BY jobs_due WHERE j.state = 'pending' AND j.queue = q.name AND j.run_at <= ?)
            ORDER BY name
            """, [.time(now)]).map { $0.text(0)! }
    }

    /// Throws `leaseLost` unless the last statement, fenced by the run's token, changed one row.
    func requireChange(_ jobID: Int64) throws {
        guard changes == 1 else { throw StoreError.leaseLost(jobID: jobID) }
    }
}
