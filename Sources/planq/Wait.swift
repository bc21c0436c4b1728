import ArgumentParser
import Foundation
import PlanCore
import PlanStore

/// Blocks until a job ends.
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until a job ends: exit 0 if it succeeded, 1 if it failed or was cancelled (its error on stderr), 124 on --timeout.",
        discussion: "Warns once on stderr when no live worker serves the job's queue.")

    @OptionGroup var job: JobSelector
    @Option(help: "Give up after this long, e.g. 30s (exit 124).")
    var timeout: String?
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func validate() throws {
        if let timeout, PlanDuration(timeout) == nil { throw ValidationError("--timeout \"\(timeout)\" is not a duration such as 30s") }
    }

    func run() async throws {
        let store = try await database.open(create: false)
        let detail = try await Self.untilFinished(job.reference, in: store, timeout: timeout)
        let state = detail.summary.state
        if output.json {
            Console.printJSON(["id": .integer(detail.summary.id), "state": .string(state.rawValue), "result": detail.result ?? .null,
                               "error": detail.error ?? .null])
        } else {
            print(state.rawValue)
        }
        if state != .succeeded {
            if let error = detail.error { Console.complain("job \(detail.summary.id) \(state.rawValue): \(Self.describe(error))") }
            throw ExitCode.failure
        }
    }

    /// `code: message` of a stored error.
    static func describe(_ error: JSONValue) -> String {
        let code = error[JSONPointer("/code")!]?.stringValue ?? "error"
        let message = error[JSONPointer("/message")!]?.stringValue
        return (message.map { "\(code): \($0)" } ?? code).printable
    }

    /// Waits until the job ends and returns it; warns once on stderr when no live worker serves its
    /// queue. Past `timeout` it says so and exits 124.
    static func untilFinished(_ reference: JobReference, in store: any JobStore, timeout: String?) async throws -> JobDetail {
        let deadline = timeout.flatMap(PlanDuration.init).map { ContinuousClock.now + $0.duration }
        var pause = Duration.milliseconds(20)
        var warned = false
        while true {
            let state = try await Console.run { try await store.state(of: reference) }
            if state.isFinished { return try await Console.run { try await store.detail(reference) } }
            if !warned {
                warned = true
                let queue = try await Console.run { try await store.detail(reference) }.summary.queue
                let workers = try await Console.run { try await store.workers(me: .current(), now: .now()) }
                if !workers.contains(where: { $0.state == .live && $0.serves(queue) }) {
                    Console.complain("warning: no live worker serves queue \(queue.printable); the job waits until one starts (planq workers)")
                }
            }
            if let deadline, ContinuousClock.now >= deadline {
                Console.complain("job \(reference) is still \(state.rawValue) after \(timeout!)")
                throw ExitCode(124)
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(250))
        }
    }
}
