import Foundation
import Logging
import PlanCore
import PlanStore
import PlanWorker
import ServiceLifecycle

let path = ProcessInfo.processInfo.environment["MY_APP_DB"] ?? "/var/lib/my-app/planq.db"
let store = try SQLiteStore(StoreOptions(path: path, create: true, groupCommit: true))
var registry = Builtins.registry(allowExec: [])
registry.register(Capability("mail.send") { input, context in
    guard let to = input.objectValue?["to"]?.stringValue else {
        return .failure(.invalidInput("mail.send needs a to address"))
    }
    // context.idempotencyKey is the same on every attempt: hand it to the mail service.
    return .success(["sent_to": .string(to), "idempotency_key": .string(context.idempotencyKey)])
})
let logger = Logger(label: "my-app.worker")
let worker = Worker(store: store, registry: registry, configuration: WorkerConfiguration(concurrency: 8), logger: logger)
try await ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
