import PlanCore
import PlanStore

extension PostgresStore: StoreCopying {
    public func copiedRows(of table: CopiedTable, afterKey: Int64?, limit: Int) async throws(StoreError) -> [[String: CopiedValue]] {
        try await read { transaction in
            let rows = if let key = table.key {
                try await transaction.query("SELECT * FROM \(table.name) WHERE \(key) > $1 ORDER BY \(key) LIMIT $2", [.int(afterKey ?? 0), .int(Int64(limit))])
            } else {
                try await transaction.query("SELECT * FROM \(table.name)")
            }
            return try rows.map { row in
                var copied: [String: CopiedValue] = [:]
                for column in row.cells.keys where !Self.serverColumns.contains(column) {
                    if try row.isNull(column) {
                        copied[column] = .null
                    } else if table.jsonColumns.contains(column) {
                        copied[column] = try row.json(column).map(CopiedValue.json) ?? .null
                    } else if table.timeColumns.contains(column) {
                        copied[column] = try row.iso(column).map(CopiedValue.text) ?? .null
                    } else if let value = try? row.int(column) {
                        copied[column] = .integer(value)
                    } else {
                        copied[column] = .text(try row.text(column))
                    }
                }
                return copied
            }
        }
    }

    public func heldRows() async throws(StoreError) -> Int {
        try await read { transaction in Int(try await transaction.query(Self.heldRowsQuery)[0].int("n")) }
    }

    private static let heldRowsQuery = "SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM schedules) + (SELECT count(*) FROM queues) AS n"

    public func identity() async throws(StoreError) -> String {
        try await read { transaction in
            let row = try await transaction.query("SELECT system_identifier::text AS cluster, current_database() AS name FROM pg_control_system()")[0]
            return "postgres \(try row.text("cluster"))/\(try row.text("name"))"
        }
    }

    /// Writes a copy in one transaction: it checks that the database holds no jobs, schedules or
    /// queues (or, `replacing`, deletes them), then `body` writes every row. Whatever happens,
    /// kill -9 included, the database is as it was or holds the whole copy. The transaction has no time limit
    /// (a copy of millions of rows takes minutes).
    public func receiveCopy(replacing: Bool, _ body: (any CopyWriter) async throws -> Void) async throws(StoreError) {
        let location = url.description
        try await pool.run(transaction: true, limit: .zero) { transaction in
            try await transaction.execute("LOCK TABLE \(CopiedTable.all.map(\.name).joined(separator: ", ")) IN EXCLUSIVE MODE")
            let held = Int(try await transaction.query(Self.heldRowsQuery)[0].int("n"))
            if held > 0 && !replacing { throw StoreError.copyTargetNotEmpty(location: location, held: held) }
            if replacing {
                try await transaction.execute("TRUNCATE \(CopiedTable.all.map(\.name).joined(separator: ", ")) RESTART IDENTITY")
                try await transaction.execute("SELECT setval('history_place', 1, false)")
            }
            try await body(CopyTransaction(transaction: transaction))
        }
    }
    public func lastHistoryPosition() async throws(StoreError) -> Int64 {
        try await read { transaction in try await transaction.query("SELECT \(Self.lastPlace) AS last")[0].int("last") }
    }

    /// The last place the history's sequence gave (0 when none).
    static let lastPlace = "(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM history_place)"

    /// This server's own, not copied: which transaction wrote a history row, when a worker last
    /// took its session lock.
    private static let serverColumns: Set<String> = ["txid", "started_txid", "finished_txid", "locked_at"]
}

/// A copy's writes into the one transaction of `PostgresStore.receiveCopy`.
struct CopyTransaction: CopyWriter {
    let transaction: PostgresSession.Transaction

    func insertCopiedRows(_ rows: [[String: CopiedValue]], into table: CopiedTable) async throws {
        guard let columns = rows.first.map({ $0.keys.sorted() }) else { return }
        let sql = "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\((1...columns.count).map { "$\($0)" }.joined(separator: ", ")))"
        for row in rows {
            try await transaction.query(sql, try columns.map { column -> SQLBind in
                switch row[column] ?? .null {
                case .null: return .null
                case .integer(let value): return .int(value)
                case .json(let value): return .json(value)
                case .text(let text) where table.timeColumns.contains(column):
                    guard let time = Timestamp(rfc3339: text) else { throw StoreError.corruptValue("\(table.name).\(column) holds \(text.quoted), not a time") }
                    return .time(time)
                case .text(let text): return .text(text)
                }
            })
        }
    }

    /// The history continues after `lastPosition`; the id sequences after the copied ids. Copied
    /// step ends are written by this transaction, as their starts are.
    func finishCopy(lastPosition: Int64) async throws {
        try await transaction.query("SELECT setval('history_place', greatest($1, \(PostgresStore.lastPlace)) + 1, false)", [.int(lastPosition)])
        try await transaction.execute(
            "UPDATE step_results SET finished_txid = \(PostgresStore.currentTransaction) WHERE finished_event IS NOT NULL AND finished_txid IS NULL")
        for table in ["jobs", "step_results", "workers"] {
            try await transaction.execute(
                "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), greatest((SELECT max(id) FROM \(table)), 1), (SELECT max(id) FROM \(table)) IS NOT NULL)")
        }
    }
}
