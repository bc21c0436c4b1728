import PlanCore
import PlanStore
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
        let database = try kind.database()
        let store = try database.open()
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
        let database = try kind.database()
        let store = try database.open()
        _ = try await store.enqueue([samplePlan(key: "k", steps: 3)])
        let id = try await run(store, steps: [("s0", .success("zero")), ("s1", .failure(boom))], end: .failed(boom))
        #expect(try await store.retry(.id(id)) == id)
        #expect(database.scalar("SELECT state FROM jobs") == "pending")
        let steps = try await store.steps(of: id)
        #expect(steps["s0"]?.output == "zero" && steps["s0"]?.attempts == 1)
        #expect(steps["s1"] == nil)
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE superseded = 1") == "1")
        #expect(try await store.eventKinds(of: id).last == "retried")
        let again = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(again.records == ["s0": StepRecord(output: "zero", attempts: 1)])
    }

    @Test(arguments: StoreKind.allCases)
    func retryFromAStepRunsItAndEveryLaterStepAgain(kind: StoreKind) async throws {
        let database = try kind.database()
        let store = try database.open()
        _ = try await store.enqueue([samplePlan(key: "k", steps: 3)])
        let id = try await run(store, steps: [("s0", .success(0)), ("s1[0]", .success(10)), ("s1", .success([10])), ("s2", .failure(boom))],
                               end: .failed(boom))
        _ = try await store.retry(.id(id), fromStep: "s1")
        let steps = try await store.steps(of: id)
        #expect(steps["s0"]?.output == 0)
        #expect(steps["s1"] == nil && steps["s1[0]"] == nil && steps["s2"] == nil)
        #expect(database.scalar("SELECT count(*) FROM step_results") == "4", "old rows stay for history")
        #expect(database.scalar("SELECT detail ->> 'from' FROM job_events WHERE kind = 'retried'") == "s1")
    }

    @Test(arguments: StoreKind.allCases)
    func retryRefusesJobsThatAreNotFailedOrCancelledAndUnknownSteps(kind: StoreKind) async throws {
        let database = try kind.database()
        let store = try database.open()
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
        let database = try kind.database()
        let store = try database.open()
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
        let database = try kind.database()
        let store = try database.open()
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
        let database = try kind.database()
        let store = try database.open()
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
        #expect(stats.finishedLastMinute == 1)
        #expect(try await store.state(of: .key("a")) == .failed)
        await #expect { try await store.state(of: .key("nope")) } throws: { if case StoreError.jobNotFound = $0 { true } else { false } }

        try await store.registerCapabilities(["echo", "fail"], worker: "host/1", now: now)
        try await store.registerCapabilities(["echo"], worker: "host/2", now: now)
        #expect(try await store.capabilities().map { "\($0.name) \($0.worker)" } == ["echo host/2", "fail host/1"])
    }

    @Test(arguments: StoreKind.allCases)
    func changesReportAnotherConnectionsCommit(kind: StoreKind) async throws {
        let database = try kind.database()
        let store = try database.open()
        _ = try await store.enqueue([samplePlan(key: "first")])
        let changes = try #require(store.changes())
        let producer = try database.open()
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
