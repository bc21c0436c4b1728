import PlanCore
import PlanStore
import Testing

private func every(_ name: String, _ interval: String, catchUp: Schedule.CatchUp = .latest, next: Timestamp) -> Schedule {
    Schedule(name: name, calendar: .every(PlanDuration(interval)!), catchUp: catchUp, plan: samplePlan(key: "ignored"), nextFireAt: next)
}

private let utc: ZoneLookup = { _ in FixedOffset() }

@Suite struct ScheduleContract {
    @Test(arguments: StoreKind.allCases)
    func schedulesAreStoredPausedResumedFiredAndRemoved(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp(rfc3339: "2026-11-25T10:00:00Z")!
        try await store.saveSchedule(every("tick", "10s", next: now.plus(seconds: 10)), replace: false, now: now)
        await #expect { try await store.saveSchedule(every("tick", "5s", next: now), replace: false, now: now) } throws: {
            if case StoreError.scheduleExists = $0 { true } else { false }
        }
        try await store.saveSchedule(every("tick", "20s", catchUp: .all, next: now.plus(seconds: 20)), replace: true, now: now)
        var stored = try await store.schedules()
        #expect(stored.map(\.name) == ["tick"] && stored[0].calendar == .every(PlanDuration("20s")!) && stored[0].catchUp == .all)
        #expect(stored[0].plan == samplePlan(key: "ignored"), "the plan reads back as stored")

        try await store.setSchedulePaused(true, name: "tick", now: now)
        #expect(try await store.fireDueSchedules(now: now.plus(seconds: 60), zones: utc).enqueued == 0, "a paused schedule does not fire")
        try await store.setSchedulePaused(false, name: "tick", now: now)
        let fired = try await store.fireSchedule("tick", now: now)
        #expect(fired.created && fired.idempotencyKey == "schedule:tick:2026-11-25T10:00:00.000Z")
        #expect(try await store.eventKinds(of: fired.id) == ["enqueued", "schedule_fired"])
        stored = try await store.schedules()
        #expect(stored[0].fired == 1 && stored[0].lastFiredAt == now && stored[0].nextFireAt == now.plus(seconds: 20), "by hand: the calendar stays")

