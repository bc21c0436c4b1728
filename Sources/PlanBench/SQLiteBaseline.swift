import Glibc
import PlanCore
import PlanStore

/// SQLite's own limit on this machine, with production's pragmas: raw statements through the same
/// connection type the store uses, without planq's logic around them.
struct SQLiteBaseline: Sendable {
    let path: String
    let durability: Durability

    init(path: String, durability: Durability) {
        self.path = path
        self.durability = durability
    }

    private func fresh() throws(StoreError) -> Connection {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        do {
            let connection = try Connection(path: path, create: true, groupWritable: false, durability: durability, busyTimeoutMilliseconds: 5000)
            try connection.execute("""
                CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, state TEXT NOT NULL, run_at TEXT NOT NULL,
                    plan TEXT NOT NULL, token INTEGER NOT NULL DEFAULT 0) STRICT;
                CREATE INDEX t_due ON t (run_at, id) WHERE state = 'pending';
                """)
            return connection
        } catch {
            throw SQLiteStore.storeError(error)
        }
    }

    /// Single-row INSERTs of a job-sized row, one transaction each, per second.
    func insertsPerSecond(count: Int, row: String) throws(StoreError) -> Double {
        let connection = try fresh()
        return try rate(count) { index in
            try connection.writeTransaction {
                _ = try connection.query("INSERT INTO t (k, state, run_at, plan) VALUES (?, 'pending', ?, ?)",
                                         [.text("k\(index)"), .text("2026-01-01T00:00:00.000Z"), .text(row)])
            }
        }
    }

    /// The minimal claim+finish cycle per second: one `UPDATE … RETURNING` transaction to claim a
    /// job, one `UPDATE` transaction to finish it.
    func cyclesPerSecond(count: Int, row: String) throws(StoreError) -> Double {
        let connection = try fresh()
        do {
            try connection.writeTransaction {
                for index in 0..<count {
                    try connection.query("INSERT INTO t (k, state, run_at, plan) VALUES (?, 'pending', ?, ?)",
                                         [.text("k\(index)"), .text("2026-01-01T00:00:00.000Z"), .text(row)])
                }
            }
        } catch {
            throw SQLiteStore.storeError(error)
        }
        return try rate(count) { _ in
            let id = try connection.writeTransaction {
                try connection.query("""
                    UPDATE t SET state = 'running', token = token + 1 WHERE id =
                        (SELECT id FROM t WHERE state = 'pending' AND run_at <= ? ORDER BY run_at, id LIMIT 1) RETURNING id
                    """, [.text("2030-01-01T00:00:00.000Z")])[0].int("id")
            }
            try connection.writeTransaction {
                _ = try connection.query("UPDATE t SET state = 'succeeded' WHERE id = ?", [.integer(id)])
            }
        }
    }

    private func rate(_ count: Int, _ body: (Int) throws -> Void) throws(StoreError) -> Double {
        let clock = ContinuousClock()
        let started = clock.now
        do {
            for index in 0..<count { try body(index) }
        } catch {
            throw SQLiteStore.storeError(error)
        }
        return Double(count) / (clock.now - started).seconds
    }
}
