import PlanCore

/// What a worker records of itself when it starts.
public struct WorkerRegistration: Sendable, Hashable {
    public let owner: LeaseOwner
    public let version: String
    /// The queues it serves; `nil`: every queue.
    public let queues: [String]?
    public let concurrency: Int
    public let capabilities: [String]

    public init(owner: LeaseOwner, version: String = Versions.planq, queues: [String]?, concurrency: Int, capabilities: [String]) {
        self.owner = owner
        self.version = version
        self.queues = queues
        self.concurrency = concurrency
        self.capabilities = capabilities
    }
}

/// A worker as `planq workers` shows it.
public struct WorkerStatus: Sendable, Hashable {
    /// How a worker's row reads now.
    public enum State: String, Sendable {
        /// Seen within `WorkerStatus.lostAfter`, and its process is not gone from this host.
        case live
        /// It exited cleanly.
        case stopped
        /// Not seen for `lostAfter`, or its process is gone from this host.
        case lost
    }

    /// A worker renews its row every few seconds; one not seen for this long is lost.
    public static let lostAfter = Duration.seconds(30)

    /// How a row reads at `now`, as every store derives it: `ended` as recorded (`stopped`,
    /// `lost` or NULL), lost too when unseen for `lostAfter` or gone from the host that asks (`me`).
    package static func state(ended: String?, lastSeen: Timestamp, owner: LeaseOwner, me: LeaseOwner, now: Timestamp) -> State {
        if let ended { return ended == "stopped" ? .stopped : .lost }
        let gone = owner.host == me.host && me.deathReason(ofBootID: owner.bootID, pid: owner.pid, pidStart: owner.pidStart) != nil
        return lastSeen < now.before(lostAfter) || gone ? .lost : .live
    }

    /// Live workers first, newest first.
    package static func ordered(_ workers: [WorkerStatus]) -> [WorkerStatus] {
        workers.sorted { ($0.state == .live ? 0 : 1, -$0.id) < ($1.state == .live ? 0 : 1, -$1.id) }
    }

    public let id: Int64
    public let registration: WorkerRegistration
    public let state: State
    public let startedAt: Timestamp
    public let lastSeenAt: Timestamp
    /// The jobs it runs now.
    public let runningJobs: [Int64]

    public init(id: Int64, registration: WorkerRegistration, state: State, startedAt: Timestamp, lastSeenAt: Timestamp, runningJobs: [Int64]) {
        self.id = id
        self.registration = registration
        self.state = state
        self.startedAt = startedAt
        self.lastSeenAt = lastSeenAt
        self.runningJobs = runningJobs
    }

    /// Whether it serves `queue`.
    public func serves(_ queue: String) -> Bool { registration.queues.map { $0.contains(queue) } ?? true }

    public var json: JSONValue {
        let owner = registration.owner
        return [
            "id": .integer(id), "owner": .string(owner.label), "host": .string(owner.host), "pid": .integer(Int64(owner.pid)),
            "version": .string(registration.version), "state": .string(state.rawValue),
            "queues": registration.queues.map { .array($0.map(JSONValue.string)) } ?? .null,
            "concurrency": .integer(Int64(registration.concurrency)),
            "capabilities": .array(registration.capabilities.map(JSONValue.string)),
            "started_at": .string(startedAt.iso8601), "last_seen_at": .string(lastSeenAt.iso8601),
            "running_jobs": .array(runningJobs.map(JSONValue.integer)),
        ]
    }
}
