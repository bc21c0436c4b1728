/// A validated plan description, version 1: what a job runs.
public struct PlanDescription: Sendable, Hashable {
    /// The only version this planq reads.
    public static let supportedVersion = 1
    /// The most steps a plan may have.
    public static let maxSteps = 1000
    /// The largest plan document accepted, in bytes.
    public static let maxDocumentBytes = 1 << 20
    /// The priorities a plan may have: 0 runs first, 9 last.
    public static let priorities = 0...9

    public var idempotencyKey: String
    public var queue: String
    /// 0 runs first, 9 last.
    public var priority: Int
    /// When the first run is due, if not at once.
    public var start: PlanStart?
    public var input: JSONValue
    public var steps: [PlanStep]
    public var retry: RetryPolicy
    public var timeout: PlanTimeouts
    /// The W3C `traceparent` of the request that enqueued the job, if it gave one.
    public var traceparent: String? = nil

    /// The retry policy in force for `step`: its own, or the job's.
    public func retryPolicy(for step: PlanStep) -> RetryPolicy { step.retry ?? retry }

    /// The time limit in force for `step`: its own, or the job's step limit.
    public func timeout(for step: PlanStep) -> PlanDuration { step.timeout ?? timeout.step }

    /// The step with this id, or with the id of an `each` element key (`fanout[3]`).
    public func step(forKey key: String) -> PlanStep? {
        let id = key.split(separator: "[", maxSplits: 1).first.map(String.init) ?? key
        return steps.first { $0.id == id }
    }

    /// What to do after `error` ended a run: the failing step's policy and attempt decide when the
    /// error names one, otherwise the job's policy with `jobAttempt`.
    public func decision(after error: ErrInfo, jobAttempt: Int, random unit: Double) -> RetryDecision {
        if let key = error.step, let step = step(forKey: key), let attempt = error.attempt {
            return retryPolicy(for: step).decision(after: error, attempt: attempt, random: unit)
        }
        return retry.decision(after: error, attempt: jobAttempt, random: unit)
    }
}

/// When a job's first run is due.
public enum PlanStart: Sendable, Hashable {
    /// This long after it was enqueued.
    case delay(PlanDuration)
    /// At this time.
    case runAt(Timestamp)
}

/// A job's time limits.
public struct PlanTimeouts: Sendable, Hashable {
    /// The limit of each step that sets none of its own.
    public var step: PlanDuration
    /// The limit of one run of the whole job, if any.
    public var job: PlanDuration?

    /// Steps get 5 minutes each; no job limit.
    public static let standard = PlanTimeouts(step: PlanDuration(milliseconds: 300_000), job: nil)

    public init(step: PlanDuration, job: PlanDuration?) {
        self.step = step
        self.job = job
    }
}

/// One step: a call of a capability with an input template, maybe fanned out over an array.
public struct PlanStep: Sendable, Hashable {
    public var id: String
    /// The capability's name.
    public var call: String
    public var input: Template
    /// The array to fan out over; the step then calls its capability once per element.
    public var each: Template?
    /// The most elements of `each` in flight at once.
    public var concurrency: Int
    public var retry: RetryPolicy?
    public var timeout: PlanDuration?

    public init(id: String, call: String, input: Template, each: Template? = nil, concurrency: Int = 1,
                retry: RetryPolicy? = nil, timeout: PlanDuration? = nil) {
        self.id = id
        self.call = call
        self.input = input
        self.each = each
        self.concurrency = concurrency
        self.retry = retry
        self.timeout = timeout
    }
}
