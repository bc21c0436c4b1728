import ArgumentParser
import PlanCore
import PlanStore

/// Deletes old finished jobs.
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete finished jobs (succeeded, failed, cancelled) older than a duration, with their step results and events.")

    @Option(help: "Delete jobs that finished longer ago than this, e.g. 30d.")
    var olderThan: String
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func validate() throws {
        guard PlanDuration(olderThan) != nil else { throw ValidationError("--older-than \"\(olderThan)\" is not a duration such as 30d") }
    }

    func run() throws {
        let store = try database.open(create: false)
        let now = Timestamp.now()
        let cutoff = Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - PlanDuration(olderThan)!.milliseconds)
        let count = try Console.run { try store.prune(finishedBefore: cutoff) }
        if output.json { Console.printJSON(["deleted": .integer(Int64(count))]) } else { print("deleted \(count) jobs") }
    }
}
