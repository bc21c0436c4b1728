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
                for column in row.cells.keys {
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

    public func insertCopiedRows(_ rows: [[String: CopiedValue]], into table: CopiedTable) async throws(StoreError) {
        guard let columns = rows.first.map({ $0.keys.sorted() }) else { return }
        let sql = "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\((1...columns.count).map { "$\($0)" }.joined(separator: ", ")))"
        try await commit { transaction in
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
    }

    public func heldRows() async throws(StoreError) -> Int {
        try await read { transaction in
            Int(try await transaction.query(
                "SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM schedules) + (SELECT count(*) FROM queues) AS n")[0].int("n"))
        }
    }

    public func deleteAllRows() async throws(StoreError) {
        try await commit { transaction in
            try await transaction.execute("TRUNCATE \(CopiedTable.all.map(\.name).joined(separator: ", ")) RESTART IDENTITY")
            try await transaction.execute("UPDATE history_sequence SET last = 0")
        }
    }

    /// The history continues after `lastPosition`; the id sequences after the copied ids.
    public func finishCopy(lastPosition: Int64) async throws(StoreError) {
        try await commit { transaction in
            try await transaction.query("UPDATE history_sequence SET last = greatest(last, $1) WHERE id = 1", [.int(lastPosition)])
            for table in ["jobs", "step_results", "workers"] {
                try await transaction.execute(
                    "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), greatest((SELECT max(id) FROM \(table)), 1), (SELECT max(id) FROM \(table)) IS NOT NULL)")
            }
        }
    }

    public func lastHistoryPosition() async throws(StoreError) -> Int64 {
        try await read { transaction in try await transaction.query("SELECT last FROM history_sequence WHERE id = 1")[0].int("last") }
    }
}
