import Foundation
import PlanCore
@testable import PlanStore
import Testing

@Suite struct Enqueueing {
    @Test func isIdempotentByKey() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        let first = try store.enqueue([samplePlan(key: "same")])[0]
        let second = try store.enqueue([samplePlan(key: "same", queue: "other", priority: 5)])[0]
        #expect(first.created && !second.created)
        #expect(first.id == second.id)
        #expect(database.scalar("SELECT count(*) FROM jobs") == "1")
        #expect(database.scalar("SELECT queue FROM jobs") == "default")
        #expect(database.scalar("SELECT count(*) FROM job_events WHERE kind = 'enqueued'") == "1")
    }

    @Test func storesTheCanonicalPlanAndTheSchedule() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        let now = Timestamp(rfc3339: "2026-11-25T10:00:00Z")!
        let plan = samplePlan(key: "later", extra: #","delay":"90s""#)
        _ = try store.enqueue([plan], now: now)
        #expect(database.scalar("SELECT plan FROM jobs") == plan.canonicalText)
        #expect(database.scalar("SELECT run_at FROM jobs") == "2026-11-25T10:01:30.000Z")
        #expect(database.scalar("SELECT created_at FROM jobs") == "2026-11-25T10:00:00.000Z")
    }

    @Test func aBatchIsAllOrNothing() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        try store.setMaxPending(2, queue: "small")
        let batch = [samplePlan(key: "a", queue: "small"), samplePlan(key: "b", queue: "big"), samplePlan(key: "c", queue: "small"),
                     samplePlan(key: "d", queue: "small")]
        #expect { try store.enqueue(batch) } throws: {
            if case StoreError.queueFull(queue: "small", limit: 2) = $0 { true } else { false }
        }
        #expect(database.scalar("SELECT count(*) FROM jobs") == "0")
        #expect(database.scalar("SELECT count(*) FROM job_events") == "0")
        #expect(try store.enqueue(Array(batch.prefix(3))).count == 3)
    }

    @Test func aKnownKeyReturnsItsJobEvenWhenTheQueueIsFull() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        try store.setMaxPending(1, queue: "small")
        let first = try store.enqueue([samplePlan(key: "a", queue: "small")])[0]
        let again = try store.enqueue([samplePlan(key: "a", queue: "small")])[0]
        #expect(again == EnqueueResult(id: first.id, idempotencyKey: "a", created: false))
        #expect { try store.enqueue([samplePlan(key: "b", queue: "small")]) } throws: {
            if case StoreError.queueFull(queue: "small", limit: 1) = $0 { true } else { false }
        }
        #expect(database.scalar("SELECT count(*) FROM jobs") == "1")
        #expect(database.scalar("SELECT count(*) FROM job_events") == "1")
    }

    @Test func twoConnectionsRacingOneKeyMakeOneJob() async throws {
        let database = TemporaryDatabase()
        _ = try database.open()
        let results = try await withThrowingTaskGroup(of: [EnqueueResult].self) { group in
            for _ in 0..<4 {
                let store = try database.open()
                group.addTask { try (0..<50).map { try store.enqueue([samplePlan(key: "race-\($0)")])[0] } }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.count == 200)
        #expect(results.filter(\.created).count == 50)
        #expect(database.scalar("SELECT count(*) FROM jobs") == "50")
    }
}

