import ArgumentParser
import PlanCore
import PlanStore

/// The workers, live ones first.
struct Workers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "List the workers: live ones with their running jobs and when each was last seen, then those stopped or lost in the last day.",
        discussion: """
            A worker renews its row every few seconds; one not seen for 30s, or whose process is gone from this host, is lost. \
            Queues whose rate limit holds their jobs back right now are named after the table (JSON: held_by_rate, per live worker).
            """)

    @Flag(help: "Only the live workers.")
    var live = false
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func run() async throws {
        let store = try await database.open(create: false)
        let now = Timestamp.now()
        let (workers, stats) = try await Console.run {
            (try await store.workers(me: .current(), now: now).filter { !live || $0.state == .live }, try await store.stats(now: now))
        }
        let held = stats.queues.filter { $0.heldUntil != nil }
        if output.json {
            Console.printJSON(.array(workers.map { worker in
                guard worker.state == .live, case .object(var fields) = worker.json else { return worker.json }
                let served = held.filter { queue in worker.registration.queues?.contains(queue.queue) ?? true }
                fields["held_by_rate"] = .array(served.map { .string($0.queue) })
                return .object(fields)
            }))
            return
        }
        print(Table.render(
            header: ["WORKER", "STATE", "VERSION", "QUEUES", "CONCURRENCY", "RUNNING", "STARTED", "LAST SEEN"],
            rows: workers.map { worker in
                [worker.registration.owner.label, worker.state.rawValue, worker.registration.version,
                 worker.registration.queues?.joined(separator: ",") ?? "all", String(worker.registration.concurrency),
                 worker.runningJobs.isEmpty ? "-" : worker.runningJobs.map(String.init).joined(separator: ","),
                 RelativeTime.since(worker.startedAt, now: now), RelativeTime.since(worker.lastSeenAt, now: now)]
            }))
        for queue in held {
            guard let rate = queue.rate, let until = queue.heldUntil else { continue }
            print("queue \(queue.queue) is held by its rate \(rate): the next job starts \(RelativeTime.since(until, now: now))")
        }
    }
}
