import ArgumentParser
import PlanStore

@main
struct Planq: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "planq",
        abstract: "A persistent job queue for Linux with an embedded SQLite store.",
        discussion: """
            Exit status: 0 success, 64 usage error, 65 invalid plan, 69 database missing or locked past the timeout, \
            75 queue full, 1 otherwise.
            """,
        version: "planq \(Versions.planq)\nschema \(Versions.schema)\nSQLite \(Versions.sqlite)",
        subcommands: [Enqueue.self, Run.self, WorkerCommand.self, List.self, Show.self, Events.self, Workers.self, Cancel.self, Retry.self,
                      Wait.self, Prune.self, Stats.self, QueueCommand.self, ScheduleCommand.self, Migrate.self, Capabilities.self, Check.self, Copy.self, Bench.self])
}
