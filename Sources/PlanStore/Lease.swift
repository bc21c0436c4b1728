import PlanCore

/// A job claimed for one run: what the run needs, and the run's writes. Every write carries the
/// lease's `id` (the job and its fencing token); once another claim took the job, the store
/// refuses them with `StoreError.leaseLost`.
///
/// A write may be prepared ahead (a `RunWrite`) and passed as `after:` to the run's next write,
/// to commit in the same transaction.
public struct Lease: Sendable, Identifiable {
    /// A run of a job: the job and the fencing token this claim raised it to.
    public struct ID: Sendable, Hashable, CustomStringConvertible {
        public let jobID: Int64
        public let token: Int64

        public init(jobID: Int64, token: Int64) {
            self.jobID = jobID
            self.token = token
        }

        public var description: String { "job \(jobID) (token \(token))" }
    }

    public let id: ID
    public let queue: String
    public let priority: Int
    public let runAt: String
    /// How many times the job has been claimed, this time included.
    public let runs: Int
    public let plan: PlanDescription
    /// What the journal held at the claim, by step key: the run keeps it up to date itself.
    public let records: [String: StepRecord]
    /// The step whose first execution the claim began (`ClaimRequest.beginFirstSteps`), not in `records`.
    public let begunStep: String?
    let store: any JobStore

    public init(id: ID, queue: String, priority: Int, runAt: String, runs: Int, plan: PlanDescription,
                records: [String: StepRecord], begunStep: String?, store: any JobStore) {
        self.id = id
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.runs = runs
        self.plan = plan
        self.records = records
        self.begunStep = begunStep
        self.store = store
    }

    public var jobID: Int64 { id.jobID }

    /// Commits `writes`, in order, in one transaction: all or none.
    public func commit(_ writes: [RunWrite]) async throws(StoreError) {
        try await store.commit(writes, of: id)
    }

    /// Commits the start of execution `attempt` of a step, before its capability is called.
    public func beginStep(_ stepKey: String, attempt: Int, now: Timestamp = .now(), after earlier: [RunWrite] = []) async throws(StoreError) {
        try await commit(earlier + [.stepStarted(stepKey, attempt: attempt, at: now)])
    }

    /// Records the outcome of execution `attempt` of a step. A failure with code `cancelled` is
    /// recorded as `cancelled`; a second success of a step is refused.
    public func recordStep(_ stepKey: String, attempt: Int, outcome: Result<JSONValue, ErrInfo>, now: Timestamp = .now(),
                           after earlier: [RunWrite] = []) async throws(StoreError) {
        try await commit(earlier + [.stepFinished(stepKey, attempt: attempt, outcome: outcome, at: now)])
    }

    /// Ends the run: `succeeded` with its result, `failed` with its error (the dead letter), or `cancelled`.
    public func finish(_ outcome: RunOutcome, now: Timestamp = .now(), after earlier: [RunWrite] = []) async throws(StoreError) {
        try await commit(earlier + [.finished(outcome, at: now)])
    }

    /// Puts a run that failed with a retryable error back to `pending` until `runAt`.
    public func reschedule(runAt: Timestamp, error: ErrInfo, now: Timestamp = .now(), after earlier: [RunWrite] = []) async throws(StoreError) {
        try await commit(earlier + [.rescheduled(runAt: runAt, error: error, at: now)])
    }

    /// Hands the run back (shutdown, a store fault): the job is `pending` and due at once, and
    /// neither the run nor the step executions it left unfinished or cancelled count against its attempts.
    public func release(now: Timestamp = .now(), after earlier: [RunWrite] = []) async throws(StoreError) {
        try await commit(earlier + [.released(at: now)])
    }

    /// Extends the lease to `now + duration`, if it still holds.
    public func heartbeat(duration: Duration, now: Timestamp = .now()) async throws(StoreError) -> Heartbeat {
        try await store.heartbeat(id, duration: duration, now: now)
    }
}

/// What a heartbeat found.
public struct Heartbeat: Sendable, Hashable {
    /// `false` when the lease moved on: the worker must stop this run.
    public let leaseHeld: Bool
    /// `planq cancel` asked for this job to stop.
    public let cancelRequested: Bool

    public init(leaseHeld: Bool, cancelRequested: Bool) {
        self.leaseHeld = leaseHeld
        self.cancelRequested = cancelRequested
    }
}
