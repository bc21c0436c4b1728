import Foundation
import Logging
import PlanCore
@testable import PlanStore
import PlanWorker
import Testing

/// A step's success rides with the run's next write: it is committed before anything acts on it.
@Suite(.timeLimit(.minutes(1))) struct CarriedRecords {
    private static func folder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-carried-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func theNextStepSeesTheLastSuccessCommittedAndTheHistoryKeepsItsOrder() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("q.db").path
        let store = try SQLiteStore(StoreOptions(path: path, create: true, groupCommit: true))
        let reader = try SQLiteStore(StoreOptions(path: path, create: false))
        let seen = Locked<[String: StepRecord]>([:])
        var registry = Builtins.registry(allowExec: [])
        registry.register(Capability("probe") { input, context in
            let earlier = input.stringValue ?? ""
            let record = (try? reader.stepRecord(jobID: context.jobID, stepKey: earlier)) ?? StepRecord()
            seen.withLock { $0[context.stepKey] = record }
            return .success(.string(context.stepKey))
        })
        let plan = try PlanDescription.decode(Array(#"""
            {"version":1,"idempotency_key":"k","steps":[{"id":"a","call":"echo","input":"A"},
             {"id":"b","call":"probe","input":"a"},{"id":"c","call":"probe","input":"b"}]}
            """#.utf8), newKey: { "" })
        let id = try await store.enqueue([plan])[0].id
        let worker = Worker(store: store, registry: registry, configuration: WorkerConfiguration(concurrency: 2, drain: true),
                            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await worker.run()
        #expect(seen.withLock { $0 } == ["b": StepRecord(output: "A", attempts: 1), "c": StepRecord(output: "b", attempts: 1)])
        let kinds = try await reader.detail(.id(id)).events.map(\.kind.rawValue)
        #expect(kinds == ["enqueued", "claimed", "step_started", "step_succeeded", "step_started", "step_succeeded", "step_started",
                          "step_succeeded", "succeeded"])
    }

    @Test func aFencedOutWriteTakesTheCarriedOneWithIt() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(StoreOptions(path: folder.appendingPathComponent("q.db").path, create: true))
        let plan = try PlanDescription.decode(Array(#"{"version":1,"idempotency_key":"k","steps":[{"id":"a","call":"echo","input":1}]}"#.utf8),
                                              newKey: { "" })
        _ = try await store.enqueue([plan])
        let job = try await store.claim([("default", 1)], owner: .current(), lease: .seconds(30))[0]
        try await job.beginStep("a", attempt: 1)
        let carried = RunWrite.stepFinished("a", attempt: 1, outcome: .success(1), at: .now())
        let fencedOut = Lease.ID(jobID: job.jobID, token: job.id.token + 1)
        await #expect(throws: StoreError.self) {
            try await store.commit([carried, .finished(.succeeded(1), at: .now())], of: fencedOut)
        }
        #expect(try store.stepRecord(jobID: job.jobID, stepKey: "a") == StepRecord(attempts: 1))
        try await job.finish(.succeeded(1), after: [carried])
        #expect(try store.stepRecord(jobID: job.jobID, stepKey: "a") == StepRecord(output: 1, attempts: 1))
        #expect(try await store.state(of: .id(job.jobID)) == .succeeded)
    }
}
