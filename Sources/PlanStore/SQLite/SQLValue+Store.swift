import PlanCore

/// A `job_events` row, its text made before the write transaction that inserts it.
struct EventRow: Sendable {
    let values: [SQLValue]

    init(_ jobID: Int64, _ kind: EventKind, at now: Timestamp, _ detail: JSONValue? = nil) {
        values = [.integer(jobID), .time(now), .text(kind.rawValue), .json(detail)]
    }
}

extension Connection {
    /// Appends an event to a job's history.
    func insert(_ event: EventRow) throws {
        let id = try historyPositions(1, forSteps: false)
        try query("INSERT INTO job_events (id, job_id, at, kind, detail) VALUES (?, ?, ?, ?, ?)", [.integer(id)] + event.values)
    }

    /// Appends an event to a job's history.
    func event(_ jobID: Int64, _ kind: EventKind, at now: Timestamp, _ detail: JSONValue? = nil) throws {
        try insert(EventRow(jobID, kind, at: now, detail))
    }
}

extension JSONValue {
    /// Parses stored JSON text. What planq recorded reads back as it was; text that does not parse
    /// (a database altered by hand or damaged) is a store error, never taken for a string.
    init(stored text: String) throws(StoreError) {
        do {
            self = try JSONParser.parse(text)
        } catch {
            throw .corruptValue("stored JSON does not parse (\(error))")
        }
    }
}

extension SQLValue {
    static func json(_ value: JSONValue?) -> SQLValue { value.map { .text($0.canonicalText) } ?? .null }
    static func time(_ value: Timestamp) -> SQLValue { .text(value.iso8601) }
    /// Ids as a JSON array, for `IN (SELECT value FROM json_each(?))`.
    static func idList(_ ids: [Int64]) -> SQLValue { .text("[" + ids.map(String.init).joined(separator: ",") + "]") }
}
