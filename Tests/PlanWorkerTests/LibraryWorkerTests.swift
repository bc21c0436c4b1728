import Foundation
import Logging
import PlanCore
import PlanStore
import PlanWorker
import Testing

/// The README's library example: a capability of one's own, run by the stock worker in-process.
@Suite struct LibraryWorker {
    @Test func runsACustomCapabilityInProcess() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-lib-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let sent = Locked<[String]>([])

        // --- as in the README ---
        let store = try SQLiteStore(StoreOptions(path: folder.appendingPathComponent("app.db").path, create: true))
        var registry = Builtins.registry(allowExec: [])
        registry.register(Capability("mail.send") { input, context in
            guard let to = input.objectValue?["to"]?.stringValue else {
                return .failure(ErrInfo(code: "invalid_input", message: "mail.send needs a to address", retryable: false))
            }
            sent.withLock { $0.append("\(to) \(context.idempotencyKey)") }
            return .success(["sent": true])
        })
        let worker = Worker(store: store, registry: registry, configuration: WorkerConfiguration(concurrency: 8, drain: true),
                            logger: Logger(label: "my-app.worker"))
        // --- end ---

        let plan = try PlanDescription.decode(
            Array(#"{"version":1,"idempotency_key":"welcome-1","steps":[{"id":"mail","call":"mail.send","input":{"to":"ada@example.com"}}]}"#.utf8),
            newKey: { "" })
        _ = try await store.enqueue([plan])
        try await worker.run()
        #expect(sent.withLock { $0 } == ["ada@example.com welcome-1/mail"])
        #expect(try await store.state(of: .key("welcome-1")) == .succeeded)
        #expect(try await store.capabilities().map(\.name).contains("mail.send"))
    }
}
