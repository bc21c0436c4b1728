import ArgumentParser
import PlanCore
import PlanStore

/// Pauses, resumes and limits queues.
struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Pause, resume or limit a queue.", subcommands: [Pause.self, Resume.self, Limit.self])

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop claiming jobs from a queue (enqueue still works).")
        @Argument(help: "The queue.") var name: String
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let store = try database.open(create: false, write: true)
            try await Console.run { try await store.setPaused(true, queue: name) }
            print("queue \(name) paused")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resume", abstract: "Claim jobs from a paused queue again.")
        @Argument(help: "The queue.") var name: String
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let store = try database.open(create: false, write: true)
            try await Console.run { try await store.setPaused(false, queue: name) }
            print("queue \(name) resumed")
        }
    }

    struct Limit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "limit",
            abstract: "Refuse enqueues (exit 75) once a queue has this many pending jobs; 'none' removes the limit.")
        @Argument(help: "The queue.") var name: String
        @Argument(help: "The most pending jobs, or none.") var limit: String
        @OptionGroup var database: DatabaseOption

        func validate() throws {
            guard limit == "none" || (Int(limit).map { $0 >= 0 } ?? false) else {
                throw ValidationError("the limit must be a whole number from 0, or none")
            }
        }

        func run() async throws {
            let store = try database.open(create: false, write: true)
            try await Console.run { try await store.setMaxPending(Int(limit), queue: name) }
            print("queue \(name) limit \(limit)")
        }
    }
}
