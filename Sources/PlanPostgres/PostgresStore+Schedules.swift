import PlanCore
import PlanStore

extension PostgresStore {
    public func saveSchedule(_ schedule: Schedule, replace: Bool, now: Timestamp) async throws(StoreError) {
        try await commit { transaction in
            let exists = try await !transaction.query("SELECT 1 FROM schedules WHERE name = $1 FOR UPDATE", [.text(schedule.name)]).isEmpty
            if exists && !replace { throw StoreError.scheduleExists(schedule.name) }
            let spec = schedule.spec
            try await transaction.query(
                """
                INSERT INTO schedules (name, kind, spec, time_zone, catch_up, plan, paused, next_fire_at, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
                ON CONFLICT (name) DO UPDATE SET kind = $2, spec = $3, time_zone = $4, catch_up = $5, plan = $6, paused = $7,
                    next_fire_at = $8, updated_at = $9
                """,
                [.text(schedule.name), .text(spec.kind), .text(spec.text), .text(schedule.timeZone), .text(schedule.catchUp.rawValue),
                 .json(schedule.plan.json), .int(schedule.paused ? 1 : 0), .optionalTime(schedule.nextFireAt), .time(now)])
        }
    }

    public func schedules() async throws(StoreError) -> [Schedule] {
        try await read { transaction in try await transaction.query("SELECT * FROM schedules ORDER BY name").map(Self.schedule) }
    }

    public func setSchedulePaused(_ paused: Bool, name: String, now: Timestamp) async throws(StoreError) {
        try await commit { transaction in
            let changed = try await transaction.query("UPDATE schedules SET paused = $1, updated_at = $2 WHERE name = $3 RETURNING name",
                                                      [.int(paused ? 1 : 0), .time(now), .text(name)])
            guard changed.count == 1 else { throw StoreError.scheduleNotFound(name) }
        }
    }

    public func removeSchedule(_ name: String) async throws(StoreError) {
        try await commit { transaction in
            guard try await transaction.query("DELETE FROM schedules WHERE name = $1 RETURNING name", [.text(name)]).count == 1 else {
                throw StoreError.scheduleNotFound(name)
            }
        }
    }

    public func fireSchedule(_ name: String, now: Timestamp) async throws(StoreError) -> EnqueueResult {
        try await commit { transaction in
            guard let row = try await transaction.query("SELECT * FROM schedules WHERE name = $1 FOR UPDATE", [.text(name)]).first else {
                throw StoreError.scheduleNotFound(name)
            }
            let result = try await Self.enqueue(try Self.schedule(row), fireTime: now, transaction, now: now, manual: true)!
            if result.created {
                try await transaction.query("UPDATE schedules SET fired = fired + 1, last_fired_at = $1, updated_at = $1 WHERE name = $2",
                                            [.time(now), .text(name)])
            }
            return result
        }
    }

    /// As on SQLite; the due schedules' rows are locked (`SKIP LOCKED`), so workers on several
    /// hosts fire each fire time once, and a second worker moves on to other schedules.
    public func fireDueSchedules(now: Timestamp, zones: @escaping ZoneLookup) async throws(StoreError) -> ScheduleFiring {
        let next = try await read { transaction in
            try await transaction.query("SELECT min(next_fire_at) AS next FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL")[0].time("next")
        }
        guard let next, next <= now else { return ScheduleFiring(enqueued: 0, nextFireAt: next) }
        return try await commit { transaction in
            var enqueued = 0
            for row in try await transaction.query(
                """
                SELECT * FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL AND next_fire_at <= $1
                ORDER BY next_fire_at, name FOR UPDATE SKIP LOCKED
                """, [.time(now)])
            {
                guard let schedule = try? Self.schedule(row) else {
                    try await transaction.query("UPDATE schedules SET next_fire_at = NULL, updated_at = $1 WHERE name = $2",
                                                [.time(now), .text(try row.text("name"))])
                    continue
                }
                let zone: any ZoneOffsets = zones(schedule.timeZone) ?? FixedOffset()
                let (fire, next) = schedule.due(at: now, in: zone)
                var (created, last) = (0, schedule.lastFiredAt)
                for time in fire where try await Self.enqueue(schedule, fireTime: time, transaction, now: now, manual: false)?.created == true {
                    created += 1
                    last = time
                }
                enqueued += created
                try await transaction.query(
                    "UPDATE schedules SET next_fire_at = $1, last_fired_at = $2, fired = fired + $3, updated_at = $4 WHERE name = $5",
                    [.optionalTime(next), .optionalTime(last), .int(Int64(created)), .time(now), .text(schedule.name)])
            }
            let next = try await transaction.query(
                "SELECT min(next_fire_at) AS next FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL")[0].time("next")
            return ScheduleFiring(enqueued: enqueued, nextFireAt: next)
        }
    }

    /// Enqueues `schedule`'s plan for one fire time, with its `schedule_fired` event; a queue at its
    /// limit refuses a fire from the calendar (`nil`) and fails one by hand (`queueFull`).
    private static func enqueue(_ schedule: Schedule, fireTime: Timestamp, _ transaction: PostgresSession.Transaction, now: Timestamp,
                                manual: Bool) async throws -> EnqueueResult? {
        var plan = schedule.plan
        plan.idempotencyKey = schedule.key(for: fireTime)
        try await transaction.execute("SAVEPOINT fire")
        do {
            let result = try await insert(plan, transaction, now: now)
            if result.created {
                try await transaction.event(result.id, .scheduleFired, at: now, [
                    "schedule": .string(schedule.name), "fire_time": .string(fireTime.iso8601), "manual": .bool(manual),
                ])
            }
            try await transaction.execute("RELEASE fire")
            return result
        } catch StoreError.queueFull where !manual {
            try await transaction.execute("ROLLBACK TO fire")
            try await transaction.execute("RELEASE fire")
            return nil
        }
    }

    static func schedule(_ row: SQLRow) throws -> Schedule {
        let name = try row.text("name")
        let spec = try row.text("spec")
        let calendar: CalendarSchedule
        switch try row.text("kind") {
        case "cron":
            do { calendar = .cron(try CronExpression(spec)) } catch { throw StoreError.corruptValue("schedule \(name.quoted) has the cron expression \(spec.quoted): \(error)") }
        default:
            guard let interval = PlanDuration(spec) else { throw StoreError.corruptValue("schedule \(name.quoted) has the interval \(spec.quoted)") }
            calendar = .every(interval)
        }
        guard let catchUp = Schedule.CatchUp(rawValue: try row.text("catch_up")) else { throw StoreError.corruptValue("schedule \(name.quoted) catch_up") }
        let plan: PlanDescription
        do {
            guard let stored = try row.json("plan") else { throw StoreError.corruptValue("NULL") }
            plan = try PlanDescription.decode(stored, newKey: { "" })
        } catch {
            throw StoreError.corruptValue("schedule \(name.quoted) holds a plan that does not read back")
        }
        return Schedule(name: name, calendar: calendar, timeZone: try row.text("time_zone"), catchUp: catchUp, plan: plan,
                        paused: try row.int("paused") == 1, nextFireAt: try row.time("next_fire_at"), lastFiredAt: try row.time("last_fired_at"),
                        fired: Int(try row.int("fired")))
    }
}
