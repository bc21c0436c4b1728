import PlanCore

/// Everything the worker and the command line ask of a database: enqueue, claim, the writes of a
/// run (through its `Lease`), recovery, administration, queries and change notification.
/// `SQLiteStore` is one implementation; a store proves itself by passing the contract test suite.
///
/// Every state change records its event in the job's history in the same transaction. Writes of a run carry
/// its lease (job id and fencing token) and are refused with `StoreError.leaseLost` once the job's
/// token moved on. Times are passed in (`now`), so that tests control them.
public protocol JobStore: Sendable {
    /// Where the store is, as logs show it: a file's path, or a server's URL without its password.
    var location: String { get }

    // MARK: Enqueue

    /// Stores `plans` in one transaction: all or none. A plan whose idempotency key is taken returns
    /// the existing job and writes nothing. Throws `queueFull` (nothing written) when a queue with a
    /// `max_pending` limit would go over it.
    func enqueue(_ plans: [PlanDescription], now: Timestamp) async throws(StoreError) -> [EnqueueResult]

    // MARK: Claim and the run's writes

    /// Claims due jobs in one transaction: `request.grants` is handed the unpaused queues with due
    /// jobs (of `request.queues`, when given) and says how many to take from each. Each job goes
    /// `running` with a lease for `request.owner` until `now + request.duration` and a fencing
    /// token one higher than before, and comes with what its journal holds. Within a queue:
    /// priority, run_at, id. A job whose stored plan cannot be read ends `failed` (`plan_unreadable`).
    func claim(_ request: ClaimRequest, now: Timestamp) async throws(StoreError) -> ClaimBatch

    /// Commits writes of one run, in order, in one transaction: all or none. Refused with
    /// `leaseLost` when the lease moved on.
    func commit(_ writes: [RunWrite], of lease: Lease.ID) async throws(StoreError)

    /// Extends a lease to `now + duration`, if its token still holds the job.
    func heartbeat(_ lease: Lease.ID, duration: Duration, now: Timestamp) async throws(StoreError) -> Heartbeat

    // MARK: Recovery and the worker's bookkeeping

    /// Makes running jobs whose lease expired claimable again (`lease_expired` events); their ids.
    func expireLeases(now: Timestamp) async throws(StoreError) -> [Int64]

    /// Makes running jobs whose owner on this host (`me.host`) is provably dead claimable again at
    /// once, without waiting for their lease (`lease_expired` events with the reason); their ids.
    func recoverDeadOwners(me: LeaseOwner, now: Timestamp) async throws(StoreError) -> [Int64]

    /// Of the running jobs `ids`, those that `planq cancel` asked to stop.
    func cancelRequested(among ids: [Int64]) async throws(StoreError) -> [Int64]

    /// Whether a drained worker must keep going: a job of `queues` (all when `nil`) is running,
    /// due, or waiting for a retry (pending after a run). Paused queues do not count.
    func hasOutstandingWork(queues: [String]?, now: Timestamp) async throws(StoreError) -> Bool

    /// Counts of running and pending jobs, for the service status line.
    func activityCounts() async throws(StoreError) -> ActivityCounts

    /// Records a worker that starts (its `workers` row, live) and the capabilities it registered; its id.
    func registerWorker(_ worker: WorkerRegistration, now: Timestamp) async throws(StoreError) -> Int64

    /// Renews worker `id`'s row (live again if it had been marked lost); marks lost the workers not
    /// seen for `WorkerStatus.lostAfter` and those whose process is gone from `me.host`; deletes
    /// workers that ended more than a day ago.
    func workerSeen(_ id: Int64, me: LeaseOwner, now: Timestamp) async throws(StoreError)

    /// Marks worker `id` stopped: it exited cleanly.
    func workerStopped(_ id: Int64, now: Timestamp) async throws(StoreError)

    /// Every recorded worker, live ones first, each with the jobs it runs; a worker on `me.host`
    /// whose process is gone reads as lost at once.
    func workers(me: LeaseOwner, now: Timestamp) async throws(StoreError) -> [WorkerStatus]

    /// Wakes a worker when the database may have changed (another process committed), or `nil`
    /// when this store cannot tell (the worker then polls).
    func changes() -> StoreChanges?

    // MARK: Administration

    /// Cancels a pending job at once, or asks the worker of a running one to stop. Throws
    /// `wrongState` for a succeeded or failed job (nothing changes).
    func cancel(_ job: JobReference, now: Timestamp) async throws(StoreError) -> CancelResult

    /// Puts a failed or cancelled job back to `pending`, due now. Unfinished and failed step
    /// executions are set aside (kept, `superseded`), so every step gets its full `max_attempts`
    /// again; recorded successes stay and are replayed, except those of `fromStep` and every later
    /// step. Returns the job's id.
    func retry(_ job: JobReference, fromStep: String?, now: Timestamp) async throws(StoreError) -> Int64

    /// Deletes finished jobs that finished before `cutoff`, with their step results and events, in
    /// short transactions that leave room for a worker writing beside it; how many jobs went.
    func prune(finishedBefore cutoff: Timestamp) async throws(StoreError) -> Int

