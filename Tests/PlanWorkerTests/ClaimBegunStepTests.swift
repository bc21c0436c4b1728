import Foundation
import Logging
import PlanCore
import PlanStore
import PlanWorker
import Testing

/// The worker's claim begins a fresh job's first step; the run takes that start as its own, and a
/// run that ends before calling the step records that execution as failed with the run's error.
@Suite(.timeLimit(.minutes(1))) struct ClaimBegunSteps {
    @Test func theRunTakesTheClaimsStartAndARunThatNeverCallsTheStepRecordsItFailed() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-begun-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(StoreOptions(path: folder.appendingPathComponent("q.db").path, create: true, groupCommit: true))
        func plan(_ key: String, input: String) throws -> PlanDescription {
            try PlanDescription.decode(Array(#"{"version":1,"idempotency_key":"\#(key)","steps":[{"id":"a","call":"echo","input":\#(input)}]}"#.utf8),
                                       newKey: { "" })
        }
        let ok = try await store.enqueue([try plan("ok", input: "1")])[0].id
        // The input names a part of the job's input that is not there: the step is never called.
        let broken = try await store.enqueue([try plan("broken", input: #"{"$input":"/missing"}"#)])[0].id
        let worker = Worker(store: store, registry: Builtins.registry(allowExec: []), configuration: WorkerConfiguration(concurrency: 2, drain: true),
                            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await worker.run()

        let done = try await store.detail(.id(ok))
        #expect(done.summary.state == .succeeded)
        #expect(done.events.map(\.kind.rawValue) == ["enqueued", "claimed", "step_started", "step_succeeded", "succeeded"])
        #expect(done.steps.map(\.attempts) == [1])

        let failed = try await store.detail(.id(broken))
        #expect(failed.summary.state == .failed)
        #expect(failed.summary.errorCode == "invalid_input")
        #expect(failed.events.map(\.kind.rawValue) == ["enqueued", "claimed", "step_started", "step_failed", "failed"])
        let step = try #require(failed.steps.first)
        #expect(step.id == "a" && step.outcome == .error && step.attempts == 1)
        #expect(step.error?.objectValue?["code"] == "invalid_input")
    }
}
