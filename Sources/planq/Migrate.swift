import ArgumentParser
import Foundation
import PlanCore
import PlanStore

/// Applies migrations, or lists them.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Create the database if needed and apply pending migrations.")

    @Flag(help: "List the migrations and when each was applied; change nothing.")
    var status = false

    @OptionGroup var database: DatabaseOption
    @OptionGroup var storage: StorageOptions
    @OptionGroup var output: OutputOption

    func run() async throws {
        let store = try await database.open(create: !status, storage: storage)
        let migrations = try await Console.run { try await store.migrationStatus() }
        if output.json {
            Console.printJSON(.array(migrations.map {
                ["version": .integer(Int64($0.version)), "name": .string($0.name), "applied_at": $0.appliedAt.map { .string($0) } ?? .null]
            }))
            return
        }
        for migration in migrations {
            print("\(migration.name)  \(migration.appliedAt.map { "applied \($0)" } ?? "pending")")
        }
    }
}
