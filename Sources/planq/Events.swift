import ArgumentParser
import Foundation
import PlanCore
import PlanStore

/// The history, and with `--follow` new events as they commit.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print the history (job_history), oldest first; --follow prints new events as they commit, until interrupted.")

    @Option(help: "Only this job's events.")
    var job: Int64?
    @Option(help: "Only the events of the job with this idempotency key.")
    var key: String?
    @Option(help: "Only events of jobs of this queue.")
    var queue: String?
    @Option(help: "Only events since this time: an RFC 3339 time, or a duration ago such as 10m.")
    var since: String?
    @Option(help: "Print at most this many past events (the latest).")
    var limit = 100
    @Flag(help: "Keep printing new events as they commit, until interrupted.")
    var follow = false
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func validate() throws {
        if job != nil && key != nil { throw ValidationError("name the job by --job or by --key, not both") }
        guard limit > 0 else { throw ValidationError("--limit must be above 0") }
        if let since, Self.time(since, now: .now()) == nil {
            throw ValidationError("--since \(since.quoted) is neither an RFC 3339 time nor a duration such as 10m")
        }
    }

    /// `text` as a time: RFC 3339, or a duration before `now`.
    static func time(_ text: String, now: Timestamp) -> Timestamp? {
        Timestamp(rfc3339: text) ?? PlanDuration(text).map { now.before($0.duration) }
    }

    func run() async throws {
        let store = try await database.open(create: false)
        let filter = EventFilter(job: job.map(JobReference.id) ?? key.map(JobReference.key), queue: queue,
                                 since: since.flatMap { Self.time($0, now: .now()) })
        var (events, cursor) = try await Console.run { try await store.events(filter, after: nil, limit: limit) }
        print(events)
        guard follow else { return }
        // Woken by the same change notification the worker uses, and each second besides, in case
        // the notification is unavailable (another file system) or missed.
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let changes = store.changes() {
                group.addTask { for await _ in changes { wake.yield() } }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    wake.yield()
                }
            }
            // A store out of reach (a server restarting, a cut) is waited for, from the same cursor.
            var outOfReach = false
            for await _ in wakeups {
                repeat {
                    do {
                        (events, cursor) = try await store.events(filter, after: cursor, limit: 1000)
                    } catch let error as StoreError where error.isFault {
                        if !outOfReach { Console.complain("\(error.description); following on once the store answers") }
                        outOfReach = true
                        break
                    } catch {
                        throw (error as? StoreError).map(Console.failure) ?? error
                    }
                    outOfReach = false
                    print(events)
                } while events.count == 1000
            }
        }
    }

    private func print(_ events: [HistoryEvent]) {
        let now = Timestamp.now()
        for event in events {
            if output.json {
                Console.printJSON(event.json)
            } else {
                let detail = event.detail.map { " " + $0.canonicalText } ?? ""
                Swift.print("\(event.at)  job \(event.jobID)  \(event.kind.rawValue)\(detail)  (\(event.queue), \(event.idempotencyKey), \(RelativeTime.since(event.at, now: now)))".printable)
            }
        }
        fflush(nil)
    }
}
