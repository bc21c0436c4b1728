import PlanCore

/// What to claim, for whom, for how long.
public struct ClaimRequest: Sendable {
    public var owner: LeaseOwner
    /// How long the lease lasts unrenewed.
    public var duration: Duration
    /// Only these queues, when given.
    public var queues: [String]?
    /// A job claimed for the first time whose first step is a single call (no `each`) also has
    /// that step's first execution begun in the claim's transaction: the run saves a transaction,
    /// and must record that execution's end even if the call never happens (`Lease.begunStep`).
    public var beginFirstSteps: Bool
    /// Handed the unpaused queues with due jobs, says how many to take from each.
    public var grants: @Sendable (_ due: [String]) -> [(queue: String, limit: Int)]

    public init(owner: LeaseOwner, duration: Duration, queues: [String]? = nil, beginFirstSteps: Bool = false,
                grants: @escaping @Sendable (_ due: [String]) -> [(queue: String, limit: Int)]) {
        self.owner = owner
        self.duration = duration
        self.queues = queues
        self.beginFirstSteps = beginFirstSteps
        self.grants = grants
    }
}

/// What one claim found.
public struct ClaimBatch: Sendable {
    public let leases: [Lease]
    /// When nothing was claimed: the earliest `run_at` of a pending job not due yet, in the queues asked about.
    public let nextRunAt: Timestamp?

    public init(leases: [Lease], nextRunAt: Timestamp?) {
        self.leases = leases
        self.nextRunAt = nextRunAt
    }
}
