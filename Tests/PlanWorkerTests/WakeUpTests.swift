import Foundation
import Logging
import PlanCore
import PlanStore
import PlanWorker
import Testing

/// A worker throttles the store's change notifications while every slot is busy (its own commits
/// would wake it thousands of times a second); once a slot is free it must hear the next enqueue at once.
@Suite struct WakeUp {
    @Test func aJobEnqueuedAfterTheWorkerWasFullStartsWithoutWaitingForTheIdleTimer() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-wake-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("wake.db").path
        let store = try SQLiteStore(StoreOptions(path: path, create: true, groupCommit: true))
        let producer = try SQLiteStore(StoreOptions(path: path, create: false))
        let started = Locked<[String: ContinuousClock.Instant]>([:])
        var registry = Builtins.registry(allowExec: [])
        registry.register(Capability("mark") { _, context in
            started.withLock { $0[context.idempotencyKey] = .now }
            return .success(.null)
        })
        func plan(_ key: String, _ steps: String) throws -> PlanDescription {
            try PlanDescription.decode(Array(#"{"version":1,"idempotency_key":"\#(key)","steps":[\#(steps)]}"#.utf8), newKey: { key })
        }
        // One slot, and an idle timer far longer than the test: only a database change can wake it
        // (no look-again window after a job's end either).
        var configuration = WorkerConfiguration(concurrency: 1, idleWake: .seconds(600))
        configuration.changeVisibilityWindow = .zero
        let worker = Worker(store: store, registry: registry, configuration: configuration,
                            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        _ = try await producer.enqueue([plan("busy", #"{"id":"nap","call":"sleep","input":{"for":"300ms"}}"#)])
        let running = Task { try await worker.run() }
        defer { running.cancel() }
        // The only slot is busy for 300 ms, then free (a poll may miss the running state on a loaded machine).
        #expect(await eventually { (try? await store.state(of: .key("busy"))) == .succeeded })

        let sent = ContinuousClock.now
        _ = try await producer.enqueue([plan("next", #"{"id":"s","call":"mark","input":{}}"#)])
        #expect(await eventually { started.withLock { $0["next/s"] } != nil })
        let latency = try #require(started.withLock { $0["next/s"] }) - sent
        #expect(latency < .seconds(2), "woken by the enqueue, not by the 600 s idle timer: \(latency)")
    }

    /// Polls `condition` every 5 ms for up to 60 s (blocking tests running beside it can hold every
    /// shared thread for seconds, most of all when the suite starts).
    private func eventually(_ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return await condition()
    }
}
