import ArgumentParser
import PlanCore
import PlanStore

/// Retries a failed or cancelled job, or every one that matches filters.
struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Put a failed or cancelled job (or every one that matches filters) back to pending, due now.",
        discussion: """
            Recorded successes are replayed, every step gets its full max_attempts again. \
            --from STEP sets aside the recorded results of STEP and every later step, so they run again \
            (the old rows stay in step_results, marked superseded). With filters, the count is printed.
            """)

    @OptionGroup var selection: BulkSelector
    @Option(help: "Run this step and every later one again (one job only).")
    var from: String?
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func validate() throws {
        if from != nil && selection.reference == nil { throw ValidationError("--from names a step of one job; it cannot be used with filters") }
    }

    func run() async throws {
        let store = try await database.open(create: false, write: true)
        guard let reference = selection.reference else {
            let jobs = try await Console.run { try await store.list(selection.filter(states: [.failed, .cancelled], now: .now()), limit: .max) }
            var retried = 0
            for job in jobs.reversed() {
                do {
                    _ = try await store.retry(.id(job.id))
                    retried += 1
                } catch .wrongState {
                    continue  // retried meanwhile
                } catch {
                    throw Console.failure(error)
                }
            }
            if output.json { Console.printJSON(["retried": .integer(Int64(retried))]) } else { print("retried \(retried) jobs; they are pending") }
            return
        }
        let id = try await Console.run { try await store.retry(reference, fromStep: from) }
        if output.json { Console.printJSON(["id": .integer(id), "state": "pending"]) } else { print("job \(id) is pending") }
    }
}
