import PlanCore

extension SQLiteStore {
    public func registerWorker(_ worker: WorkerRegistration, now: Timestamp) async throws(StoreError) -> Int64 {
        try await commit { connection in
            let owner = worker.owner
            try connection.query(
                """
                INSERT INTO workers (owner, host, boot_id, pid, pid_start, version, queues, concurrency, capabilities, started_at, last_seen_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?10, ?10)
                """,
                [.text(owner.label), .text(owner.host), .text(owner.bootID), .integer(Int64(owner.pid)), .integer(owner.pidStart),
                 .text(worker.version), .json(worker.queues.map { .array($0.map(JSONValue.string)) }), .integer(Int64(worker.concurrency)),
                 .json(.array(worker.capabilities.map(JSONValue.string))), .time(now)])
            let id = connection.lastInsertedRowID
            for name in worker.capabilities {
                try connection.query(
                    """
                    INSERT INTO capabilities (name, worker, registered_at) VALUES (?1, ?2, ?3)
                    ON CONFLICT (name) DO UPDATE SET worker = ?2, registered_at = ?3
                    """, [.text(name), .text(owner.label), .time(now)])
            }
            return id
        }
    }

    public func workerSeen(_ id: Int64, me: LeaseOwner, now: Timestamp) async throws(StoreError) {
        try await commit { connection in
            try connection.query("UPDATE workers SET last_seen_at = ?, ended_at = NULL, ended = NULL WHERE id = ?", [.time(now), .integer(id)])
            let stale = now.before(WorkerStatus.lostAfter)
            try connection.query(
                "UPDATE workers SET ended = 'lost', ended_at = ?1 WHERE ended IS NULL AND last_seen_at < ?2",
                [.time(now), .time(stale)])
            for row in try connection.query("SELECT id, boot_id, pid, pid_start FROM workers WHERE ended IS NULL AND host = ?", [.text(me.host)])
                where me.deathReason(ofBootID: try row.text("boot_id"), pid: Int32(try row.int("pid")), pidStart: try row.int("pid_start")) != nil {
                try connection.query("UPDATE workers SET ended = 'lost', ended_at = ? WHERE id = ?", [.time(now), .integer(try row.int("id"))])
            }
            try connection.query("DELETE FROM workers WHERE ended_at < ?", [.time(now.before(.seconds(86_400)))])
        }
    }

    public func workerStopped(_ id: Int64, now: Timestamp) async throws(StoreError) {
        try await commit { connection in
            _ = try connection.query("UPDATE workers SET ended = 'stopped', ended_at = ?1, last_seen_at = ?1 WHERE id = ?2", [.time(now), .integer(id)])
        }
    }

    public func workers(me: LeaseOwner, now: Timestamp) async throws(StoreError) -> [WorkerStatus] {
        try read { connection in
            var workers: [WorkerStatus] = []
            for row in try connection.query("SELECT * FROM workers ORDER BY ended IS NOT NULL, started_at DESC, id DESC") {
                let owner = LeaseOwner(host: try row.text("host"), bootID: try row.text("boot_id"), pid: Int32(try row.int("pid")),
                                       pidStart: try row.int("pid_start"))
                let lastSeen = try row.time("last_seen_at") ?? now
                let state = WorkerStatus.state(ended: try row.optionalText("ended"), lastSeen: lastSeen, owner: owner, me: me, now: now)
                let running = state == .stopped ? [] : try connection.query(
                    """
                    SELECT id FROM jobs WHERE state = 'running' AND lease_host = ? AND lease_boot_id = ? AND lease_pid = ? AND lease_pid_start = ?
                    ORDER BY id
                    """, [.text(owner.host), .text(owner.bootID), .integer(Int64(owner.pid)), .integer(owner.pidStart)]
                ).map { try $0.int("id") }
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
