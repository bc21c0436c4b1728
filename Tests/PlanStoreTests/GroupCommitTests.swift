import Foundation
import PlanCore
@testable import PlanStore
import Testing

@Suite struct GroupCommit {
    @Test func concurrentWritesShareTransactionsAndAFailingOneFailsAlone() async throws {
        let database = TemporaryDatabase()
        let store = try SQLiteStore(StoreOptions(path: database.path, create: true, groupCommit: true))
        _ = try await store.enqueue((0..<64).map { samplePlan(key: "k\($0)") })
        let jobs = try await store.claim([("default", 64)], owner: me, lease: .seconds(60))
        #expect(jobs.count == 64)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for (index, job) in jobs.enumerated() {
                group.addTask {
                    // Every eighth write carries a stale token: it must fail, and only it.
                    let lease = Lease.ID(jobID: job.jobID, token: index % 8 == 0 ? job.id.token + 1 : job.id.token)
                    return (try? await store.commit([.stepStarted("s0", attempt: 1, at: .now())], of: lease)) != nil
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 56)
        #expect(database.scalar("SELECT count(*) FROM step_results") == "56")
        #expect(database.scalar("SELECT count(*) FROM job_history WHERE kind = 'step_started'") == "56")
        // Writes rolled back (the batch run again with a savepoint each) leave no place in the
        // history taken twice, and the sequence covers every place a step took.
        #expect(database.scalar("SELECT count(*) = count(DISTINCT event_id) FROM job_history") == "1")
        #expect(database.scalar("SELECT (SELECT last FROM history_sequence) >= (SELECT max(started_event) FROM step_results)") == "1")
        let committer = try #require(store.committer)
        #expect(committer.largestBatch > 1, "writes from 64 threads shared transactions")
        #expect(committer.transactions < 64 + 2)
    }

    @Test func writesSubmittedWhileATransactionRunsJoinItAndAFailingOneFailsAlone() async throws {
        let database = TemporaryDatabase()
        let store = try SQLiteStore(StoreOptions(path: database.path, create: true, groupCommit: true))
        let committer = try #require(store.committer)
        let before = committer.transactions
        // The first operation holds its transaction open until the other two are queued behind it
        // (the first time: the failing one makes the writer run the batch again, with savepoints).
        // Submitting is synchronous, so no task has to be scheduled for the three to meet, however
        // busy the machine.
        let running = Locked(false), firstRun = Locked(true)
        let first = submit(committer) { connection in
            if firstRun.withLock({ first in defer { first = false }; return first }) {
                running.withLock { $0 = true }
                let deadline = ContinuousClock.now + .seconds(60)
                while committer.waiting < 2 && ContinuousClock.now < deadline { usleep(1000) }
            }
            try connection.query("INSERT INTO queues (name) VALUES ('first')")
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while !running.withLock({ $0 }) && ContinuousClock.now < deadline { usleep(1000) }
        try #require(running.withLock { $0 }, "the writer took the first operation")
        let second = submit(committer) { try $0.query("INSERT INTO queues (name) VALUES ('second')") }
        let failing = submit(committer) { try $0.query("INSERT INTO queues (name) VALUES ('first')") }
        try await first.result()
        try await second.result()
        await #expect(throws: SQLiteError.self) { try await failing.result() }
        #expect(committer.transactions == before + 1, "all three ran in the first one's transaction")
        #expect(committer.largestBatch == 3)
        #expect(database.scalar("SELECT group_concat(name) FROM (SELECT name FROM queues ORDER BY name)") == "first,second")
    }

    /// Queues `body` with the committer on the calling thread, before returning.
    private func submit(_ committer: GroupCommitter, _ body: @escaping @Sendable (Connection) throws -> Void) -> Submitted {
        let (results, continuation) = AsyncStream.makeStream(of: Result<Void, any Error>.self)
        committer.submit(body) { continuation.yield($0); continuation.finish() }
        return Submitted(results: results)
    }

    /// The result to come of an operation submitted to the committer.
    private struct Submitted {
        let results: AsyncStream<Result<Void, any Error>>

        func result() async throws {
            for await result in results { return try result.get() }
            throw CancellationError()
        }
    }

    @Test func blockingWritesFromManyThreadsAllCommit() async throws {
        let database = TemporaryDatabase()
        let store = try SQLiteStore(StoreOptions(path: database.path, create: true, groupCommit: true))
        let created = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<32 {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        Thread.detachNewThread {
                            let result = try? store.write { try $0.query("INSERT INTO queues (name) VALUES (?)", [.text("t\(index)")]) }
                            continuation.resume(returning: result != nil)
                        }
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(created.allSatisfy { $0 } && created.count == 32)
        #expect(database.scalar("SELECT count(*) FROM queues") == "32")
    }
}
