import ArgumentParser
import PlanCore
import PlanStore

/// Pauses, resumes and limits queues.
struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Pause, resume, limit or rate-limit a queue.", subcommands: [Pause.self, Resume.self, Limit.self, Rate.self])

    /// The queue named, and whether to make it when it has never had a job.
    struct Target: ParsableArguments {
        @Argument(help: "The queue.") var name: String
        @Flag(help: "Set up a queue that has never had a job (a misspelt name would otherwise make a queue no job uses).")
        var create = false
        @OptionGroup var database: DatabaseOption

        /// The store, once the queue is known (or `--create` was given); else a warning and exit 1.
        func open() async throws -> any JobStore {
            let store = try await database.open(create: false, write: true)
            let known = try await Console.run { try await store.stats() }.queues.contains { $0.queue == name }
            if !known && !create {
                Console.complain("warning: queue \(name.printable) has never had a job; check the name, or give --create to set it up")
                throw ExitCode.failure
            }
            return store
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop claiming jobs from a queue (enqueue still works).")
        @OptionGroup var queue: Target

        func run() async throws {
            let store = try await queue.open()
            try await Console.run { try await store.setPaused(true, queue: queue.name) }
            print("queue \(queue.name.printable) paused")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resume", abstract: "Claim jobs from a paused queue again.")
        @OptionGroup var queue: Target

        func run() async throws {
            let store = try await queue.open()
            try await Console.run { try await store.setPaused(false, queue: queue.name) }
            print("queue \(queue.name.printable) resumed")
        }
    }

    struct Limit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "limit",
            abstract: "Refuse enqueues (exit 75) once a queue has this many pending jobs; 'none' removes the limit.")
        @OptionGroup var queue: Target
        // Taken as it comes, so that a negative number reaches the check below instead of reading as an option.
        @Argument(parsing: .allUnrecognized, help: "The most pending jobs, or none.") var limit: [String] = []

        func validate() throws {
            guard limit.count == 1 else { throw ValidationError("give one limit after the queue: a whole number from 0, or none") }
            guard limit[0] == "none" || (Int(limit[0]).map { $0 >= 0 } ?? false) else {
                throw ValidationError("the limit \(limit[0].quoted) is not a whole number from 0, or none")
            }
        }

        func run() async throws {
            let store = try await queue.open()
            try await Console.run { try await store.setMaxPending(Int(limit[0]), queue: queue.name) }
            print("queue \(queue.name.printable) limit \(limit[0])")
        }
    }

    struct Rate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rate",
            abstract: "Let at most N jobs of a queue start per period across all workers, e.g. 100/1m; 'none' lifts it. Jobs over it wait.")
        @OptionGroup var queue: Target
        @Argument(help: "N/PERIOD (e.g. 5/1s, 100/1m), or none.") var rate: String

        func validate() throws {
            guard rate == "none" || QueueRate(rate) != nil else {
                throw ValidationError("the rate \(rate.quoted) is not N/PERIOD (N from 1 to 1,000,000, a period such as 1s or 1m), or none")
            }
        }

        func run() async throws {
            let store = try await queue.open()
            try await Console.run { try await store.setRate(QueueRate(rate), queue: queue.name) }
            print(rate == "none" ? "queue \(queue.name.printable) has no rate limit" : "queue \(queue.name.printable) starts at most \(rate)")
        }
    }
}
