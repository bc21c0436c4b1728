import PlanCore

extension JobStore {
    /// Of the running jobs `ids`, those that `planq cancel` asked to stop.
    public func cancelRequested(among ids: [Int64]) throws(StoreError) -> [Int64] {
        guard !ids.isEmpty else { return [] }
        return try read { connection in
            try connection.query(
                "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND cancel_requested = 1 AND state = 'running'",
                [.idList(ids)]
            ).map { $0.int(0)! }
        }
    }

    /// Whether a drained worker must keep going: a job of `queues` (all when `nil`) is running,
    /// due, or waiting for a retry (pending after a run). Paused queues do not count.
    public func hasOutstandingWork(queues: [String]?, now: Timestamp = .now()) throws(StoreError) -> Bool {
        try read { connection in
            for name in try connection.unpausedQueues(queues) {
                let busy = try connection.query(
                    """
                    SELECT EXISTS (SELECT 1 FROM jobs WHERE queue = ?1 AND state = 'running')
                        OR EXISTS (SELECT 1 FROM jobs WHERE queue = ?1 AND state = 'pending' AND (run_at <= ?2 OR runs > 0))
                    """, [.text(name), .time(now)])[0].int(0) == 1
                if busy { return true }
            }
            return false
        }
    }

    /// Counts of running and pending jobs, for the service status line.
    public func activityCounts() throws(StoreError) -> (running: Int, pending: Int) {
        try read { connection in
            let running = try connection.query("SELECT count(*) FROM jobs WHERE state = 'running'")[0].int(0)!
            let pending = try connection.query("SELECT count(*) FROM jobs WHERE state = 'pending'")[0].int(0)!
            return (Int(running), Int(pending))
        }
    }
}

extension Connection {
    /// The earliest `run_at` of a pending job in an unpaused queue (of `queues`, when given) that is not due yet.
    func nextRunAt(queues: [String]?, after now: Timestamp) throws -> Timestamp? {
        var earliest: Timestamp?
        for name in try unpausedQueues(queues) {
            let row = try query("SELECT min(run_at) FROM jobs WHERE state = 'pending' AND queue = ? AND run_at > ?", [.text(name), .time(now)])
            if let time = row.first?.text(0).flatMap(Timestamp.init(rfc3339:)), earliest.map({ time < $0 }) ?? true { earliest = time }
        }
        return earliest
    }

    /// The unpaused queues (of `queues`, when given).
    func unpausedQueues(_ queues: [String]?) throws -> [String] {
        let unpaused = try query("SELECT name FROM queues WHERE paused = 0").map { $0.text(0)! }
        guard let queues else { return unpaused }
        return unpaused.filter(queues.contains)
    }
}
