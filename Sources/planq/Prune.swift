import ArgumentParser
import PlanCore
import PlanStore

/// Deletes old finished jobs.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete finished jobs (succeeded, failed, cancelled) older than a duration, with their step results and events, in short transactions.")

    @Option(help: "Delete jobs that finished longer ago than this, e.g. 30d.")
    var olderThan: String
    @Flag(help: "Only count what would be deleted; delete nothing.")
    var dryRun = false
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func validate() throws {
        guard PlanDuration(olderThan) != nil else { throw ValidationError("--older-than \"\(olderThan)\" is not a duration such as 30d") }
    }

    func run() async throws {
        let store = try await database.open(create: false, write: !dryRun)
        let now = Timestamp.now()
        let cutoff = Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - PlanDuration(olderThan)!.milliseconds)
        if dryRun {
            let counts = try await Console.run { try await store.pruneCandidates(finishedBefore: cutoff) }
            let (jobs, steps, events) = (counts.jobs, counts.stepResults, counts.events)
            if output.json {
                Console.printJSON(["would_delete": .integer(Int64(jobs)), "step_results": .integer(Int64(steps)), "events": .integer(Int64(events))])
            } else {
                print("would delete \(jobs) jobs, \(steps) step results and \(events) events (dry run: nothing deleted)")
            }
            return
        }
        let count = try await Console.run { try await store.prune(finishedBefore: cutoff) }
        if output.json { Console.printJSON(["deleted": .integer(Int64(count))]) } else { print("deleted \(count) jobs") }
    }
}
