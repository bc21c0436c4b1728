import PlanCore

/// What enqueuing one plan did.
public struct EnqueueResult: Sendable, Hashable {
    public let id: Int64
    public let idempotencyKey: String
    /// `false` when a job with this key existed already: nothing was written.
    public let created: Bool
}

extension JobStore {
    /// Stores `plans` in one transaction: all or none. A plan whose idempotency key is taken returns
    /// the existing job and writes nothing. Throws `queueFull` (nothing written) when a queue with a
    /// `max_pending` limit would go over it.
    public func enqueue(_ plans: [PlanDescription], now: Timestamp = .now()) throws(StoreError) -> [EnqueueResult] {
        try write { connection in
            try plans.map { plan in try Self.insert(plan, into: connection, now: now) }
        }
    }

    private static func insert(_ plan: PlanDescription, into connection: Connection, now: Timestamp) throws -> EnqueueResult {
        if let existing = try connection.query("SELECT id FROM jobs WHERE idempotency_key = ?", [.text(plan.idempotencyKey)]).first {
            return EnqueueResult(id: existing.int(0)!, idempotencyKey: plan.idempotencyKey, created: false)
        }
        try connection.query("INSERT OR IGNORE INTO queues (name) VALUES (?)", [.text(plan.queue)])
        if let limit = try connection.query("SELECT max_pending FROM queues WHERE name = ?", [.text(plan.queue)]).first?.int(0) {
            let pending = try connection.query("SELECT count(*) FROM jobs WHERE queue = ? AND state = 'pending'", [.text(plan.queue)])[0].int(0)!
            if pending >= limit { throw StoreError.queueFull(queue: plan.queue, limit: Int(limit)) }
        }
        let runAt: Timestamp = switch plan.start {
        case .delay(let delay)?: now.adding(delay)
        case .runAt(let time)?: time
        case nil: now
        }
        let id = try connection.query(
            """
            INSERT INTO jobs (idempotency_key, queue, priority, state, run_at, created_at, updated_at, plan)
            VALUES (?, ?, ?, 'pending', ?, ?, ?, ?) RETURNING id
            """,
            [.text(plan.idempotencyKey), .text(plan.queue), .integer(Int64(plan.priority)), .time(runAt), .time(now), .time(now),
             .text(plan.canonicalText)])[0].int(0)!
        try connection.event(id, "enqueued", at: now, ["queue": .string(plan.queue), "run_at": .string(runAt.iso8601)])
        return EnqueueResult(id: id, idempotencyKey: plan.idempotencyKey, created: true)
    }
}
