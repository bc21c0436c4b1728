import PlanCore
import PlanStore

/// How a worker runs.
public struct WorkerConfiguration: Sendable {
    /// The most jobs running at once, within `concurrencyRange` (clamped).
    public var concurrency: Int
    /// The most jobs running at once per queue; also the queues' weights when slots are shared out.
    public var queueLimits: [String: Int]
    /// Only these queues, when set; otherwise every queue.
    public var queues: [String]?
    /// How long a claim holds a job before another worker may take it; heartbeats extend it every third.
    public var lease: Duration
    /// On shutdown, how long running jobs may finish before they are cancelled and handed back.
    public var grace: Duration
    /// Exit once nothing is running, due, or waiting for a retry.
    public var drain: Bool
    /// The longest the claim loop sleeps when nothing wakes it (it also wakes on every commit).
    public var idleWake: Duration
    /// The most a step's resolved input, output or error details may hold, and an `each` step's elements.
    public var valueLimits: ValueLimits
    /// Fire due schedules, reading their time zones with this; `nil`: fire none (`planq worker
    /// --drain` fires none: it is meant to finish).
    public var zones: ZoneLookup?
    /// Where the worker's counters and timings go; `nil`: nowhere.
    public var metrics: WorkerMetrics?

    /// How often the claim loop asks whether `planq cancel` stopped one of its running jobs (and at
    /// once after a change notification while it had no free slot).
    public var cancelCheckInterval = Duration.milliseconds(200)
    /// The longest between two recoveries of other workers' lapsed leases (also at most half the lease).
    public var longestRecoveryInterval = Duration.seconds(5)
    /// After a change notification or a job's end, for this long the loop looks again every
    /// `changeRecheck` while a slot is free: a commit becomes visible a moment after its
    /// notification (the WAL index has no file events).
    public var changeVisibilityWindow = Duration.milliseconds(250)
    public var changeRecheck = Duration.milliseconds(3)
    /// After it looked for due schedules, the scheduler ignores store changes for this long: under
    /// load every commit is a change, and one read per quiet period serves them all.
    public var scheduleChangeQuiet = Duration.milliseconds(200)
    /// While shutting down, how often the loop checks on the jobs still running.
    public var shutdownPoll = Duration.milliseconds(250)

    /// The longest a call to a database server may go unanswered before it counts as a fault: a
    /// sixth of the lease (1 s to 10 s), so that a worker cut off from its server finds out, and
    /// stops its runs, before their leases run out.
    public var serverAnswerLimit: Duration { min(max(lease / 6, .seconds(1)), .seconds(10)) }

    /// How often lapsed leases are recovered.
    var recoveryInterval: Duration { min(lease / 2, longestRecoveryInterval) }

    /// The concurrencies a worker accepts.
    public static let concurrencyRange = 1...1024

    public init(concurrency: Int = 4, queueLimits: [String: Int] = [:], queues: [String]? = nil, lease: Duration = .seconds(30),
                grace: Duration = .seconds(10), drain: Bool = false, idleWake: Duration = .seconds(1),
                valueLimits: ValueLimits = .standard) {
        self.concurrency = min(max(concurrency, Self.concurrencyRange.lowerBound), Self.concurrencyRange.upperBound)
        self.queueLimits = queueLimits
        self.queues = queues
        self.lease = lease
        self.grace = grace
        self.drain = drain
        self.idleWake = idleWake
        self.valueLimits = valueLimits
    }

    func limit(of queue: String) -> Int { queueLimits[queue] ?? concurrency }
}
