import Glibc
import PlanCore

/// What `cancel` did.
public enum CancelResult: String, Sendable {
    /// A pending job is now cancelled.
    case cancelled
    /// A running job was asked to stop; its worker ends it `cancelled`.
    case requested
    /// It was cancelled already; nothing changed.
    case alreadyCancelled
}

/// A job by id or by idempotency key.
public enum JobReference: Sendable, Hashable, CustomStringConvertible {
    case id(Int64)
    case key(String)

    public var description: String {
        switch self {
        case .id(let id): "\(id)"
        case .key(let key): "with key \"\(key)\""
        }
    }
}

extension JobStore {
    func resolve(_ reference: JobReference, _ connection: Connection) throws -> (id: Int64, state: JobState) {
        let rows = switch reference {
        case .id(let id): try connection.query("SELECT id, state FROM jobs WHERE id = ?", [.integer(id)])
        case .key(let key): try connection.query("SELECT id, state FROM jobs WHERE idempotency_key = ?", [.text(key)])
        }
        guard let row = rows.first else { throw StoreError.jobNotFound(reference.description) }
        return (row.int(0)!, JobState(rawValue: row.text(1)!)!)
    }

    /// Cancels a pending job at once, or asks the worker of a running one to stop.
    /// Throws `wrongState` for a succeeded or failed job (nothing changes).
    public func cancel(_ reference: JobReference, now: Timestamp = .now()) throws(StoreError) -> CancelResult {
        try write { connection in
            let (id, state) = try resolve(reference, connection)
            switch state {
            case .cancelled:
                return .alreadyCancelled
            case .succeeded, .failed:
                throw StoreError.wrongState(jobID: id, state: state, operation: "cancelled")
            case .pending:
                try connection.query(
                    "UPDATE jobs SET state = 'cancelled', finished_at = ?1, updated_at = ?1 WHERE id = ?2", [.time(now), .integer(id)])
                try connection.event(id, "cancelled", at: now, ["by": "planq cancel"])
                return .cancelled
            case .running:
                try connection.query("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", [.time(now), .integer(id)])
                return .requested
            }
        }
    }

    /// Puts a failed or cancelled job back to `pending`, due now. Unfinished and failed step
    /// executions are set aside (kept, `superseded`), so every step gets its full `max_attempts`
    /// again; recorded successes stay and are replayed, except those of `fromStep` and every later
    /// step, which are set aside too so that they run again.
    public func retry(_ reference: JobReference, fromStep: String? = nil, now: Timestamp = .now()) throws(StoreError) -> Int64 {
        try write { connection in
            let (id, state) = try resolve(reference, connection)
            guard state == .failed || state == .cancelled else {
                throw StoreError.wrongState(jobID: id, state: state, operation: "retried (only failed and cancelled jobs can)")
            }
            try connection.query(
                "UPDATE step_results SET superseded = 1 WHERE job_id = ? AND superseded = 0 AND (outcome IS NULL OR outcome != 'ok')",
                [.integer(id)])
            if let fromStep {
                let plan = try connection.query("SELECT plan FROM jobs WHERE id = ?", [.integer(id)])[0].text(0)!
                let steps = (try JSONValue(stored: plan).objectValue?["steps"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.stringValue }
                guard let start = steps.firstIndex(of: fromStep) else { throw StoreError.unknownStep(fromStep) }
                for step in steps[start...] {
                    try connection.query(
                        "UPDATE step_results SET superseded = 1 WHERE job_id = ? AND superseded = 0 AND (step_id = ? OR step_id LIKE ? ESCAPE '\\')",
                        [.integer(id), .text(step), .text(Self.likeEscaped(step) + "[%")])
                }
            }
            try connection.query(
                """
                UPDATE jobs SET state = 'pending', run_at = ?1, updated_at = ?1, finished_at = NULL, result = NULL,
                    last_error = NULL, cancel_requested = 0
                WHERE id = ?2
                """, [.time(now), .integer(id)])
            try connection.event(id, "retried", at: now, fromStep.map { ["from": .string($0)] } ?? ["from": nil])
            return id
        }
    }

    static func likeEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// Deletes finished jobs (succeeded, failed, cancelled) that finished before `cutoff`, with
    /// their step results and events; returns how many jobs went. It works in short transactions of
    /// `batch` jobs and rests between them as long as each took (at least 10 ms), so that a worker
    /// writing beside it waits moments, never its busy timeout.
    public func prune(finishedBefore cutoff: Timestamp, batch: Int = 200) throws(StoreError) -> Int {
        let clock = ContinuousClock()
        var total = 0
        while true {
            let started = clock.now
            let deleted = try write { connection in
                try connection.query(
                    """
                    DELETE FROM jobs WHERE id IN (
                        SELECT id FROM jobs WHERE finished_at < ? AND state IN ('succeeded', 'failed', 'cancelled') LIMIT ?)
                    """, [.time(cutoff), .integer(Int64(batch))])
                return connection.changes
            }
            total += deleted
            if deleted < batch { return total }
            let took = clock.now - started
            usleep(UInt32(clamping: PlanDuration(max(took, .milliseconds(10))).milliseconds * 1000))
        }
    }

    /// What `prune` would delete: the finished jobs before `cutoff`, their step results and events.
    public func pruneCandidates(finishedBefore cutoff: Timestamp) throws(StoreError) -> (jobs: Int, stepResults: Int, events: Int) {
        try read { connection in
            let row = try connection.query(
                """
                WITH doomed AS (SELECT id FROM jobs WHERE finished_at < ? AND state IN ('succeeded', 'failed', 'cancelled'))
                SELECT (SELECT count(*) FROM doomed),
                    (SELECT count(*) FROM step_results WHERE job_id IN doomed),
                    (SELECT count(*) FROM job_events WHERE job_id IN doomed)
                """, [.time(cutoff)])[0]
            return (Int(row.int(0)!), Int(row.int(1)!), Int(row.int(2)!))
        }
    }

    /// Pauses or resumes claiming from a queue.
    public func setPaused(_ paused: Bool, queue: String) throws(StoreError) {
        try write { connection in
            try connection.query(
                "INSERT INTO queues (name, paused) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET paused = ?2",
                [.text(queue), .integer(paused ? 1 : 0)])
        }
    }

    /// Sets the most pending jobs a queue accepts (`nil`: no limit).
    public func setMaxPending(_ limit: Int?, queue: String) throws(StoreError) {
        try write { connection in
            try connection.query(
                "INSERT INTO queues (name, max_pending) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET max_pending = ?2",
                [.text(queue), limit.map { .integer(Int64($0)) } ?? .null])
        }
    }

    /// Records the capabilities a worker registered, replacing what that worker recorded before.
    public func registerCapabilities(_ names: [String], worker: String, now: Timestamp = .now()) throws(StoreError) {
        try write { connection in
            for name in names {
                try connection.query(
                    "INSERT INTO capabilities (name, worker, registered_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET worker = ?2, registered_at = ?3",
                    [.text(name), .text(worker), .time(now)])
            }
        }
    }
}
