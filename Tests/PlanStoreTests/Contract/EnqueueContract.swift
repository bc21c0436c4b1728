import PlanCore
import PlanStore
import Testing

@Suite struct EnqueueContract {
    @Test(arguments: StoreKind.allCases)
    func isIdempotentByKey(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let first = try await store.enqueue([samplePlan(key: "same")])[0]
        let second = try await store.enqueue([samplePlan(key: "same", queue: "other", priority: 5)])[0]
        #expect(first.created && !second.created)
        #expect(first.id == second.id)
        #expect(database.scalar("SELECT count(*) FROM jobs") == "1")
        #expect(database.scalar("SELECT queue FROM jobs") == "default")
        #expect(database.scalar("SELECT count(*) FROM job_events WHERE kind = 'enqueued'") == "1")
    }

    @Test(arguments: StoreKind.allCases)
    func storesTheCanonicalPlanAndTheSchedule(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp(rfc3339: "2026-11-25T10:00:00Z")!
        let plan = samplePlan(key: "later", extra: #","delay":"90s""#)
        let id = try await store.enqueue([plan], now: now)[0].id
        let detail = try await store.detail(.id(id))
        #expect(detail.plan.canonicalText == plan.canonicalText)
        #expect(detail.summary.runAt == "2026-11-25T10:01:30.000Z")
        #expect(detail.summary.createdAt == "2026-11-25T10:00:00.000Z")
        #expect(detail.summary.state == .pending)
    }

    @Test(arguments: StoreKind.allCases)
    func aBatchIsAllOrNothing(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        try await store.setMaxPending(2, queue: "small")
        let batch = [samplePlan(key: "a", queue: "small"), samplePlan(key: "b", queue: "big"), samplePlan(key: "c", queue: "small"),
                     samplePlan(key: "d", queue: "small")]
        await #expect { try await store.enqueue(batch) } throws: {
            if case StoreError.queueFull(queue: "small", limit: 2) = $0 { true } else { false }
        }
        #expect(database.scalar("SELECT count(*) FROM jobs") == "0")
        #expect(database.scalar("SELECT count(*) FROM job_events") == "0")
        #expect(try await store.enqueue(Array(batch.prefix(3))).count == 3)
    }

    @Test(arguments: StoreKind.allCases)
    func aKnownKeyReturnsItsJobEvenWhenTheQueueIsFull(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        try await store.setMaxPending(1, queue: "small")
        let first = try await store.enqueue([samplePlan(key: "a", queue: "small")])[0]
        let again = try await store.enqueue([samplePlan(key: "a", queue: "small")])[0]
        #expect(again == EnqueueResult(id: first.id, idempotencyKey: "a", created: false))
        await #expect { try await store.enqueue([samplePlan(key: "b", queue: "small")]) } throws: {
            if case StoreError.queueFull(queue: "small", limit: 1) = $0 { true } else { false }
        }
        #expect(database.scalar("SELECT count(*) FROM jobs") == "1")
        #expect(database.scalar("SELECT count(*) FROM job_events") == "1")
    }

    @Test(arguments: StoreKind.allCases)
    func twoConnectionsRacingOneKeyMakeOneJob(kind: StoreKind) async throws {
        let database = try await kind.database()
        _ = try await database.open()
        let results = try await withThrowingTaskGroup(of: [EnqueueResult].self) { group in
            for _ in 0..<4 {
                let store = try await database.open()
                group.addTask {
                    var results: [EnqueueResult] = []
                    for index in 0..<50 { results += try await store.enqueue([samplePlan(key: "race-\(index)")]) }
                    return results
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.count == 200)
        #expect(results.filter(\.created).count == 50)
        #expect(database.scalar("SELECT count(*) FROM jobs") == "50")
    }
}
