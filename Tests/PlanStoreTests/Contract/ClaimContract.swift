import PlanCore
import PlanPostgres
import PlanStore
import Testing

@Suite struct ClaimContract {
    @Test(arguments: StoreKind.allCases)
    func ordersByPriorityThenRunAtThenID(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp.now()
        _ = try await store.enqueue([samplePlan(key: "p5")], now: now)
        _ = try await store.enqueue([samplePlan(key: "p9", priority: 9), samplePlan(key: "p0-late", priority: 0)], now: now)
        _ = try await store.enqueue([samplePlan(key: "p0-early", extra: #","run_at":"2020-01-01T00:00:00Z""#)], now: now)
        _ = try await store.enqueue([samplePlan(key: "p0-same-time", priority: 0)], now: now)
        database.execute("UPDATE jobs SET priority = 5 WHERE idempotency_key = 'p5'")
        let claimed = try await store.claim([("default", 10)], owner: me, lease: .seconds(30), now: now.plus(seconds: 1))
        #expect(claimed.map(\.plan.idempotencyKey) == ["p0-early", "p0-late", "p0-same-time", "p5", "p9"])
        #expect(claimed.allSatisfy { $0.id.token == 1 && $0.runs == 1 })
    }

    @Test(arguments: StoreKind.allCases)
    func neverClaimsFutureJobsOrPausedQueues(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp.now()
        _ = try await store.enqueue([samplePlan(key: "future", extra: #","delay":"1h""#), samplePlan(key: "paused", queue: "held"),
                                     samplePlan(key: "due")], now: now)
        try await store.setPaused(true, queue: "held")
        let claimed = try await store.claim([("default", 10), ("held", 10)], owner: me, lease: .seconds(30), now: now)
        #expect(claimed.map(\.plan.idempotencyKey) == ["due"])
        try await store.setPaused(false, queue: "held")
        #expect(try await store.claim([("held", 10)], owner: me, lease: .seconds(30), now: now).map(\.plan.idempotencyKey) == ["paused"])
        #expect(try await store.claim([("default", 10)], owner: me, lease: .seconds(30), now: now.plus(seconds: 3601))
            .map(\.plan.idempotencyKey) == ["future"])
    }

    @Test(arguments: StoreKind.allCases)
    func grantsSeeOnlyUnpausedQueuesWithDueJobsAndAnEmptyClaimSaysWhenTheNextIsDue(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp(rfc3339: "2026-11-25T10:00:00Z")!
        _ = try await store.enqueue([samplePlan(key: "a", queue: "a"), samplePlan(key: "b", queue: "b"), samplePlan(key: "c", queue: "c"),
                                     samplePlan(key: "later", queue: "d", extra: #","delay":"90s""#)], now: now)
        try await store.setPaused(true, queue: "b")
        let seen = Locked<[String]>([])
        let request = ClaimRequest(owner: me, duration: .seconds(30), queues: ["a", "b", "d"]) { due in
            seen.withLock { $0 = due }
            return due.map { ($0, 1) }
        }
        let batch = try await store.claim(request, now: now)
        #expect(seen.withLock { $0 } == ["a"])
        #expect(batch.leases.map(\.queue) == ["a"])
        let empty = try await store.claim(request, now: now)
        #expect(empty.leases.isEmpty)
        #expect(empty.nextRunAt == Timestamp(rfc3339: "2026-11-25T10:01:30Z"))
    }

    @Test(arguments: StoreKind.allCases)
    func twoConnectionsClaimingAtOnceNeverShareAJob(kind: StoreKind) async throws {
        let database = try await kind.database()
        let setup = try await database.open()
        _ = try await setup.enqueue((0..<300).map { samplePlan(key: "job-\($0)") })
        let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for _ in 0..<3 {
                let store = try await database.open()
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await store.claim([("default", 3)], owner: me, lease: .seconds(60))
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.jobID)
                        try await Task.sleep(for: .milliseconds(1))  // let the others at the lock between claims
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let all = claims.flatMap { $0 }
        #expect(all.count == 300)
        #expect(Set(all).count == 300)
        #expect(claims.filter { !$0.isEmpty }.count >= 2, "the claimers interleaved")
    }

    @Test(arguments: StoreKind.allCases)
    func aClaimCanBeginTheFirstStepOfJobsClaimedForTheFirstTime(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let fanOut = #"{"version":1,"idempotency_key":"fan","steps":[{"id":"s0","call":"echo","input":{"$item":""},"each":[1,2]}]}"#
        _ = try await store.enqueue([samplePlan(key: "released"), samplePlan(key: "new"),
                                     try PlanDescription.decode(Array(fanOut.utf8), newKey: { "" })])
        // "released" was claimed once already and handed back: its journal may hold executions.
        let first = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(first.plan.idempotencyKey == "released" && first.begunStep == nil)
        try await first.release()

        let request = ClaimRequest(owner: me, duration: .seconds(30), beginFirstSteps: true) { due in due.map { ($0, 10) } }
        let claimed = try await store.claim(request).leases
        let begun = Dictionary(uniqueKeysWithValues: claimed.map { ($0.plan.idempotencyKey, $0.begunStep ?? "-") })
        #expect(begun == ["released": "-", "new": "s0", "fan": "-"])
        let new = try #require(claimed.first { $0.plan.idempotencyKey == "new" })
        #expect(new.records.isEmpty)
        let step = try #require(try await store.steps(of: new.jobID)["s0"])
        #expect(step.attempts == 1 && step.outcome == nil)
        let history = try await store.detail(.id(new.jobID)).events.map { $0.kind.rawValue + " " + ($0.detail?.canonicalText ?? "") }
        #expect(history == [#"enqueued {"queue":"default","run_at":"\#(new.runAt)"}"#, #"claimed {"owner":"\#(me.label)","run":1,"token":1}"#,
                            #"step_started {"attempt":1,"step":"s0"}"#])
        // The run goes on as if it had begun the step itself.
        try await new.recordStep("s0", attempt: 1, outcome: .success(1))
        #expect(try await store.steps(of: new.jobID)["s0"]?.output == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func aReleaseSetsAsideTheFirstStepItsClaimBegan(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "job")])
        let request = ClaimRequest(owner: me, duration: .seconds(30), beginFirstSteps: true) { due in due.map { ($0, 1) } }
        let job = try #require(try await store.claim(request).leases.first)
        #expect(job.begunStep == "s0")
        try await job.release()
        #expect(database.scalar("SELECT outcome || ' ' || superseded FROM step_results WHERE job_id = \(job.jobID)") == "cancelled 1")
        // The execution never ran: the next run starts from attempt 1 again, and begins it itself.
        let again = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(again.records.isEmpty && again.begunStep == nil)
        try await again.beginStep("s0", attempt: 1)
    }

    @Test(arguments: StoreKind.allCases)
    func anEmptyClaimSaysWhenTheFirstLaterJobIsDueWhateverItsPriority(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp(rfc3339: "2026-11-25T10:00:00Z")!
        _ = try await store.enqueue([
            samplePlan(key: "first-priority-later", queue: "d", priority: 0, extra: #","delay":"300s""#),
            samplePlan(key: "last-priority-sooner", queue: "d", priority: 9, extra: #","delay":"60s""#),
            samplePlan(key: "middle-priority", queue: "d", priority: 5, extra: #","delay":"120s""#),
            samplePlan(key: "paused-queue", queue: "e", extra: #","delay":"10s""#),
            samplePlan(key: "queue-not-asked", queue: "f", extra: #","delay":"5s""#),
        ], now: now)
        try await store.setPaused(true, queue: "e")
        let asked = try await store.claim(ClaimRequest(owner: me, duration: .seconds(30), queues: ["d", "e"]) { $0.map { ($0, 1) } }, now: now)
        #expect(asked.leases.isEmpty && asked.nextRunAt == now.plus(seconds: 60))
        let all = try await store.claim(ClaimRequest(owner: me, duration: .seconds(30), queues: nil) { $0.map { ($0, 1) } }, now: now)
        #expect(all.leases.isEmpty && all.nextRunAt == now.plus(seconds: 5))
    }

    /// Many jobs waiting for a later time: an empty claim on PostgreSQL reads a row per queue and
    /// priority to say when the next is due, not every one of them.
    @Test func anEmptyClaimReadsOneLaterJobPerPriorityNotAll() async throws {
        let database = try await StoreKind.postgres.database() as! PostgresDatabase
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "k")])
        database.execute("""
            INSERT INTO jobs (idempotency_key, queue, priority, state, run_at, created_at, updated_at, plan)
            SELECT 'later' || g, 'default', g % 10, 'pending', now() + interval '1 hour' + g * interval '1 s', now(), now(), '{}'
            FROM generate_series(1, 20000) g;
            ANALYZE jobs
            """)
        let plan = try PostgresDatabase.psql(database.url, "PREPARE next(timestamptz, text[]) AS \(PostgresStore.nextRunAtSQL); EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE next(now(), NULL)")
        // Every scan of jobs, its rows times its loops: one per priority of the one queue.
        let read = plan.split(separator: "\n").filter { $0.contains(" on jobs ") }.map { line -> Int in
            let rows = line.firstRange(of: "rows=").map { Int(line[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } ?? 0
            let loops = line.firstRange(of: "loops=").map { Int(line[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } ?? 0
            return rows * loops
        }
        #expect(!read.isEmpty && read.reduce(0, +) <= 10, "\(plan)")
    }

    @Test(arguments: StoreKind.allCases)
    func aJobWhosePlanCannotBeReadFailsInsteadOfBeingClaimedForever(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let id = try await store.enqueue([samplePlan(key: "k")])[0].id
        database.execute(#"UPDATE jobs SET plan = '{"version":7,"steps":[]}'"#)
        #expect(try await store.claim([("default", 1)], owner: me, lease: .seconds(30)).isEmpty)
        #expect(try await store.state(of: .id(id)) == .failed)
        #expect(try await store.list(state: .failed, queue: nil, limit: 10).map(\.errorCode) == ["plan_unreadable"])
    }

    /// A burst analyzed while pending, then mostly run: a claim still finds its due queues by
    /// index, instead of reading every finished row ahead of the first pending one.
    @Test func theDueQueuesAreFoundByIndexWhateverTheStatisticsSay() async throws {
        let database = try await StoreKind.postgres.database() as! PostgresDatabase
        let store = try await database.open()
        _ = try await store.enqueue((0..<3000).map { samplePlan(key: "k\($0)") })
        // The statistics stay as analyzed: no autovacuum brings them up to date meanwhile.
        database.execute("ALTER TABLE jobs SET (autovacuum_enabled = off); ANALYZE jobs, queues")
        database.execute("UPDATE jobs SET state = 'succeeded', finished_at = now() WHERE id <= (SELECT max(id) - 5 FROM jobs)")
        let plan = try PostgresDatabase.psql(database.url, "PREPARE due(timestamptz) AS \(PostgresStore.dueQueuesSQL); EXPLAIN EXECUTE due(now())")
        #expect(plan.contains("jobs_due") && !plan.contains("Seq Scan on jobs"), "\(plan)")
        #expect(try await store.claim([("default", 16)], owner: me, lease: .seconds(30)).count == 5)
    }
}
