import ArgumentParser
import PlanCore
import PlanStore

/// Counts by queue and state.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Counts by queue and state, the oldest due pending job's age, and the last minute's throughput.")

    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption
    @Flag(help: "Print the queue figures in Prometheus's text format, as a worker's --metrics serves them (for node_exporter's textfile collector).")
    var prometheus = false

    func validate() throws {
        if prometheus && output.json { throw ValidationError("--prometheus and --json cannot be combined") }
    }

    func run() async throws {
        let store = try await database.open(create: false)
        let stats = try await Console.run { try await store.stats() }
        if prometheus {
            print(PrometheusExport.text(of: stats), terminator: "")
            return
        }
        if output.json {
            Console.printJSON([
                "queues": .array(stats.queues.map { queue in
                    .object(["queue": .string(queue.queue), "paused": .bool(queue.paused),
                             "max_pending": queue.maxPending.map { .integer(Int64($0)) } ?? .null,
                             "rate": queue.rate.map { .string($0.description) } ?? .null,
                             "held_until": queue.heldUntil.map { .string($0.iso8601) } ?? .null]
                        .merging(JobState.allCases.map { (JSONKey($0.rawValue), JSONValue.integer(Int64(queue.counts[$0] ?? 0))) }) { a, _ in a })
                }),
                "oldest_pending_seconds": stats.oldestPendingSeconds.map(JSONValue.number) ?? .null,
                "finished_last_minute": .integer(Int64(stats.finishedLastMinute)),
            ])
            return
        }
        print(Table.render(
            header: ["QUEUE"] + JobState.allCases.map { $0.rawValue.uppercased() } + ["PAUSED", "MAX_PENDING", "RATE"],
            rows: stats.queues.map { queue in
                [queue.queue] + JobState.allCases.map { String(queue.counts[$0] ?? 0) } + [queue.paused ? "yes" : "no", queue.maxPending.map(String.init) ?? "-",
                 queue.rate.map { rate in queue.heldUntil.map { "\(rate) (held, next start \(RelativeTime.since($0, now: .now())))" } ?? rate.description } ?? "-"]
            }))
        print("oldest due pending job: \(stats.oldestPendingSeconds.map { "waiting " + RelativeTime.duration(milliseconds: Int64($0 * 1000)) } ?? "none")")
        print("finished in the last minute: \(stats.finishedLastMinute)")
    }
}
