import PlanCore

extension SQLiteStore {
    public func cancelRequested(among ids: [Int64]) async throws(StoreError) -> [Int64] {
        guard !ids.isEmpty else { return [] }
        return try read { connection in
            try connection.query(
                "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND cancel_requested = 1 AND state = 'running'",
                [.idList(ids)]
            ).map { row in try row.int("id") }
        }
    }

    public func hasOutstandingWork(queues: [String]?, now: Timestamp) async throws(StoreError) -> Bool {
        try read { connection in
            for name in try connection.unpausedQueues(queues) {
                let busy = try connection.query(
                    """
                    SELECT EXISTS (SELECT 1 FROM jobs WHERE queue = ?1 AND state = 'running')
                        OR EXISTS (SELECT 1 FROM jobs WHERE queue = ?1 AND state = 'pending' AND (run_at <= ?2 OR runs > 0)) AS busy
                    """, [.text(name), .time(now)])[0].int("busy") == 1
                if busy { return true }
            }
            return false
        }
    }

    public func activityCounts() async throws(StoreError) -> ActivityCounts {
        try read { connection in
            let row = try connection.query(
                """
                SELECT (SELECT count(*) FROM jobs WHERE state = 'running') AS running,
                    (SELECT count(*) FROM jobs WHERE state = 'pending') AS pending
                """)[0]
            return ActivityCounts(running: Int(try row.int("running")), pending: Int(try row.int("pending")))
        }
    }

}

extension Connection {
    /// The earliest `run_at` of a pending job in an unpaused queue (of `queues`, when given) that is
    /// not due yet: the first of each queue and priority, a seek in `jobs_due` each, so that an empty
    /// claim does not read every job waiting for a later time.
    func nextRunAt(queues: [String]?, after now: Timestamp) throws -> Timestamp? {
        var earliest: Timestamp?
        for name in try unpausedQueues(queues) {
            let row = try query(Self.nextRunAtSQL, [.text(name), .time(now)])
            if let time = try row.first?.time("next"), earliest.map({ time < $0 }) ?? true { earliest = time }
        }
        return earliest
    }

    /// Of queue `?1`, the earliest `run_at` after `?2` among each priority's first pending job.
    static let nextRunAtSQL = """
        WITH p(priority) AS (VALUES \(PlanDescription.priorities.map { "(\($0))" }.joined(separator: ", ")))
        SELECT min((SELECT run_at FROM jobs INDEXED BY jobs_due WHERE state = 'pending' AND queue = ?1
                    AND priority = p.priority AND run_at > ?2 ORDER BY run_at LIMIT 1)) AS next FROM p
        """

    /// The unpaused queues (of `queues`, when given).
    func unpausedQueues(_ queues: [String]?) throws -> [String] {
        let unpaused = try query("SELECT name FROM queues WHERE paused = 0").map { row in try row.text("name") }
        guard let queues else { return unpaused }
        return unpaused.filter(queues.contains)
    }
}
