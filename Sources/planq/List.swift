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
    @Option(help: "Only jobs whose idempotency key starts with this.")
    var keyPrefix: String?
    @Option(help: "At most this many jobs.")
    var limit = 50

    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be above 0") }
    }

    func run() async throws {
        let store = try await database.open(create: false)
        let jobs = try await Console.run { try await store.list(JobFilter(states: state.map { [$0] }, queue: queue, keyPrefix: keyPrefix), limit: limit) }
        if output.json {
            Console.printJSON(.array(jobs.map(\.json)))
            return
        }
        let now = Timestamp.now()
        let rows = jobs.map { job in
            [String(job.id), job.state.rawValue, job.queue, String(job.priority), String(job.runs), RelativeTime.since(job.createdAt, now: now),
             job.finishedAt.map { RelativeTime.since($0, now: now) } ?? (job.state == .pending ? "due " + RelativeTime.since(job.runAt, now: now) : "-"),
             RelativeTime.between(job.createdAt, job.finishedAt) ?? "-", job.idempotencyKey, job.errorCode?.rawValue ?? ""]
        }
        print(Table.render(header: ["ID", "STATE", "QUEUE", "PRI", "RUNS", "CREATED", "RUN/FINISHED", "TOOK", "KEY", "ERROR"], rows: rows))
    }
}
