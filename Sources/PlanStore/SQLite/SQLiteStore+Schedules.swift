import PlanCore

extension SQLiteStore {
    public func saveSchedule(_ schedule: Schedule, replace: Bool, now: Timestamp) async throws(StoreError) {
        try await commit { connection in
            let exists = try !connection.query("SELECT 1 FROM schedules WHERE name = ?", [.text(schedule.name)]).isEmpty
            if exists && !replace { throw StoreError.scheduleExists(schedule.name) }
            let spec = schedule.spec
            _ = try connection.query(
                """
                INSERT INTO schedules (name, kind, spec, time_zone, catch_up, plan, paused, next_fire_at, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                ON CONFLICT (name) DO UPDATE SET kind = ?2, spec = ?3, time_zone = ?4, catch_up = ?5, plan = ?6, paused = ?7,
                    next_fire_at = ?8, updated_at = ?9
                """,
                [.text(schedule.name), .text(spec.kind), .text(spec.text), .text(schedule.timeZone), .text(schedule.catchUp.rawValue),
                 .text(schedule.plan.canonicalText), .integer(schedule.paused ? 1 : 0), schedule.nextFireAt.map { .time($0) } ?? .null,
                 .time(now)])
        }
    }

    public func schedules() async throws(StoreError) -> [Schedule] {
        try read { connection in try connection.query("SELECT * FROM schedules ORDER BY name").map(Self.schedule) }
    }

    public func setSchedulePaused(_ paused: Bool, name: String, now: Timestamp) async throws(StoreError) {
        try await commit { connection in
            _ = try connection.query("UPDATE schedules SET paused = ?, updated_at = ? WHERE name = ?", [.integer(paused ? 1 : 0), .time(now), .text(name)])
            guard connection.changes == 1 else { throw StoreError.scheduleNotFound(name) }
        }
    }

    public func removeSchedule(_ name: String) async throws(StoreError) {
        try await commit { connection in
            _ = try connection.query("DELETE FROM schedules WHERE name = ?", [.text(name)])
            guard connection.changes == 1 else { throw StoreError.scheduleNotFound(name) }
        }
    }

    public func fireSchedule(_ name: String, now: Timestamp) async throws(StoreError) -> EnqueueResult {
        try await commit { connection in
            guard let row = try connection.query("SELECT * FROM schedules WHERE name = ?", [.text(name)]).first else {
                throw StoreError.scheduleNotFound(name)
            }
            let schedule = try Self.schedule(row)
            let result = try Self.enqueue(schedule, fireTime: now, connection, now: now, manual: true)!
            if result.created {
                _ = try connection.query("UPDATE schedules SET fired = fired + 1, last_fired_at = ?1, updated_at = ?1 WHERE name = ?2",
                                         [.time(now), .text(name)])
            }
            return result
        }
    }

    public func fireDueSchedules(now: Timestamp, zones: @escaping ZoneLookup) async throws(StoreError) -> ScheduleFiring {
        // A read first: a worker asks on every change of the database, and mostly nothing is due.
        let next = try read { connection in
            try connection.query("SELECT min(next_fire_at) AS next FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL")[0].time("next")
        }
        guard let next, next <= now else { return ScheduleFiring(enqueued: 0, nextFireAt: next) }
        return try await commit { connection in
            var enqueued = 0
            for row in try connection.query(
                "SELECT * FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at, name",
                [.time(now)])
            {
                // A row that does not read back (edited by hand) stops firing instead of stopping
                // every schedule: its next fire time is cleared, and `schedule list` shows "never".
                guard let schedule = try? Self.schedule(row) else {
                    _ = try connection.query("UPDATE schedules SET next_fire_at = NULL, updated_at = ? WHERE name = ?",
                                             [.time(now), .text(try row.text("name"))])
                    continue
                }
                let zone: any ZoneOffsets = zones(schedule.timeZone) ?? FixedOffset()
                let (fire, next) = schedule.due(at: now, in: zone)
                var (created, last) = (0, schedule.lastFiredAt)
                for time in fire where try Self.enqueue(schedule, fireTime: time, connection, now: now, manual: false)?.created == true {
                    created += 1
                    last = time
                }
                enqueued += created
                _ = try connection.query(
                    "UPDATE schedules SET next_fire_at = ?1, last_fired_at = ?2, fired = fired + ?3, updated_at = ?4 WHERE name = ?5",
                    [next.map { .time($0) } ?? .null, last.map { .time($0) } ?? .null, .integer(Int64(created)), .time(now),
                     .text(schedule.name)])
            }
            let next = try connection.query(
                "SELECT min(next_fire_at) AS next FROM schedules WHERE paused = 0 AND next_fire_at IS NOT NULL")[0].time("next")
            return ScheduleFiring(enqueued: enqueued, nextFireAt: next)
        }
    }

    /// Enqueues `schedule`'s plan for one fire time, with its `schedule_fired` event. A queue at its
    /// limit refuses a fire from the calendar (`nil`: the fire time is skipped, nothing written for
    /// it) and fails one by hand (`queueFull`).
    private static func enqueue(_ schedule: Schedule, fireTime: Timestamp, _ connection: Connection, now: Timestamp,
                                manual: Bool) throws -> EnqueueResult? {
        var plan = schedule.plan
        plan.idempotencyKey = schedule.key(for: fireTime)
        try connection.execute("SAVEPOINT fire")
        do {
            let result = try insert(plan, into: connection, now: now)
            if result.created {
                try connection.event(result.id, .scheduleFired, at: now, [
                    "schedule": .string(schedule.name), "fire_time": .string(fireTime.iso8601), "manual": .bool(manual),
                ])
            }
            try connection.execute("RELEASE fire")
            return result
        } catch StoreError.queueFull where !manual {
            try connection.execute("ROLLBACK TO fire")
            try connection.execute("RELEASE fire")
            return nil
        }
    }

    static func schedule(_ row: Row) throws(StoreError) -> Schedule {
        let name = try row.text("name")
        let spec = try row.text("spec")
        let calendar: CalendarSchedule
        switch try row.text("kind") {
        case "cron":
            do { calendar = .cron(try CronExpression(spec)) } catch { throw .corruptValue("schedule \(name.quoted) has the cron expression \(spec.quoted): \(error)") }
        default:
            guard let interval = PlanDuration(spec) else { throw .corruptValue("schedule \(name.quoted) has the interval \(spec.quoted)") }
            calendar = .every(interval)
        }
        guard let catchUp = Schedule.CatchUp(rawValue: try row.text("catch_up")) else { throw .corruptValue("schedule \(name.quoted) catch_up") }
        let planText = try row.text("plan")
        let plan: PlanDescription
        do { plan = try PlanDescription.decode(Array(planText.utf8), newKey: { "" }) } catch {
            throw .corruptValue("schedule \(name.quoted) holds a plan that does not read back")
        }
        return Schedule(name: name, calendar: calendar, timeZone: try row.text("time_zone"), catchUp: catchUp, plan: plan,
                        paused: try row.int("paused") == 1, nextFireAt: try row.time("next_fire_at"), lastFiredAt: try row.time("last_fired_at"),
                        fired: Int(try row.int("fired")))
    }
}
