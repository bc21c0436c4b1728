/// The kinds of events in a job's history (`job_history.kind`; the schema's CHECK on `job_events` lists the same).
public enum EventKind: String, Sendable, CaseIterable {
    case enqueued, claimed
    case stepStarted = "step_started"
    case stepSucceeded = "step_succeeded"
    case stepFailed = "step_failed"
    case succeeded, failed, cancelled
    case retryScheduled = "retry_scheduled"
    case released
    case leaseExpired = "lease_expired"
    case retried
    case scheduleFired = "schedule_fired"
}
