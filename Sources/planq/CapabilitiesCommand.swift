import ArgumentParser
import PlanCore
import PlanStore

/// Lists registered capabilities.
struct Capabilities: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capabilities",
        abstract: "List the capabilities workers registered, with the live workers that provide each now.")

    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func run() async throws {
        let store = try await database.open(create: false)
        let capabilities = try await Console.run { try await store.capabilities() }
        let live = try await Console.run { try await store.workers(me: .current(), now: .now()) }.filter { $0.state == .live }
        func providers(_ name: String) -> [String] {
            live.filter { $0.registration.capabilities.contains(name) }.map(\.registration.owner.label)
        }
        if output.json {
            Console.printJSON(.array(capabilities.map {
                ["name": .string($0.name), "worker": .string($0.worker), "registered_at": .string($0.registeredAt),
                 "live_workers": .array(providers($0.name).map(JSONValue.string))]
            }))
            return
        }
        let now = Timestamp.now()
        print(Table.render(header: ["NAME", "LIVE WORKERS", "LAST REGISTERED BY", "REGISTERED"], rows: capabilities.map {
            [$0.name, providers($0.name).joined(separator: ",").nonEmpty ?? "none", $0.worker, RelativeTime.since($0.registeredAt, now: now)]
        }))
    }
}

extension String {
    /// `nil` for the empty string.
    var nonEmpty: String? { isEmpty ? nil : self }
}
