import ArgumentParser
import Foundation
import PlanCore
import PlanStore

/// Enqueues a command as a one-step `process.run` job.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Enqueue a command as a one-step process.run job; prints the job id.",
        discussion: """
            The command is looked up in PATH here and stored with its absolute path; the worker runs it only if its \
            --allow-exec names it. It runs once (--attempts for more), in the worker's directory unless --cwd says otherwise. \
            With --wait: wait for it, print its output and exit with its exit status.
            """)

    @Option(help: "The queue.")
    var queue: String?
    @Option(help: "The idempotency key (default: a new one).")
    var key: String?
    @Option(help: "The most times the command runs (a non-zero exit is retried).")
    var attempts = 1
    @Option(help: "The folder the command runs in (an absolute path).")
    var cwd: String?
    @Option(help: "Stop the command after this long, e.g. 10m.")
    var timeout: String?
    @Option(help: "The W3C traceparent of the caller's trace: the command gets it (with a span of its own) as TRACEPARENT.")
    var traceparent: String?
    @Flag(help: "Wait for the command, print its stdout and stderr, and exit with its exit status.")
    var wait = false
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    @OptionGroup var database: DatabaseOption
    @OptionGroup var storage: StorageOptions
    @OptionGroup var output: OutputOption

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("name the command after --, e.g. planq run -- /bin/echo hello") }
        guard (1...100).contains(attempts) else { throw ValidationError("--attempts must be from 1 to 100") }
        if let cwd, !cwd.hasPrefix("/") { throw ValidationError("--cwd \(cwd.quoted) must be an absolute path") }
        if let timeout, PlanDuration(timeout) == nil { throw ValidationError("--timeout \(timeout.quoted) is not a duration such as 10m") }
    }

    /// `name` as an absolute path: as it is when it has a slash (made absolute from here), else the
    /// first executable of that name in PATH.
    static func program(_ name: String) -> String? {
        if name.contains("/") {
            return name.hasPrefix("/") ? name : FileManager.default.currentDirectoryPath + "/" + name
        }
        let path = environmentValue("PATH") ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }

    func run() async throws {
        guard let program = Self.program(command[0]) else {
            Console.complain("\(command[0].printable): no such command in PATH")
            throw ExitStatus.usage
        }
        var input: [JSONKey: JSONValue] = ["argv": .array(([program] + command.dropFirst()).map(JSONValue.string))]
        if let cwd { input["cwd"] = .string(cwd) }
        var step: [JSONKey: JSONValue] = ["id": "run", "call": "process.run", "input": .object(input)]
        if let timeout { step["timeout"] = .string(timeout) }
        var plan: [JSONKey: JSONValue] = ["version": 1, "steps": [.object(step)], "retry": ["max_attempts": .integer(Int64(attempts))]]
        if let key { plan["idempotency_key"] = .string(key) }
        if let queue { plan["queue"] = .string(queue) }
        if let traceparent { plan["traceparent"] = .string(traceparent) }
        let description: PlanDescription
        do {
            description = try PlanDescription.decode(Array(JSONValue.object(plan).canonicalText.utf8), newKey: { UUID().uuidString.lowercased() })
        } catch {
            for issue in error.issues { Console.complain("the command's plan: \(issue)") }
            throw ExitStatus.invalidPlan
        }
        let store = try await database.open(create: true, storage: storage)
        let result = try await Console.run { try await store.enqueue([description]) }[0]
        guard wait else {
            if output.json { Console.printJSON(result.json) } else { print(result.id) }
            return
        }
        let detail = try await Wait.untilFinished(.id(result.id), in: store, timeout: nil)
        // The command's own output: the result when it exited 0, the error's details when it did not.
        let ran = detail.result ?? detail.error?[JSONPointer("/details")!]
        if output.json {
            Console.printJSON(["id": .integer(result.id), "state": .string(detail.summary.state.rawValue),
                               "result": detail.result ?? .null, "error": detail.error ?? .null])
        } else if let ran {
            Self.write(ran[JSONPointer("/stdout")!]?.stringValue ?? "", to: STDOUT_FILENO)
            Self.write(ran[JSONPointer("/stderr")!]?.stringValue ?? "", to: STDERR_FILENO)
        }
        if detail.summary.state == .succeeded { return }
        if let code = ran?[JSONPointer("/exit_code")!], case .integer(let status) = code, status > 0, status < 256 {
            throw ExitCode(Int32(status))
        }
        if let error = detail.error { Console.complain("job \(result.id) \(detail.summary.state.rawValue): \(Wait.describe(error))") }
        throw ExitCode.failure
    }

    /// Writes the command's output as it is, or with control characters escaped on a terminal.
    private static func write(_ text: String, to descriptor: Int32) {
        let shown = isatty(descriptor) == 1 ? text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).printable }
            .joined(separator: "\n") : text
        FileHandle(fileDescriptor: descriptor).write(Data(shown.utf8))
    }
}
