import CoreMetrics
import PlanStore

/// What a worker counts and times, through swift-metrics: the factory decides where the figures
/// go (`planq worker --metrics` hands it a Prometheus registry). Names follow Prometheus's
/// conventions: `_total` counters, `_seconds` histograms.
public struct WorkerMetrics: Sendable {
    /// How a run of a job ended, as the `outcome` label of `planq_job_runs_total` says it.
    enum RunOutcome: String {
        case succeeded, failed, retried, cancelled, released
        case leaseLost = "lease_lost"
    }

    /// How a step execution ended, as the `outcome` label of `planq_step_executions_total` says it:
    /// as `step_results.outcome` does, but `released` for an execution handed back on shutdown.
    enum StepOutcome: String {
        case ok, error, released
    }

    /// Names of the metrics whose histogram buckets suit them better than the default's.
    public static let commitDuration = "planq_store_commit_duration_seconds"
    public static let commitBatchSize = "planq_store_commit_operations"

    private let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    func claimed(queue: String) {
        Counter(label: "planq_jobs_claimed_total", dimensions: [("queue", queue)], factory: factory).increment()
    }

    func runEnded(queue: String, outcome: RunOutcome, after duration: Duration) {
        Counter(label: "planq_job_runs_total", dimensions: [("queue", queue), ("outcome", outcome.rawValue)], factory: factory).increment()
        Timer(label: "planq_job_run_duration_seconds", dimensions: [("queue", queue)], factory: factory).recordNanoseconds(duration.nanoseconds)
    }

    func stepEnded(capability: String, outcome: StepOutcome, after duration: Duration) {
        Counter(label: "planq_step_executions_total", dimensions: [("capability", capability), ("outcome", outcome.rawValue)], factory: factory)
            .increment()
        Timer(label: "planq_step_duration_seconds", dimensions: [("capability", capability)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// This worker's running jobs.
    func running(_ count: Int) {
        Gauge(label: "planq_running_jobs", factory: factory).record(count)
    }

    /// Leases of other workers taken back: `expired`, or of a `dead_owner` seen gone from its host.
    func leasesRecovered(_ count: Int, kind: String) {
        guard count > 0 else { return }
        Counter(label: "planq_lease_recoveries_total", dimensions: [("kind", kind)], factory: factory).increment(by: count)
    }

    func schedulesFired(jobs: Int) {
        Counter(label: "planq_schedule_jobs_enqueued_total", factory: factory).increment(by: jobs)
    }

    func storeFailed(_ error: StoreError) {
        Counter(label: "planq_store_errors_total", dimensions: [("kind", error.kind)], factory: factory).increment()
    }

    /// A group transaction committed (the store's `commitObserver`).
    public func committed(operations: Int, after duration: Duration) {
        Timer(label: Self.commitDuration, factory: factory).recordNanoseconds(duration.nanoseconds)
        Recorder(label: Self.commitBatchSize, factory: factory).record(operations)
    }
}

extension Duration {
    /// The whole duration in nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
