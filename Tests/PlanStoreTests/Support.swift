import CSQLite
import Foundation
import PlanCore
@testable import PlanStore

/// A database file in a fresh temporary folder, removed with the folder when released.
final class TemporaryDatabase {
    let folder: URL
    let path: String

    init() {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent("planq.db").path
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    func open(groupWritable: Bool) throws -> SQLiteStore {
        try SQLiteStore(StoreOptions(path: path, create: true, groupWritable: groupWritable))
    }

    /// The SQLite store itself, for tests of what only it has.
    func openSQLite() throws -> SQLiteStore { try open(groupWritable: false) }

    /// Runs SQL on its own raw connection, as an operator's `sqlite3` would.
    func execute(_ sql: String) {
        var handle: OpaquePointer?
        sqlite3_open(path, &handle)
        sqlite3_busy_timeout(handle, 5000)
        defer { sqlite3_close(handle) }
        precondition(sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK, String(cString: sqlite3_errmsg(handle)))
    }

    /// The first column of the first row of `sql`, as text.
    func scalar(_ sql: String) -> String? {
        var handle: OpaquePointer?
        sqlite3_open(path, &handle)
        defer { sqlite3_close(handle) }
        var statement: OpaquePointer?
        sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { return nil }
        return String(cString: text)
    }
}

let me = LeaseOwner.current()

/// A valid plan with `steps` echo steps, in `queue` with `priority`.
func samplePlan(key: String, queue: String = "default", priority: Int = 0, steps: Int = 1, extra: String = "") -> PlanDescription {
    let stepList = (0..<steps).map { #"{"id":"s\#($0)","call":"echo","input":{"n":\#($0)}}"# }.joined(separator: ",")
    let text = #"{"version":1,"idempotency_key":"\#(key)","queue":"\#(queue)","priority":\#(priority),"steps":[\#(stepList)]\#(extra)}"#
    return try! PlanDescription.decode(Array(text.utf8), newKey: { key })
}

extension Timestamp {
    func plus(seconds: Int64) -> Timestamp { Timestamp(millisecondsSinceEpoch: millisecondsSinceEpoch + seconds * 1000) }
}
