import PlanCore

/// Which jobs `list`, and the bulk `cancel` and `retry`, act on: every condition given must hold.
public struct JobFilter: Sendable, Hashable {
    public var states: [JobState]?
    public var queue: String?
    /// Jobs whose idempotency key starts with this.
    public var keyPrefix: String?
    /// Jobs created before this time.
    public var createdBefore: Timestamp?

    public init(states: [JobState]? = nil, queue: String? = nil, keyPrefix: String? = nil, createdBefore: Timestamp? = nil) {
        self.states = states
        self.queue = queue
        self.keyPrefix = keyPrefix
        self.createdBefore = createdBefore
    }
}

/// Which history `events` reads: every condition given must hold.
public struct EventFilter: Sendable, Hashable {
    public var job: JobReference?
    public var queue: String?
    /// Events at or after this time.
    public var since: Timestamp?

    public init(job: JobReference? = nil, queue: String? = nil, since: Timestamp? = nil) {
        self.job = job
        self.queue = queue
        self.since = since
    }
}

/// One event of the history, as `planq events` shows it.
public struct HistoryEvent: Sendable, Hashable {
    /// Its place in the history: later events have higher ids.
    public let eventID: Int64
    public let jobID: Int64
    public let idempotencyKey: String
    public let queue: String
    public let at: String
    public let kind: EventKind
    public let detail: JSONValue?

    public init(eventID: Int64, jobID: Int64, idempotencyKey: String, queue: String, at: String, kind: EventKind, detail: JSONValue?) {
        self.eventID = eventID
        self.jobID = jobID
        self.idempotencyKey = idempotencyKey
        self.queue = queue
        self.at = at
        self.kind = kind
        self.detail = detail
    }

    public var json: JSONValue {
        ["event_id": .integer(eventID), "job_id": .integer(jobID), "idempotency_key": .string(idempotencyKey), "queue": .string(queue),
         "at": .string(at), "kind": .string(kind.rawValue), "detail": detail ?? .null]
    }
}

/// Where a reader of the history stands: the next read returns only events committed after it.
public struct EventCursor: Sendable, Hashable {
    /// The highest event id read.
    public var lastEventID: Int64
    /// No step execution below this row can still gain an event (all were finished when read).
    public var stepRowFloor: Int64
    /// PostgreSQL, whose history places may commit out of order: the snapshot of the last read
    /// (`pg_snapshot` text); the next read takes the events of transactions it did not see.
    public var seenSnapshot: String
    /// PostgreSQL: the snapshot of a read cut short by its limit, whose events the next read goes
    /// on with (after `lastEventID`); empty otherwise.
    public var readingSnapshot: String

    public init(lastEventID: Int64 = 0, stepRowFloor: Int64 = 0, seenSnapshot: String = "", readingSnapshot: String = "") {
        self.lastEventID = lastEventID
        self.stepRowFloor = stepRowFloor
        self.seenSnapshot = seenSnapshot
        self.readingSnapshot = readingSnapshot
    }
}
