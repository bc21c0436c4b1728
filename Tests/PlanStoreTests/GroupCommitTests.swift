import Foundation
import PlanCore
@testable import PlanStore
import Testing

@Suite struct GroupCommit {
    @Test func concurrentWritesShareTransactionsAndAFailingOneFailsAlone() async throws {
        let database = TemporaryDatabase()
        let store = try JobStore(StoreOptions(path: database.path, create: true, groupCommit: true))
        _ = try store.enqueue((0..<64).map { samplePlan(key: "k\($0)") })
        let jobs = try store.claim([("default", 64)], owner: me, lease: .seconds(60))
        #expect(jobs.count == 64)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for (index, job) in jobs.enumerated() {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        Thread.detachNewThread {
                            // Every eighth write carries a stale token: it must fail, and only it.
                            let token = index % 8 == 0 ? job.token + 1 : job.token
                            continuation.resume(returning: (try? store.beginStep(jobID: job.id, token: token, stepKey: "s0", attempt: 1)) != nil)
                        }
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 56)
        #expect(database.scalar("SELECT count(*) FROM step_results") == "56")
        #expect(database.scalar("SELECT count(*) FROM job_events WHERE kind = 'step_started'") == "56")
        let committer = try #require(store.committer)
        #expect(committer.largestBatch > 1, "writes from 64 threads shared transactions")
        #expect(committer.transactions < 64 + 2)
    }
}