        try await store.removeSchedule("tick")
        #expect(try await store.schedules().isEmpty)
        #expect(database.scalar("SELECT count(*) FROM jobs") == "1", "its jobs stay")
        await #expect { try await store.removeSchedule("tick") } throws: { if case StoreError.scheduleNotFound = $0 { true } else { false } }
        await #expect { try await store.fireSchedule("tick", now: now) } throws: { if case StoreError.scheduleNotFound = $0 { true } else { false } }
    }

    @Test(arguments: StoreKind.allCases)
    func eachFireTimeBecomesOneJobAndCatchUpDecidesAboutMissedOnes(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let start = Timestamp(rfc3339: "2026-11-25T10:00:00Z")!
        for mode in Schedule.CatchUp.allCases {
            try await store.saveSchedule(every(mode.rawValue, "10s", catchUp: mode, next: start.plus(seconds: 10)), replace: false, now: start)
        }
        // On time: each schedule fires once for 10:00:10, and a second call at the same moment fires nothing.
        var firing = try await store.fireDueSchedules(now: start.plus(seconds: 10), zones: utc)
        #expect(firing.enqueued == 3 && firing.nextFireAt == start.plus(seconds: 20))
        #expect(try await store.fireDueSchedules(now: start.plus(seconds: 10), zones: utc).enqueued == 0, "exactly once")
        // Down from 10:00:10 to 10:01:05.5: fire times 10:00:20 ... 10:01:00 passed (five), none on time.
        firing = try await store.fireDueSchedules(now: Timestamp(rfc3339: "2026-11-25T10:01:05.500Z")!, zones: utc)
        #expect(firing.enqueued == 0 + 1 + 5 && firing.nextFireAt == Timestamp(rfc3339: "2026-11-25T10:01:10Z")!)
        func keys(_ name: String) async throws -> String {
            try await store.list(JobFilter(keyPrefix: "schedule:\(name):"), limit: 100).reversed()
                .map { String($0.idempotencyKey.dropFirst("schedule:\(name):2026-11-25T".count).prefix(8)) }.joined(separator: ",")
        }
        #expect(try await keys("none") == "10:00:10")
        #expect(try await keys("latest") == "10:00:10,10:01:00")
        #expect(try await keys("all") == "10:00:10,10:00:20,10:00:30,10:00:40,10:00:50,10:01:00")
        #expect(database.scalar("SELECT count(*) FROM job_events WHERE kind = 'schedule_fired'") == "9", "6 + 2 + 1")
        let schedules = try await store.schedules()
        #expect(schedules.map(\.fired) == [6, 2, 1], "all, latest, none")
        // Just late (under a second): even none enqueues it.
        #expect(try await store.fireDueSchedules(now: Timestamp(rfc3339: "2026-11-25T10:01:10.400Z")!, zones: utc).enqueued == 3)
        // A schedule edited by hand into one that does not read back stops firing; the others go on.
        database.execute("UPDATE schedules SET spec = 'every blue moon' WHERE name = 'none'")
        firing = try await store.fireDueSchedules(now: Timestamp(rfc3339: "2026-11-25T10:01:20Z")!, zones: utc)
        #expect(firing.enqueued == 2 && firing.nextFireAt == Timestamp(rfc3339: "2026-11-25T10:01:30Z")!)
        #expect(database.scalar("SELECT count(*) FROM schedules WHERE next_fire_at IS NULL") == "1")
    }
}

@Suite struct RateContract {
    @Test(arguments: StoreKind.allCases)
    func aRateCapsStartsPerPeriodAndSaysWhenTheNextMayStart(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp(rfc3339: "2026-11-25T10:00:00Z")!
        _ = try await store.enqueue((1...5).map { samplePlan(key: "q\($0)", queue: "q") } + [samplePlan(key: "free", queue: "free")], now: now)
        try await store.setRate(QueueRate("2/10s")!, queue: "q")
        let first = try await store.claim([("q", 10), ("free", 10)], owner: me, lease: .seconds(30), now: now)
        #expect(first.map(\.queue).sorted() == ["free", "q", "q"], "two of q, the other queue unlimited")
        let held = try await store.claim(ClaimRequest(owner: me, duration: .seconds(30)) { due in due.map { ($0, 10) } }, now: now.plus(seconds: 5))
        #expect(held.leases.isEmpty && held.nextRunAt == now.plus(seconds: 10), "held until the first starts leave the window")
        let stats = try await store.stats(now: now.plus(seconds: 5))
        #expect(stats.queues.first { $0.queue == "q" }?.rate == QueueRate("2/10s") && stats.queues.first { $0.queue == "q" }?.heldUntil == now.plus(seconds: 10))
        // The window's count is kept, not counted: it matches the starts the window holds.
        let kept = "SELECT rate_used || '/' || (SELECT count(*) FROM queue_starts WHERE queue = 'q') FROM queues WHERE name = 'q'"
        #expect(database.scalar(kept) == "2/2")
        #expect(try await store.claim([("q", 10)], owner: me, lease: .seconds(30), now: now.plus(seconds: 10)).count == 2)
        #expect(database.scalar(kept) == "2/2", "the first two left the window, two more started")
        try await store.setRate(nil, queue: "q")
        #expect(database.scalar(kept) == "0/0")
        #expect(try await store.claim([("q", 10)], owner: me, lease: .seconds(30), now: now.plus(seconds: 11)).count == 1, "lifted")
        #expect(try await store.stats(now: now.plus(seconds: 11)).queues.first { $0.queue == "q" }?.rate == nil)
    }
}