@Suite struct Claiming {
    @Test func ordersByPriorityThenRunAtThenID() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        let now = Timestamp.now()
        _ = try store.enqueue([samplePlan(key: "p5")], now: now)
        _ = try store.enqueue([samplePlan(key: "p9", priority: 9), samplePlan(key: "p0-late", priority: 0)], now: now)
        _ = try store.enqueue([samplePlan(key: "p0-early", extra: #","run_at":"2020-01-01T00:00:00Z""#)], now: now)
        _ = try store.enqueue([samplePlan(key: "p0-same-time", priority: 0)], now: now)
        database.execute("UPDATE jobs SET priority = 5 WHERE idempotency_key = 'p5'")
        let claimed = try await store.claim([("default", 10)], owner: me, lease: .seconds(30), now: now.plus(seconds: 1))
        #expect(claimed.map(\.plan.idempotencyKey) == ["p0-early", "p0-late", "p0-same-time", "p5", "p9"])
        #expect(claimed.allSatisfy { $0.token == 1 && $0.runs == 1 })
    }

    @Test func neverClaimsFutureJobsOrPausedQueues() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        let now = Timestamp.now()
        _ = try store.enqueue([samplePlan(key: "future", extra: #","delay":"1h""#), samplePlan(key: "paused", queue: "held"),
                               samplePlan(key: "due")], now: now)
        try store.setPaused(true, queue: "held")
        #expect(try store.dueQueues(now: now) == ["default"])
        let claimed = try await store.claim([("default", 10), ("held", 10)], owner: me, lease: .seconds(30), now: now)
        #expect(claimed.map(\.plan.idempotencyKey) == ["due"])
        try store.setPaused(false, queue: "held")
        #expect(try await store.claim([("held", 10)], owner: me, lease: .seconds(30), now: now).map(\.plan.idempotencyKey) == ["paused"])
        #expect(try await store.claim([("default", 10)], owner: me, lease: .seconds(30), now: now.plus(seconds: 3601)).map(\.plan.idempotencyKey) == ["future"])
    }

    @Test func twoConnectionsClaimingAtOnceNeverShareAJob() async throws {
        let database = TemporaryDatabase()
        let setup = try database.open()
        _ = try setup.enqueue((0..<300).map { samplePlan(key: "job-\($0)") })
        let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for _ in 0..<3 {
                let store = try database.open()
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await store.claim([("default", 3)], owner: me, lease: .seconds(60))
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
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

    @Test func aClaimCanBeginTheFirstStepOfJobsClaimedForTheFirstTime() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        let fanOut = #"{"version":1,"idempotency_key":"fan","steps":[{"id":"s0","call":"echo","input":{"$item":""},"each":[1,2]}]}"#
        _ = try store.enqueue([samplePlan(key: "released"), samplePlan(key: "new"),
                               try PlanDescription.decode(Array(fanOut.utf8), newKey: { "" })])
        // "released" was claimed once already and handed back: its journal may hold executions.
        let first = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(first.plan.idempotencyKey == "released" && first.begunStep == nil)
        try await store.release(jobID: first.id, token: first.token)

        let claimed = try await store.claim(owner: me, lease: .seconds(30), beginFirstSteps: true) { due in due.map { ($0, 10) } }.jobs
        let begun = Dictionary(uniqueKeysWithValues: claimed.map { ($0.plan.idempotencyKey, $0.begunStep ?? "-") })
        #expect(begun == ["released": "-", "new": "s0", "fan": "-"])
        let new = try #require(claimed.first { $0.plan.idempotencyKey == "new" })
        #expect(new.records.isEmpty)
        #expect(try store.stepRecord(jobID: new.id, stepKey: "s0") == StepRecord(attempts: 1))
        #expect(database.scalar("SELECT group_concat(kind || ' ' || coalesce(detail, ''), ', ') FROM job_events WHERE job_id = \(new.id)")
                == #"enqueued {"queue":"default","run_at":"\#(new.runAt)"}, claimed {"owner":"\#(me.label)","run":1,"token":1}, step_started {"attempt":1,"step":"s0"}"#)
        // The run goes on as if it had begun the step itself.
        try await store.finishStep(jobID: new.id, token: new.token, stepKey: "s0", attempt: 1, outcome: .success(1))
        #expect(try store.stepRecord(jobID: new.id, stepKey: "s0") == StepRecord(output: 1, attempts: 1))
    }

    @Test func aReleaseSetsAsideTheFirstStepItsClaimBegan() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue([samplePlan(key: "job")])
        let job = try #require(try await store.claim(owner: me, lease: .seconds(30), beginFirstSteps: true) { due in due.map { ($0, 1) } }.jobs.first)
        #expect(job.begunStep == "s0")
        try await store.release(jobID: job.id, token: job.token)
        #expect(database.scalar("SELECT outcome || ' ' || superseded FROM step_results WHERE job_id = \(job.id)") == "cancelled 1")
        // The execution never ran: the next run starts from attempt 1 again, and begins it itself.
        let again = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(again.records.isEmpty && again.begunStep == nil)
        try await store.beginStep(jobID: again.id, token: again.token, stepKey: "s0", attempt: 1)
    }
}
