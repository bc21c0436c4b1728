import Glibc
import PlanCore

extension SQLiteStore: StoreCopying, CopyWriter {
    public func copiedRows(of table: CopiedTable, afterKey: Int64?, limit: Int) async throws(StoreError) -> [[String: CopiedValue]] {
        try read { connection in
            let rows = if let key = table.key {
                try connection.query("SELECT * FROM \(table.name) WHERE \(key) > ? ORDER BY \(key) LIMIT ?", [.integer(afterKey ?? 0), .integer(Int64(limit))])
            } else {
                try connection.query("SELECT * FROM \(table.name)")
            }
            return try rows.map { row in
                var copied: [String: CopiedValue] = [:]
                for column in row.columns {
                    switch row[column] {
                    case .null: copied[column] = .null
                    case .integer(let value): copied[column] = .integer(value)
                    case .text(let text) where table.jsonColumns.contains(column): copied[column] = .json(try JSONValue(stored: text))
                    case .text(let text): copied[column] = .text(text)
                    case .real(let value): copied[column] = .text("\(value)")
                    case .blob: throw StoreError.corruptValue("\(table.name).\(column) holds a blob")
                    }
                }
                return copied
            }
        }
    }

    public func insertCopiedRows(_ rows: [[String: CopiedValue]], into table: CopiedTable) async throws(StoreError) {
        guard let columns = rows.first.map({ $0.keys.sorted() }) else { return }
        try write { connection in
            let sql = "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
            for row in rows {
                try connection.query(sql, columns.map { column -> SQLValue in
                    switch row[column] ?? .null {
                    case .null: .null
                    case .integer(let value): .integer(value)
                    case .text(let text): .text(text)
                    case .json(let value): .text(value.canonicalText)
                    }
                })
            }
        }
    }

    public func heldRows() async throws(StoreError) -> Int {
        try read { connection in Int(try connection.query(Self.heldRowsQuery)[0].int("n")) }
    }

    /// Jobs, schedules and queues in all.
    package static let heldRowsQuery = "SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM schedules) + (SELECT count(*) FROM queues) AS n"

    public func finishCopy(lastPosition: Int64) async throws(StoreError) {
        try write { connection in
            _ = try connection.query("INSERT INTO history_sequence (id, last) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET last = max(last, ?1)",
                                 [.integer(lastPosition)])
        }
    }

    public func lastHistoryPosition() async throws(StoreError) -> Int64 {
        try read { connection in
            try connection.query(
                """
                SELECT max(coalesce((SELECT last FROM history_sequence WHERE id = 1), 0), coalesce((SELECT max(id) FROM job_events), 0),
                           coalesce((SELECT max(max(coalesce(started_event, 0), coalesce(finished_event, 0))) FROM step_results), 0)) AS last
                """)[0].int("last")
        }
    }
}
