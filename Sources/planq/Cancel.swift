import ArgumentParser
import PlanCore
import PlanStore

/// Cancels a job.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a job: a pending one at once, a running one through its worker.",
        discussion: "Cancelling a cancelled job changes nothing (exit 0); a succeeded or failed job cannot be cancelled (exit 1).")

    @OptionGroup var job: JobSelector
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func run() async throws {
        let store = try database.open(create: false, write: true)
        let result = try await Console.run { try await store.cancel(job.reference) }
        if output.json {
            Console.printJSON(["result": .string(result.rawValue)])
        } else {
            let message = switch result {
            case .cancelled: "cancelled"
            case .requested: "cancel requested; the worker stops the job"
            case .alreadyCancelled: "already cancelled"
            }
            print(message)
        }
    }
}
