import ArgumentParser
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
