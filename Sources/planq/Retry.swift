import ArgumentParser
import PlanCore
import PlanStore

/// Retries a failed or cancelled job.
struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Put a failed or cancelled job back to pending, due now.",
        discussion: """
            Recorded successes are replayed, every step gets its full max_attempts again. \
            --from STEP sets aside the recorded results of STEP and every later step, so they run again \
            (the old rows stay in step_results, marked superseded).
            """)

    @OptionGroup var job: JobSelector
    @Option(help: "Run this step and every later one again.")
    var from: String?
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func run() async throws {
        let store = try database.open(create: false, write: true)
        let id = try await Console.run { try await store.retry(job.reference, fromStep: from) }
        if output.json { Console.printJSON(["id": .integer(id), "state": "pending"]) } else { print("job \(id) is pending") }
    }
}
