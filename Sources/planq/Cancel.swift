import ArgumentParser
import PlanCore
import PlanStore

/// Cancels a job, or every job that matches filters.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a job, or every pending or running job that matches filters: a pending one at once, a running one through its worker.",
        discussion: """
            Cancelling a cancelled job changes nothing (exit 0); a succeeded or failed job cannot be cancelled (exit 1). \
            With filters, the jobs that can be cancelled are, and the count is printed.
            """)

    @OptionGroup var selection: BulkSelector
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func run() async throws {
        let store = try await database.open(create: false, write: true)
        guard let reference = selection.reference else { return try await cancelMatching(store) }
        let result = try await Console.run { try await store.cancel(reference) }
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

    private func cancelMatching(_ store: any JobStore) async throws {
        let jobs = try await Console.run { try await store.list(selection.filter(states: [.pending, .running], now: .now()), limit: .max) }
        var counts: [CancelResult: Int] = [:]
        var finished = 0
        for job in jobs.reversed() {
            do {
                counts[try await store.cancel(.id(job.id)), default: 0] += 1
            } catch .wrongState {
                finished += 1  // it ended meanwhile
            } catch {
                throw Console.failure(error)
            }
        }
        let (cancelled, requested) = (counts[.cancelled] ?? 0, counts[.requested] ?? 0)
        if output.json {
            Console.printJSON(["cancelled": .integer(Int64(cancelled)), "requested": .integer(Int64(requested)),
                               "already_finished": .integer(Int64(finished))])
        } else {
            print("cancelled \(cancelled) pending jobs; asked the workers of \(requested) running jobs to stop them"
                  + (finished > 0 ? "; \(finished) ended meanwhile" : ""))
        }
    }
}
