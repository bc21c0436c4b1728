import ArgumentParser
import Foundation
import PlanCore
import PlanStore
import PlanWorker

/// Validates plans and stores them.
struct Enqueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Validate a plan and store it as a job; prints the job id.",
        discussion: """
            A second enqueue with the same idempotency key returns the existing job and writes nothing. \
            Exits 65 for an invalid plan, 75 when the queue is full, 69 when the database cannot be opened.
            """)

    @Argument(help: "The plan file, or - for standard input.")
    var file = "-"

    @Option(help: "The idempotency key (overrides the file's).")
    var key: String?
    @Option(help: "The queue (overrides the file's).")
    var queue: String?
    @Option(help: "The priority, 0 (first) to 9 (overrides the file's).")
    var priority: Int?
    @Option(help: "Run this long from now, e.g. 30s (overrides the file's delay or run_at).")
    var delay: String?
    @Option(help: "Run at this RFC 3339 time (overrides the file's delay or run_at).")
    var runAt: String?
    @Option(help: "The W3C traceparent of the caller's trace (overrides the file's): the job's calls join that trace.")
    var traceparent: String?
    @Flag(help: "Read one plan per line (JSON Lines) and store them all in one transaction, or none if any is invalid.")
    var lines = false
    @Flag(help: "Accept calls of capabilities that are neither built in nor registered by a worker.")
    var allowUnknown = false

    @OptionGroup var database: DatabaseOption
    @OptionGroup var storage: StorageOptions
    @OptionGroup var output: OutputOption

    func validate() throws {
        if lines && key != nil { throw ValidationError("--key names one job; it cannot be used with --lines") }
        if delay != nil && runAt != nil { throw ValidationError("give either --delay or --run-at, not both") }
    }

    var overrides: [JSONKey: JSONValue] {
        var members: [JSONKey: JSONValue] = [:]
        if let key { members["idempotency_key"] = .string(key) }
        if let queue { members["queue"] = .string(queue) }
        if let priority { members["priority"] = .integer(Int64(priority)) }
        if let delay { members["delay"] = .string(delay) }
        if let runAt { members["run_at"] = .string(runAt) }
        if let traceparent { members["traceparent"] = .string(traceparent) }
        return members
    }

    func run() async throws {
        if file == "-" && isatty(STDIN_FILENO) == 1 {
            Console.complain("reading a plan from standard input (end it with Ctrl-D; planq enqueue FILE reads a file)")
        }
        let bytes = try PlanFile.read(file, limit: lines ? PlanFile.maxBatchBytes : PlanDescription.maxDocumentBytes)
        let documents: [(line: Int?, bytes: ArraySlice<UInt8>)] = lines
            ? bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
                .filter { !$0.element.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
                .map { (line: $0.offset + 1, bytes: $0.element) }
            : [(line: nil, bytes: bytes[...])]
        if documents.isEmpty {
            Console.complain("\(file): no plan to enqueue")
            throw ExitStatus.invalidPlan
        }
        // An existing database tells which capabilities workers registered; a new one is created
        // only once every plan passed, so that bad input writes nothing.
        var store = database.mayExist ? try await database.open(create: true, storage: storage) : nil
        let known = allowUnknown ? nil : try await PlanFile.knownCapabilities(store)
        var plans: [PlanDescription] = []
        for document in documents {
            let name = "\(file)" + (document.line.map { ":\($0)" } ?? "")
            if let plan = PlanFile.validate(document.bytes, named: name, overriding: overrides, known: known) { plans.append(plan) }
        }
        if plans.count < documents.count { throw ExitStatus.invalidPlan }
        if store == nil { store = try await database.open(create: true, storage: storage) }
        let results = try await Console.run { try await store!.enqueue(plans) }
        for result in results {
            if output.json { Console.printJSON(result.json) } else { print(result.id) }
        }
    }
}

extension EnqueueResult {
    /// `{"id", "idempotency_key", "created"}`, as `enqueue --json` and `run --json` print it.
    var json: JSONValue { ["id": .integer(id), "idempotency_key": .string(idempotencyKey), "created": .bool(created)] }
}
