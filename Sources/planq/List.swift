import ArgumentParser
import Foundation
import PlanCore
import PlanStore

extension JobState: ExpressibleByArgument {}

/// Lists jobs.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List jobs, newest first.")

    @Option(help: "Only jobs in this state (pending, running, succeeded, failed, cancelled).")
    var state: JobState?
    @Option(help: "Only jobs of this queue.")
    var queue: String?
    @Option(help: "At most this many jobs.")
    var limit = 50

    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be above 0") }
    }

    func run() async throws {
        let store = try database.open(create: false)
        let jobs = try await Console.run { try await store.list(state: state, queue: queue, limit: limit) }
        if output.json {
            Console.printJSON(.array(jobs.map(\.json)))
            return
        }
        let rows = jobs.map { job in
            [String(job.id), job.state.rawValue, job.queue, String(job.priority), String(job.runs), job.runAt, job.idempotencyKey, job.errorCode?.rawValue ?? ""]
        }
        print(Table.render(header: ["ID", "STATE", "QUEUE", "PRI", "RUNS", "RUN_AT", "KEY", "ERROR"], rows: rows))
    }
}