    /// What `prune` would delete.
    func pruneCandidates(finishedBefore cutoff: Timestamp) async throws(StoreError) -> PruneCounts

    /// Pauses or resumes claiming from a queue.
    func setPaused(_ paused: Bool, queue: String) async throws(StoreError)

    /// Sets the most pending jobs a queue accepts (`nil`: no limit).
    func setMaxPending(_ limit: Int?, queue: String) async throws(StoreError)

    /// Sets how many jobs of a queue may start per period across all workers (`nil`: no limit).
    func setRate(_ rate: QueueRate?, queue: String) async throws(StoreError)

    /// The migrations this binary carries, and when each was applied.
    func migrationStatus() async throws(StoreError) -> [MigrationStatus]

    /// Applies pending migrations; returns the names applied.
    func migrate(now: Timestamp) async throws(StoreError) -> [String]

    // MARK: Schedules

    /// Stores a schedule; one of that name is refused (`scheduleExists`) unless `replace`.
    func saveSchedule(_ schedule: Schedule, replace: Bool, now: Timestamp) async throws(StoreError)

    /// Every schedule, by name.
    func schedules() async throws(StoreError) -> [Schedule]

    /// Pauses or resumes a schedule (`scheduleNotFound` when there is none).
    func setSchedulePaused(_ paused: Bool, name: String, now: Timestamp) async throws(StoreError)

    /// Deletes a schedule; the jobs it enqueued stay.
    func removeSchedule(_ name: String) async throws(StoreError)

    /// Enqueues a schedule's plan now, for the fire time `now`, outside its calendar.
    func fireSchedule(_ name: String, now: Timestamp) async throws(StoreError) -> EnqueueResult

    /// In one transaction: enqueues the jobs of every unpaused schedule whose next fire time has
    /// come (as its `catchUp` says, one job per fire time, with `schedule_fired` events) and
    /// advances it; how many jobs it enqueued, and the next fire time of any schedule.
    func fireDueSchedules(now: Timestamp, zones: @escaping ZoneLookup) async throws(StoreError) -> ScheduleFiring

    // MARK: Queries

    /// Jobs that match `filter`, newest first, at most `limit`.
    func list(_ filter: JobFilter, limit: Int) async throws(StoreError) -> [JobSummary]

    /// The history (`job_history`) that matches `filter`: with no cursor, the latest `limit` events;
    /// after a cursor, the events committed since, oldest first, at most `limit`. Always in
    /// event order, with the cursor to read on from.
    func events(_ filter: EventFilter, after cursor: EventCursor?, limit: Int) async throws(StoreError) -> (events: [HistoryEvent], cursor: EventCursor)

    /// The state of one job.
    func state(of job: JobReference) async throws(StoreError) -> JobState

    /// One job with its plan, steps and history.
    func detail(_ job: JobReference) async throws(StoreError) -> JobDetail

    /// Counts by queue and state, the age of the oldest due pending job, and last minute's throughput.
    func stats(now: Timestamp) async throws(StoreError) -> StoreStats

    /// The capabilities workers registered, by name.
    func capabilities() async throws(StoreError) -> [RegisteredCapability]
}

extension JobStore {
    public func enqueue(_ plans: [PlanDescription]) async throws(StoreError) -> [EnqueueResult] {
        try await enqueue(plans, now: .now())
    }

    public func claim(_ request: ClaimRequest) async throws(StoreError) -> ClaimBatch {
        try await claim(request, now: .now())
    }

    /// Claims up to `limit` due jobs of each queue named, in one transaction.
    public func claim(_ requests: [(queue: String, limit: Int)], owner: LeaseOwner, lease: Duration,
                      now: Timestamp = .now()) async throws(StoreError) -> [Lease] {
        try await claim(ClaimRequest(owner: owner, duration: lease) { _ in requests }, now: now).leases
    }

    public func expireLeases() async throws(StoreError) -> [Int64] { try await expireLeases(now: .now()) }

    public func recoverDeadOwners(me: LeaseOwner) async throws(StoreError) -> [Int64] {
        try await recoverDeadOwners(me: me, now: .now())
    }

    public func hasOutstandingWork(queues: [String]?) async throws(StoreError) -> Bool {
        try await hasOutstandingWork(queues: queues, now: .now())
    }

    /// Jobs, newest first, optionally of one state and queue.
    public func list(state: JobState?, queue: String?, limit: Int) async throws(StoreError) -> [JobSummary] {
        try await list(JobFilter(states: state.map { [$0] }, queue: queue), limit: limit)
    }

    public func cancel(_ job: JobReference) async throws(StoreError) -> CancelResult { try await cancel(job, now: .now()) }

    public func retry(_ job: JobReference, fromStep: String? = nil) async throws(StoreError) -> Int64 {
        try await retry(job, fromStep: fromStep, now: .now())
    }

    public func migrate() async throws(StoreError) -> [String] { try await migrate(now: .now()) }

    public func stats() async throws(StoreError) -> StoreStats { try await stats(now: .now()) }
}
