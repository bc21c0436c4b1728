import PlanCore

/// One line of `planq list`.
public struct JobSummary: Sendable, Hashable {
    public let id: Int64
    public let idempotencyKey: String
    public let queue: String
    public let priority: Int
    public let state: JobState
    public let runs: Int
    public let runAt: String
    public let createdAt: String
    public let finishedAt: String?
    public let errorCode: ErrorCode?

    public init(id: Int64, idempotencyKey: String, queue: String, priority: Int, state: JobState, runs: Int, runAt: String,
                createdAt: String, finishedAt: String?, errorCode: ErrorCode?) {
        self.id = id
        self.idempotencyKey = idempotencyKey
        self.queue = queue
        self.priority = priority
        self.state = state
        self.runs = runs
        self.runAt = runAt
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.errorCode = errorCode
    }

    public var json: JSONValue {
        ["id": .integer(id), "idempotency_key": .string(idempotencyKey), "queue": .string(queue), "priority": .integer(Int64(priority)),
         "state": .string(state.rawValue), "runs": .integer(Int64(runs)), "run_at": .string(runAt), "created_at": .string(createdAt),
         "finished_at": finishedAt.map(JSONValue.string) ?? .null, "error_code": errorCode.map { .string($0.rawValue) } ?? .null]
    }
}

/// A step key's executions, as `planq show` reports them.
public struct StepSummary: Sendable, Hashable {
    /// Where a step of the plan stands.
    public enum State: String, Sendable {
        case notStarted = "not_started", running, ok, failed, cancelled
        /// Its executions were set aside (`planq retry`, or handed back) and it has not run since.
        case setAside = "set_aside"
    }

    public let id: String
    public let state: State
    /// The outcome of the latest execution: `ok`, `error`, `cancelled`, or `nil` while in flight or never run.
    public let outcome: StepOutcome?
    /// Its current executions (those set aside not counted).
    public let attempts: Int
    public let output: JSONValue?
    public let error: JSONValue?
    /// When its latest execution started and finished.
    public let startedAt: String?
    public let finishedAt: String?

    public init(id: String, state: State, outcome: StepOutcome?, attempts: Int, output: JSONValue?, error: JSONValue?,
                startedAt: String? = nil, finishedAt: String? = nil) {
        self.id = id
        self.state = state
        self.outcome = outcome
        self.attempts = attempts
        self.output = output
        self.error = error
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// One event of a job's history.
public struct JobEvent: Sendable, Hashable {
    public let at: String
    public let kind: EventKind
    public let detail: JSONValue?

    public init(at: String, kind: EventKind, detail: JSONValue?) {
        self.at = at
        self.kind = kind
        self.detail = detail
    }
}

/// Everything about one job.
public struct JobDetail: Sendable, Hashable {
    public let summary: JobSummary
    public let plan: JSONValue
    public let result: JSONValue?
    public let error: JSONValue?
    public let steps: [StepSummary]
    public let events: [JobEvent]

    public init(summary: JobSummary, plan: JSONValue, result: JSONValue?, error: JSONValue?, steps: [StepSummary], events: [JobEvent]) {
        self.summary = summary
        self.plan = plan
        self.result = result
        self.error = error
        self.steps = steps
        self.events = events
    }

    /// The `show --json` document.
    public var json: JSONValue {
        [
            "id": .integer(summary.id), "idempotency_key": .string(summary.idempotencyKey), "queue": .string(summary.queue),
            "priority": .integer(Int64(summary.priority)), "state": .string(summary.state.rawValue), "run_at": .string(summary.runAt),
            "created_at": .string(summary.createdAt), "finished_at": summary.finishedAt.map(JSONValue.string) ?? .null,
            "result": result ?? .null, "error": error ?? .null, "runs": .integer(Int64(summary.runs)), "plan": plan,
            "steps": .array(steps.map {
                ["id": .string($0.id), "state": .string($0.state.rawValue), "outcome": $0.outcome.map { .string($0.rawValue) } ?? .null,
                 "attempts": .integer(Int64($0.attempts)), "output": $0.output ?? .null, "error": $0.error ?? .null,
                 "started_at": $0.startedAt.map(JSONValue.string) ?? .null, "finished_at": $0.finishedAt.map(JSONValue.string) ?? .null]
            }),
            "events": .array(events.map { ["at": .string($0.at), "kind": .string($0.kind.rawValue), "detail": $0.detail ?? .null] }),
        ]
    }
}

/// Counts for `planq stats`.
public struct QueueStats: Sendable, Hashable {
    public let queue: String
    public let paused: Bool
    public let maxPending: Int?
    public let counts: [JobState: Int]
    /// Its rate limit, if it has one.
    public let rate: QueueRate?
    /// While its rate holds it (as many started in the last period as it allows): when the next may start.
    public let heldUntil: Timestamp?
    /// How long its oldest due pending job has waited, in seconds.
    public let oldestDueSeconds: Double?

    public init(queue: String, paused: Bool, maxPending: Int?, counts: [JobState: Int], rate: QueueRate? = nil, heldUntil: Timestamp? = nil,
                oldestDueSeconds: Double? = nil) {
        self.queue = queue
        self.oldestDueSeconds = oldestDueSeconds
        self.paused = paused
        self.maxPending = maxPending
        self.counts = counts
        self.rate = rate
        self.heldUntil = heldUntil
    }
}

public struct StoreStats: Sendable, Hashable {
    public let queues: [QueueStats]

    public init(queues: [QueueStats], finishedLastMinute: Int) {
        self.queues = queues
        self.finishedLastMinute = finishedLastMinute
    }
    /// How long the oldest due pending job of any queue has waited, in seconds.
    public var oldestPendingSeconds: Double? { queues.compactMap(\.oldestDueSeconds).max() }
    /// Jobs that finished in the last minute.
    public let finishedLastMinute: Int
}

/// A capability a worker registered.
public struct RegisteredCapability: Sendable, Hashable {
    public let name: String
    public let worker: String
    public let registeredAt: String

    public init(name: String, worker: String, registeredAt: String) {
        self.name = name
        self.worker = worker
        self.registeredAt = registeredAt
    }
}

/// What `prune` would delete.
public struct PruneCounts: Sendable, Hashable {
    public let jobs: Int
    public let stepResults: Int
    public let events: Int

    public init(jobs: Int, stepResults: Int, events: Int) {
        self.jobs = jobs
        self.stepResults = stepResults
        self.events = events
    }
}

/// Running and pending jobs, for a worker's status line.
public struct ActivityCounts: Sendable, Hashable {
    public let running: Int
    public let pending: Int

    public init(running: Int, pending: Int) {
        self.running = running
        self.pending = pending
    }
}
