import PlanCore

extension SQLiteStore {
    public func enqueue(_ plans: [PlanDescription], now: Timestamp) async throws(StoreError) -> [EnqueueResult] {
        try await commit { connection in
            try plans.map { plan in try Self.insert(plan, into: connection, now: now) }
        }
    }

    static func insert(_ plan: PlanDescription, into connection: Connection, now: Timestamp) throws -> EnqueueResult {
        let runAt: Timestamp = switch plan.start {
        case .delay(let delay)?: now.adding(delay)
        case .runAt(let time)?: time
        case nil: now
        }
        // No RETURNING: SQLite gathers RETURNING rows in a temporary table, a page of memory
        // allocated and cleared for every statement; the new row's id is the connection's last rowid.
        try connection.query(
            """
            INSERT INTO jobs (idempotency_key, queue, priority, state, run_at, created_at, updated_at, plan)
            VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5, ?6) ON CONFLICT (idempotency_key) DO NOTHING
            """,
            [.text(plan.idempotencyKey), .text(plan.queue), .integer(Int64(plan.priority)), .time(runAt), .time(now), .text(plan.canonicalText)])
        guard connection.changes == 1 else {
            let existing = try connection.query("SELECT id FROM jobs WHERE idempotency_key = ?", [.text(plan.idempotencyKey)])[0].int("id")
            return EnqueueResult(id: existing, idempotencyKey: plan.idempotencyKey, created: false)
        }
        let id = connection.lastInsertedRowID
        try admit(to: plan.queue, connection)
        try connection.event(id, .enqueued, at: now, ["queue": .string(plan.queue), "run_at": .string(runAt.iso8601)])
        return EnqueueResult(id: id, idempotencyKey: plan.idempotencyKey, created: true)
    }

    /// Makes sure the queue has its row, and throws `queueFull` when the job just inserted took it
    /// over its `max_pending` limit (the caller's transaction then writes nothing).
    private static func admit(to queue: String, _ connection: Connection) throws {
        guard let row = try connection.query("SELECT max_pending FROM queues WHERE name = ?", [.text(queue)]).first else {
            try connection.query("INSERT INTO queues (name) VALUES (?)", [.text(queue)])
            return
        }
        guard let limit = try row.optionalInt("max_pending") else { return }
        let pending = try connection.query(
            "SELECT count(*) AS pending FROM jobs WHERE queue = ? AND state = 'pending'", [.text(queue)])[0].int("pending")
        if pending > limit { throw StoreError.queueFull(queue: queue, limit: Int(limit)) }
    }
}
