import PlanCore
import PlanPostgres
import PlanStore
import PostgresNIO
import Testing

/// Claims the next job of `store`, runs it through its steps with the given outcomes, then ends it.
private func run(_ store: any JobStore, steps: [(String, Result<JSONValue, ErrInfo>)], end: RunOutcome) async throws -> Int64 {
    let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
    for (key, outcome) in steps {
        let attempt = (try await store.steps(of: job.jobID)[key]?.attempts ?? 0) + 1
        try await job.beginStep(key, attempt: attempt)
        try await job.recordStep(key, attempt: attempt, outcome: outcome)
    }
    try await job.finish(end)
    return job.jobID
}

private let boom = ErrInfo(code: "boom", message: "no", retryable: false)

@Suite struct AdminContract {
    @Test(arguments: StoreKind.allCases)
    func cancelFollowsTheStateRules(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "a"), samplePlan(key: "b")])
        #expect(try await store.cancel(.key("a")) == .cancelled)
        #expect(try await store.cancel(.key("a")) == .alreadyCancelled)
        let id = try await run(store, steps: [("s0", .success(1))], end: .succeeded(1))
        await #expect { try await store.cancel(.id(id)) } throws: { if case StoreError.wrongState = $0 { true } else { false } }
        #expect(database.scalar("SELECT state FROM jobs WHERE id = \(id)") == "succeeded")
        await #expect { try await store.cancel(.id(99)) } throws: { if case StoreError.jobNotFound = $0 { true } else { false } }
    }

    @Test(arguments: StoreKind.allCases)
    func retryReplaysSuccessesAndRestoresTheAttemptBudget(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "k", steps: 3)])
        let id = try await run(store, steps: [("s0", .success("zero")), ("s1", .failure(boom))], end: .failed(boom))
        #expect(try await store.retry(.id(id)) == id)
        #expect(database.scalar("SELECT state FROM jobs") == "pending")
        let steps = try await store.steps(of: id)
        #expect(steps["s0"]?.output == "zero" && steps["s0"]?.attempts == 1)
        #expect(steps["s1"]?.state == .setAside && steps["s1"]?.attempts == 0 && steps["s2"]?.state == .notStarted)
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE superseded = 1") == "1")
        #expect(try await store.eventKinds(of: id).last == "retried")
        let again = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(again.records == ["s0": StepRecord(output: "zero", attempts: 1)])
    }

    @Test(arguments: StoreKind.allCases)
    func retryFromAStepRunsItAndEveryLaterStepAgain(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "k", steps: 3)])
        let id = try await run(store, steps: [("s0", .success(0)), ("s1[0]", .success(10)), ("s1", .success([10])), ("s2", .failure(boom))],
                               end: .failed(boom))
        _ = try await store.retry(.id(id), fromStep: "s1")
        let steps = try await store.steps(of: id)
        #expect(steps["s0"]?.output == 0)
        #expect([steps["s1"]?.state, steps["s1[0]"]?.state, steps["s2"]?.state] == [.setAside, .setAside, .setAside])
        #expect(steps.values.filter { $0.id != "s0" }.allSatisfy { $0.attempts == 0 && $0.output == nil })
        #expect(database.scalar("SELECT count(*) FROM step_results") == "4", "old rows stay for history")
        #expect(database.scalar("SELECT detail ->> 'from' FROM job_events WHERE kind = 'retried'") == "s1")
    }

    @Test(arguments: StoreKind.allCases)
    func retryRefusesJobsThatAreNotFailedOrCancelledAndUnknownSteps(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "k")])
        await #expect { try await store.retry(.key("k")) } throws: { if case StoreError.wrongState = $0 { true } else { false } }
        _ = try await store.cancel(.key("k"))
        await #expect { try await store.retry(.key("k"), fromStep: "nope") } throws: {
            if case StoreError.unknownStep("nope") = $0 { true } else { false }
        }
        #expect(database.scalar("SELECT state FROM jobs") == "cancelled")
    }

    @Test(arguments: StoreKind.allCases)
    func pruneRemovesOldFinishedJobsWithTheirRowsAndNothingElse(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue((0..<5).map { samplePlan(key: "k\($0)") })
        let old = try await run(store, steps: [("s0", .success(1))], end: .succeeded(1))
        let recent = try await run(store, steps: [("s0", .failure(boom))], end: .failed(boom))
        _ = try await store.cancel(.key("k2"))
        _ = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))
        database.execute("UPDATE jobs SET finished_at = '2020-01-01T00:00:00.000Z' WHERE id IN (\(old), 3)")
        let cutoff = Timestamp(rfc3339: "2021-01-01T00:00:00Z")!
        #expect(try await store.pruneCandidates(finishedBefore: cutoff) == PruneCounts(jobs: 2, stepResults: 1, events: 7))
        #expect(try await store.prune(finishedBefore: cutoff) == 2)
        #expect(try await store.list(state: nil, queue: nil, limit: 10).map(\.id).sorted() == [recent, 4, 5])
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE job_id NOT IN (SELECT id FROM jobs)") == "0")
        #expect(database.scalar("SELECT count(*) FROM job_events WHERE job_id NOT IN (SELECT id FROM jobs)") == "0")
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE job_id = \(recent)") == "1")
    }

    @Test(arguments: StoreKind.allCases)
    func drainingSeesRunningDueAndRetryingWorkButNotPausedQueues(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp.now()
        #expect(try await store.hasOutstandingWork(queues: nil, now: now) == false)
        _ = try await store.enqueue([samplePlan(key: "later", extra: #","delay":"1h""#)], now: now)
        #expect(try await store.hasOutstandingWork(queues: nil, now: now) == false, "a job not due yet is not work for a drain")
        _ = try await store.enqueue([samplePlan(key: "held", queue: "held")], now: now)
        try await store.setPaused(true, queue: "held")
        #expect(try await store.hasOutstandingWork(queues: nil, now: now) == false)
        _ = try await store.enqueue([samplePlan(key: "due", queue: "q")], now: now)
        #expect(try await store.hasOutstandingWork(queues: ["q"], now: now))
        #expect(try await store.hasOutstandingWork(queues: ["other"], now: now) == false)
        let job = try await store.claim([("q", 1)], owner: me, lease: .seconds(30), now: now)[0]
        #expect(try await store.activityCounts() == ActivityCounts(running: 1, pending: 2))
        try await job.reschedule(runAt: now.plus(seconds: 3600), error: boom, now: now)
        #expect(try await store.hasOutstandingWork(queues: ["q"], now: now), "a job waiting for its retry is work")
    }
}

@Suite struct QueryContract {
    @Test(arguments: StoreKind.allCases)
    func listStatsAndCapabilitiesReportWhatIsStored(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp.now()
        _ = try await store.enqueue([samplePlan(key: "a"), samplePlan(key: "b", queue: "mail"), samplePlan(key: "c")], now: now)
        try await store.setMaxPending(10, queue: "mail")
        try await store.setPaused(true, queue: "mail")
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30), now: now)[0]
        try await job.finish(.failed(boom), now: now)
        let list = try await store.list(state: nil, queue: nil, limit: 2)
        #expect(list.map(\.idempotencyKey) == ["c", "b"])
        #expect(try await store.list(state: .failed, queue: nil, limit: 10).map { "\($0.idempotencyKey) \($0.errorCode ?? "-") \($0.runs)" } == ["a boom 1"])
        #expect(try await store.list(state: nil, queue: "mail", limit: 10).map(\.idempotencyKey) == ["b"])
        let stats = try await store.stats(now: now.plus(seconds: 2))
        #expect(stats.queues.map(\.queue) == ["default", "mail"])
        #expect(stats.queues[0].counts == [.pending: 1, .failed: 1])
        #expect(stats.queues[1].paused && stats.queues[1].maxPending == 10 && stats.queues[1].counts == [.pending: 1])
        #expect(stats.oldestPendingSeconds == 2)
        #expect(stats.queues.map(\.oldestDueSeconds) == [2, 2])
        #expect(try await store.stats(now: now.plus(seconds: -1)).queues.map(\.oldestDueSeconds) == [nil, nil])
        #expect(stats.finishedLastMinute == 1)
        #expect(try await store.state(of: .key("a")) == .failed)
        await #expect { try await store.state(of: .key("nope")) } throws: { if case StoreError.jobNotFound = $0 { true } else { false } }

        let one = LeaseOwner(host: "host", bootID: "b", pid: 1, pidStart: 1), two = LeaseOwner(host: "host", bootID: "b", pid: 2, pidStart: 1)
        _ = try await store.registerWorker(WorkerRegistration(owner: one, queues: nil, concurrency: 1, capabilities: ["echo", "fail"]), now: now)
        _ = try await store.registerWorker(WorkerRegistration(owner: two, queues: nil, concurrency: 1, capabilities: ["echo"]), now: now)
        #expect(try await store.capabilities().map { "\($0.name) \($0.worker)" } == ["echo host/2", "fail host/1"])

        let filtered = try await store.list(JobFilter(states: [.pending, .failed], queue: "default", keyPrefix: "a"), limit: 10)
        #expect(filtered.map(\.idempotencyKey) == ["a"])
        #expect(try await store.list(JobFilter(createdBefore: now), limit: 10).isEmpty)
        #expect(try await store.list(JobFilter(createdBefore: now.plus(seconds: 1)), limit: 10).count == 3)
        #expect(try await store.list(JobFilter(states: []), limit: 10).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func workersAreLiveWhileSeenThenLostOrStoppedAndPrunedAfterADay(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp.now()
        // Another host's workers: only their renewals tell whether they live.
        let far = LeaseOwner(host: "elsewhere", bootID: "b", pid: 7, pidStart: 1)
        let near = LeaseOwner(host: "elsewhere", bootID: "b", pid: 8, pidStart: 1)
        let a = try await store.registerWorker(WorkerRegistration(owner: far, queues: ["mail"], concurrency: 2, capabilities: ["echo"]), now: now)
        let b = try await store.registerWorker(WorkerRegistration(owner: near, queues: nil, concurrency: 4, capabilities: ["echo", "sleep"]), now: now)
        _ = try await store.enqueue([samplePlan(key: "j", queue: "mail")], now: now)
        let job = try await store.claim([("mail", 1)], owner: far, lease: .seconds(60), now: now)[0]
        var workers = try await store.workers(me: me, now: now.plus(seconds: 1))
        #expect(workers.map(\.state) == [.live, .live])
        let first = try #require(workers.first { $0.id == a })
        #expect(first.runningJobs == [job.jobID] && first.serves("mail") && !first.serves("default"))
        #expect(first.registration == WorkerRegistration(owner: far, queues: ["mail"], concurrency: 2, capabilities: ["echo"]))

        // b renews, a does not: 31 s on, a is lost; b stops cleanly.
        try await store.workerSeen(b, me: me, now: now.plus(seconds: 31))
        workers = try await store.workers(me: me, now: now.plus(seconds: 31))
        #expect(workers.first { $0.id == a }?.state == .lost && workers.first { $0.id == b }?.state == .live)
        #expect(database.scalar("SELECT ended FROM workers WHERE id = \(a)") == "lost", "marked by the renewal of another")
        try await store.workerStopped(b, now: now.plus(seconds: 32))
        workers = try await store.workers(me: me, now: now.plus(seconds: 32))
        #expect(workers.first { $0.id == b }?.state == .stopped && workers.first { $0.id == b }?.runningJobs == [])
        // A lost worker that renews again is live again.
        try await store.workerSeen(a, me: me, now: now.plus(seconds: 40))
        #expect(try await store.workers(me: me, now: now.plus(seconds: 40)).first { $0.id == a }?.state == .live)

        // This host: a worker whose process is gone reads as lost at once.
        let gone = LeaseOwner(host: me.host, bootID: me.bootID, pid: me.pid, pidStart: me.pidStart + 1)
        let c = try await store.registerWorker(WorkerRegistration(owner: gone, queues: nil, concurrency: 1, capabilities: []), now: now)
        #expect(try await store.workers(me: me, now: now.plus(seconds: 1)).first { $0.id == c }?.state == .lost)

        // A day after it ended, a worker's row goes.
        try await store.workerSeen(a, me: me, now: now.plus(seconds: 32 + 86_401))
        #expect(try await store.workers(me: me, now: now.plus(seconds: 32 + 86_401)).map(\.id).contains(b) == false)
    }

    @Test(arguments: StoreKind.allCases)
    func eventsReadTheHistoryAndACursorReadsOnlyWhatCommittedSince(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp.now()
        _ = try await store.enqueue([samplePlan(key: "a", steps: 2), samplePlan(key: "b", queue: "mail")], now: now)
        var (events, cursor) = try await store.events(EventFilter(), after: nil, limit: 100)
        #expect(events.map { "\($0.idempotencyKey) \($0.kind.rawValue)" } == ["a enqueued", "b enqueued"])
        #expect(try await store.events(EventFilter(), after: nil, limit: 1).events.map(\.idempotencyKey) == ["b"], "the latest")
        #expect(try await store.events(EventFilter(queue: "mail"), after: nil, limit: 100).events.map(\.idempotencyKey) == ["b"])
        #expect(try await store.events(EventFilter(job: .key("a")), after: nil, limit: 100).events.count == 1)
        #expect(try await store.events(EventFilter(since: now.plus(seconds: 1)), after: nil, limit: 100).events.isEmpty)

        // A step begun now and finished later: its start and its end each arrive once, after the cursor.
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30), now: now)[0]
        try await job.beginStep("s0", attempt: 1)
        (events, cursor) = try await store.events(EventFilter(), after: cursor, limit: 100)
        #expect(events.map(\.kind.rawValue) == ["claimed", "step_started"])
        #expect(try await store.events(EventFilter(), after: cursor, limit: 100).events.isEmpty, "nothing new")
        try await job.recordStep("s0", attempt: 1, outcome: .success(1))
        try await job.beginStep("s1", attempt: 1)
        try await job.recordStep("s1", attempt: 1, outcome: .success(2))
        try await job.finish(.succeeded(2))
        let page = try await store.events(EventFilter(), after: cursor, limit: 2)
        #expect(page.events.map(\.kind.rawValue) == ["step_succeeded", "step_started"], "cut short by the limit")
        (events, cursor) = try await store.events(EventFilter(), after: page.cursor, limit: 100)
        #expect(events.map(\.kind.rawValue) == ["step_succeeded", "succeeded"])
        let all = try await store.events(EventFilter(), after: nil, limit: 100).events
        #expect(all.map(\.eventID) == all.map(\.eventID).sorted() && all.count == 8)
    }

    /// PostgreSQL's history places come from a sequence and may commit out of order: a reader
    /// following the history reads each event once, whenever its transaction commits.
    @Test func aPlaceThatCommitsAfterALaterOneIsStillReadOnce() async throws {
        let database = try await StoreKind.postgres.database() as! PostgresDatabase
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "a")])
        var (events, cursor) = try await store.events(EventFilter(), after: nil, limit: 100)
        #expect(events.map(\.kind) == [.enqueued])

        // Another session takes a place and holds its transaction open.
        let (slow, logger) = (try await database.connection(), PostgresDatabase.logger)
        try await slow.query("BEGIN", logger: logger)
        try await slow.query(
            "INSERT INTO job_events (id, job_id, at, kind) VALUES (nextval('history_place'), 1, now(), 'retried')", logger: logger)

        // A later place commits first and is read; the earlier one is read when it commits.
        _ = try await store.enqueue([samplePlan(key: "b")])
        (events, cursor) = try await store.events(EventFilter(), after: cursor, limit: 100)
        #expect(events.map { "\($0.idempotencyKey) \($0.kind.rawValue)" } == ["b enqueued"])
        let later = try #require(events.first).eventID
        #expect(try await store.events(EventFilter(), after: cursor, limit: 100).events.isEmpty, "nothing new while it is open")
        try await slow.query("COMMIT", logger: logger)
        try await slow.close()
        (events, cursor) = try await store.events(EventFilter(), after: cursor, limit: 100)
        #expect(events.map { "\($0.idempotencyKey) \($0.kind.rawValue)" } == ["a retried"])
        #expect(events.first.map { $0.eventID < later } == true, "its place is below the one read before")
        #expect(try await store.events(EventFilter(), after: cursor, limit: 100).events.isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func changesReportAnotherConnectionsCommit(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "first")])
        let changes = try #require(store.changes())
        let producer = try await database.open()
        let seen = Locked(false)
        let listener = Task {
            for await _ in changes {
                seen.withLock { $0 = true }
                break
            }
        }
        // Commits until one is seen: the feed may start listening a moment after it is made.
        for index in 0..<100 where !seen.withLock({ $0 }) {
            _ = try await producer.enqueue([samplePlan(key: "k\(index)")])
            try await Task.sleep(for: .milliseconds(20))
        }
        listener.cancel()
        #expect(seen.withLock { $0 })
    }
}
