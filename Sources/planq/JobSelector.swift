import ArgumentParser
import PlanCore
import PlanStore

/// A job named by its id, or by `--key`.
struct JobSelector: ParsableArguments {
    @Argument(help: "The job id.")
    var id: Int64?
    @Option(help: "The job's idempotency key, instead of its id.")
    var key: String?

    func validate() throws {
        guard (id == nil) != (key == nil) else { throw ValidationError("name the job by its id or by --key (one of them)") }
    }

    var reference: JobReference { id.map(JobReference.id) ?? .key(key!) }
}

/// One job by its id or `--key`, or every job that matches filters: for `cancel` and `retry`.
struct BulkSelector: ParsableArguments {
    @Argument(help: "The job id.")
    var id: Int64?
    @Option(help: "The job's idempotency key, instead of its id.")
    var key: String?
    @Option(help: "Every job of this queue (with the other filters).")
    var queue: String?
    @Option(help: "Every job in this state (with the other filters).")
    var state: JobState?
    @Option(help: "Every job whose idempotency key starts with this (with the other filters).")
    var keyPrefix: String?
    @Option(help: "Every job created longer ago than this, e.g. 1h (with the other filters).")
    var olderThan: String?

    var hasFilter: Bool { queue != nil || state != nil || keyPrefix != nil || olderThan != nil }

    func validate() throws {
        let named = (id != nil ? 1 : 0) + (key != nil ? 1 : 0) + (hasFilter ? 1 : 0)
        guard named == 1 else {
            throw ValidationError("name one job by its id or by --key, or jobs by filters (--queue, --state, --key-prefix, --older-than)")
        }
        if let olderThan, PlanDuration(olderThan) == nil { throw ValidationError("--older-than \(olderThan.quoted) is not a duration such as 1h") }
    }

    /// The one job named, or `nil` when filters name many.
    var reference: JobReference? { id.map(JobReference.id) ?? key.map(JobReference.key) }

    /// The filters, restricted to `states`: the states the operation applies to.
    func filter(states allowed: [JobState], now: Timestamp) -> JobFilter {
        JobFilter(states: state.map { allowed.contains($0) ? [$0] : [] } ?? allowed, queue: queue, keyPrefix: keyPrefix,
                  createdBefore: olderThan.flatMap(PlanDuration.init).map { now.before($0.duration) })
    }
}
