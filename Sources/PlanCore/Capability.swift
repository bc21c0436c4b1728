/// What a capability knows about the call it serves.
public struct StepContext: Sendable {
    public let jobID: Int64
    /// The step key: the step id, or `STEP[i]` for an element of an `each` step.
    public let stepKey: String
    /// The execution of this step key being made, from 1, counted across worker restarts.
    public let attempt: Int
    /// `<job idempotency key>/<step key>`: the same on every attempt, for deduplicating side effects.
    public let idempotencyKey: String
    /// The time this call may take before it is cancelled.
    public let timeout: Duration
    /// Where a capability reports what it does: `(message, metadata)`.
    public let log: @Sendable (String, [String: String]) -> Void
    /// The W3C `traceparent` this execution sends (the job's trace, the execution's span), when
    /// the job carries one.
    public let traceparent: String?

    public init(jobID: Int64, stepKey: String, attempt: Int, idempotencyKey: String, timeout: Duration,
                traceparent: String? = nil, log: @escaping @Sendable (String, [String: String]) -> Void = { _, _ in }) {
        self.traceparent = traceparent
        self.jobID = jobID
        self.stepKey = stepKey
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.timeout = timeout
        self.log = log
    }
}

/// A named async function that steps call. It must honour task cancellation, and report
/// failures as `ErrInfo` with `retryable` saying whether a later attempt may succeed.
public struct Capability: Sendable {
    public let name: String
    public let call: @Sendable (JSONValue, StepContext) async -> Result<JSONValue, ErrInfo>

    public init(_ name: String, call: @escaping @Sendable (JSONValue, StepContext) async -> Result<JSONValue, ErrInfo>) {
        self.name = name
        self.call = call
    }
}

/// The capabilities a worker offers, by name.
public struct CapabilityRegistry: Sendable {
    private var capabilities: [String: Capability] = [:]

    public init(_ capabilities: [Capability] = []) {
        for capability in capabilities { register(capability) }
    }

    /// Adds `capability`, replacing one registered under the same name.
    public mutating func register(_ capability: Capability) {
        capabilities[capability.name] = capability
    }

    public subscript(name: String) -> Capability? { capabilities[name] }

    /// The registered names, sorted.
    public var names: [String] { capabilities.keys.sorted() }
}
