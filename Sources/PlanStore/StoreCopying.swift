import PlanCore

/// A value of a copied row, as every store reads and writes it: times as planq's RFC 3339 text,
/// JSON columns as JSON (a JSON `null` is not SQL NULL: a step that returned `null` stays done).
public enum CopiedValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
    case json(JSONValue)
}

/// One table `planq copy` moves: its key (rows are read in key order, in pages) and which of its
/// columns hold JSON and which times. In the order rows must be inserted (references first).
public struct CopiedTable: Sendable {
    public let name: String
    /// The integer key that orders and pages the rows, or `nil` for small tables read whole.
    public let key: String?
    public let jsonColumns: Set<String>
    public let timeColumns: Set<String>

    public static let all = [
        CopiedTable(name: "queues", key: nil, jsonColumns: [], timeColumns: []),
        CopiedTable(name: "jobs", key: "id", jsonColumns: ["plan", "result", "last_error"],
                    timeColumns: ["run_at", "created_at", "updated_at", "finished_at", "lease_expires_at"]),
        CopiedTable(name: "step_results", key: "id", jsonColumns: ["output", "error"], timeColumns: ["started_at", "finished_at"]),
        CopiedTable(name: "job_events", key: "id", jsonColumns: ["detail"], timeColumns: ["at"]),
        CopiedTable(name: "queue_starts", key: nil, jsonColumns: [], timeColumns: ["at"]),
        CopiedTable(name: "schedules", key: nil, jsonColumns: ["plan"], timeColumns: ["next_fire_at", "last_fired_at", "created_at", "updated_at"]),
        CopiedTable(name: "workers", key: "id", jsonColumns: ["queues", "capabilities"], timeColumns: ["started_at", "last_seen_at", "ended_at"]),
        CopiedTable(name: "capabilities", key: nil, jsonColumns: [], timeColumns: ["registered_at"]),
    ]
}

/// A store `planq copy` reads from: every row of planq's tables with its ids, tokens and history
/// positions intact. It writes into one through `receiveCopy`, all at once (see each store).
public protocol StoreCopying: JobStore {
    /// Rows of `table` in key order after `afterKey` (all of a table without a key), at most `limit`.
    func copiedRows(of table: CopiedTable, afterKey: Int64?, limit: Int) async throws(StoreError) -> [[String: CopiedValue]]
    /// Jobs, schedules and queues the store holds (a target must hold none unless replaced).
    func heldRows() async throws(StoreError) -> Int
    /// The last position taken in the history.
    func lastHistoryPosition() async throws(StoreError) -> Int64
    /// What the file system or the server says this database is: two spellings of one database
    /// (a symlink, a hard link, another host name for one server) have the same identity.
    func identity() async throws(StoreError) -> String
}

/// Where a copy's rows go while it is written: nothing of it counts until `receiveCopy` returns.
public protocol CopyWriter {
    /// Inserts rows into `table`, as they are (ids included).
    func insertCopiedRows(_ rows: [[String: CopiedValue]], into table: CopiedTable) async throws
    /// After the rows are in: the history continues after `lastPosition`, new rows get ids after the copied ones.
    func finishCopy(lastPosition: Int64) async throws
}
