import PlanCore

/// One write of a run, as data: made ready ahead and committed by `Lease.commit` (or passed as a
/// lease method's `after:`), fenced by the run's token like every other.
public enum RunWrite: Sendable {
    /// Execution `attempt` of a step starts (committed before its capability is called).
    case stepStarted(String, attempt: Int, at: Timestamp)
    /// Execution `attempt` of a step ended.
    case stepFinished(String, attempt: Int, outcome: Result<JSONValue, ErrInfo>, at: Timestamp)
    /// The run ends the job.
    case finished(RunOutcome, at: Timestamp)
    /// The run failed with a retryable error: the job waits until `runAt`.
    case rescheduled(runAt: Timestamp, error: ErrInfo, at: Timestamp)
    /// The run is handed back uncounted.
    case released(at: Timestamp)
}

/// How a run ended the job.
public enum RunOutcome: Sendable {
    case succeeded(JSONValue)
    case failed(ErrInfo)
    case cancelled(ErrInfo?)
}
