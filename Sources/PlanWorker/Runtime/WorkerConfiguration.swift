import PlanCore

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
