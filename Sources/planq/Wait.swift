import ArgumentParser
import Foundation
import PlanCore
import PlanStore

/// Blocks until a job ends.
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until a job ends: exit 0 if it succeeded, 1 if it failed or was cancelled, 124 on --timeout.")

    @OptionGroup var job: JobSelector
    @Option(help: "Give up after this long, e.g. 30s (exit 124).")
    var timeout: String?
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func validate() throws {
        if let timeout, PlanDuration(timeout) == nil { throw ValidationError("--timeout \"\(timeout)\" is not a duration such as 30s") }
    }

    func run() async throws {
        let store = try database.open(create: false)
        let deadline = timeout.flatMap(PlanDuration.init).map { ContinuousClock.now + $0.duration }
        var pause = Duration.milliseconds(20)
        while true {
            let state = try await Console.run { try await store.state(of: job.reference) }
            if state.isFinished {
                if output.json { Console.printJSON(["state": .string(state.rawValue)]) } else { print(state.rawValue) }
                if state != .succeeded { throw ExitCode.failure }
                return
            }
            if let deadline, ContinuousClock.now >= deadline {
                Console.complain("job \(job.reference) is still \(state.rawValue) after \(timeout!)")
                throw ExitCode(124)
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(250))
        }
    }
}
