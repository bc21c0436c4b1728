/// The kinds of `job_events` rows, as stored (the schema's CHECK lists the same).
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
}
