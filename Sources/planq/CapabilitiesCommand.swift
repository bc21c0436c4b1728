import ArgumentParser
import PlanCore
import PlanStore

/// Lists registered capabilities.
struct Capabilities: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "capabilities", abstract: "List the capabilities workers registered.")

    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func run() async throws {
        let store = try database.open(create: false)
        let capabilities = try await Console.run { try await store.capabilities() }
        if output.json {
            Console.printJSON(.array(capabilities.map {
                ["name": .string($0.name), "worker": .string($0.worker), "registered_at": .string($0.registeredAt)]
            }))
            return
        }
        print(Table.render(header: ["NAME", "WORKER", "REGISTERED_AT"], rows: capabilities.map { [$0.name, $0.worker, $0.registeredAt] }))
    }
}
