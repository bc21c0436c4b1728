import Foundation
import Logging
import Migrations
import PostgresNIO
import PlanCore
import PlanStore

/// The job store in a PostgreSQL database: the same tables, history and guarantees as
/// `SQLiteStore`, for workers on many hosts. Its calls share a few connections (`SessionPool`);
/// runs' writes that wait for one are committed together (group commit).
public final class PostgresStore: JobStore {
    let pool: SessionPool
    public let url: PostgresURL
    public var location: String { url.description }
    /// Told of each write transaction that committed: its one write, and how long it took.
    let commitObserver: (@Sendable (_ operations: Int, _ duration: Duration) -> Void)?
    /// Runs' writes waiting for a connection (see `commit(_:of:)`).
    let waitingWrites = Locked<[PendingRunWrite]>([])

    private init(pool: SessionPool, url: PostgresURL, commitObserver: (@Sendable (Int, Duration) -> Void)?) {
        self.pool = pool
        self.url = url
        self.commitObserver = commitObserver
    }

    /// Connects; with `migrate`, applies pending migrations, else refuses a database without
    /// planq's tables (`notInitialized`). Each call gets an answer within `timeout` or fails as a
    /// fault (migrations are not limited). `commitObserver` is told of each write transaction.
    /// Calls run side by side on up to `connections` connections (a worker's runs write at once).
    public static func connect(_ url: PostgresURL, migrate: Bool, timeout: Duration = .seconds(30), connections: Int = 1, now: Timestamp = .now(),
                               commitObserver: (@Sendable (_ operations: Int, _ duration: Duration) -> Void)? = nil,
                               logger: Logger = Logger(label: "planq.postgres", factory: { _ in SwiftLogNoOpLogHandler() })) async throws(StoreError)
        -> PostgresStore
    {
        let pool = try await SessionPool.connect(url, size: connections, timeout: timeout, logger: logger)
        let store = PostgresStore(pool: pool, url: url, commitObserver: commitObserver)
        if migrate {
            _ = try await store.migrate(now: now)
        } else if try await store.read({ try await $0.query("SELECT (to_regclass('jobs') IS NOT NULL)::int AS ready")[0].int("ready") }) == 0 {
            throw .notInitialized(path: url.description)
        }
        return store
    }

    /// Closes the connections.
    public func close() async { await pool.close() }

    /// How many connections a worker running `concurrency` jobs at once uses: one for its claims,
    /// and one per four jobs for its runs' writes, at most four in all (the server's connections are finite).
    public static func workerConnections(concurrency: Int) -> Int { min(4, 1 + max(1, concurrency / 4)) }

    /// Runs `body` in a transaction of its own (or, told it is one statement, in none); returns
    /// once it committed. `onPrimary`: on the session that holds the worker's session lock (a
    /// claim, so that a worker whose lock is gone claims nothing until it holds it again).
    @discardableResult
    func commit<T: Sendable>(transaction: Bool = true, onPrimary: Bool = false,
                             _ body: (PostgresSession.Transaction) async throws -> T) async throws(StoreError) -> T {
        let started = ContinuousClock.now
        let result = onPrimary ? try await pool.primary.run(transaction: transaction, body) : try await pool.run(transaction: transaction, body)
        guard let commitObserver else { return result }
        commitObserver(1, .now - started)
        return result
    }

    /// Runs `body` outside a transaction (each statement sees what committed before it).
    @discardableResult
    func read<T: Sendable>(_ body: (PostgresSession.Transaction) async throws -> T) async throws(StoreError) -> T {
        try await pool.run(transaction: false, body)
    }

    static let bootstrap = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer     PRIMARY KEY,
            name       text        NOT NULL,
            checksum   text        NOT NULL,
            applied_at timestamptz NOT NULL
        )
        """

    public func migrationStatus() async throws(StoreError) -> [MigrationStatus] {
        let applied = try await read { try await Self.verifiedMigrations($0) }
        return Migrations.postgres.map { MigrationStatus(version: $0.version, name: $0.name, appliedAt: applied[$0.version]?.iso8601) }
    }

    /// Applies pending migrations, each in a transaction that holds an advisory lock, so that
    /// workers starting together on several hosts apply each once. A database whose migrations
    /// are all applied is only read: a role without the right to change the schema may connect.
    public func migrate(now: Timestamp) async throws(StoreError) -> [String] {
        let applied = try await read { try await Self.verifiedMigrations($0) }
        guard Migrations.postgres.contains(where: { applied[$0.version] == nil }) else { return [] }
        return try await pool.run(transaction: true, limit: .zero) { transaction in
            try await transaction.query("SELECT pg_advisory_xact_lock(7245118901)")
            try await transaction.execute("SET LOCAL client_min_messages = warning;\n" + Self.bootstrap)
            let applied = try await Self.verifiedMigrations(transaction)
            var names: [String] = []
            for file in Migrations.postgres where applied[file.version] == nil {
                try await transaction.execute(file.sql)
                try await transaction.query(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                    [.int(Int64(file.version)), .text(file.name), .text(Migrator.checksum(file.sql)), .time(now)])
                names.append(file.name)
            }
            return names
        }
    }

    /// The recorded migrations (none when the table is missing), after checking none was edited
    /// and none is unknown to this binary.
    private static func verifiedMigrations(_ transaction: PostgresSession.Transaction) async throws -> [Int: Timestamp] {
        guard try await transaction.query("SELECT (to_regclass('schema_migrations') IS NOT NULL)::int AS present")[0].int("present") == 1 else {
            return [:]
        }
        var applied: [Int: Timestamp] = [:]
        for row in try await transaction.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version") {
            let version = Int(try row.int("version"))
            guard let file = Migrations.postgres.first(where: { $0.version == version }) else {
                throw StoreError.migration("the database has migration \(version) (\(try row.text("name"))), which this planq does not know; it is newer than this binary")
            }
            let checksum = try row.text("checksum")
            guard Migrator.checksum(file.sql) == checksum else {
                throw StoreError.migration("migration postgres/\(file.name) was changed after it was applied; restore the original file and add a new migration instead")
            }
            applied[version] = try row.time("applied_at")
        }
        return applied
    }

    /// `LISTEN planq_changes` on a connection of its own: the triggers on `jobs`, `queues` and
    /// `schedules` notify it when a commit changed them, on whatever host. Consecutive
    /// notifications arrive as one; while throttled, at most one per `StoreChanges.throttledPause`.
    /// A lost connection is made again after a second (and counts as a change: something may have
    /// been missed meanwhile); one that no longer answers is found out within `listenerPing` and
    /// the session's timeout.
    static let listenerPing = Duration.seconds(5)

    public func changes() -> StoreChanges? {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let throttled = Locked(false)
        let url = url, logger = pool.primary.logger, timeout = pool.primary.timeout
        let listener = Task {
            while !Task.isCancelled {
                do {
                    let configuration = try PostgresSession.configuration(url, timeout: timeout)
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: 2, logger: logger)
                    defer { Task { try? await connection.close() } }
                    continuation.yield()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            try await connection.listen(on: "planq_changes") { notifications in
                                for try await _ in notifications {
                                    continuation.yield()
                                    if throttled.withLock({ $0 }) { try await Task.sleep(for: StoreChanges.throttledPause) }
                                }
                            }
                        }
                        // A listener sends nothing, so a cut link would leave it deaf for good: a
                        // query every few seconds finds that out, and the connection is made again.
                        group.addTask {
                            while true {
                                try await Task.sleep(for: Self.listenerPing)
                                try await PostgresSession.bounded(connection, by: timeout) {
                                    _ = try await connection.query("SELECT 1", logger: logger)
                                }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                } catch {
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
        continuation.onTermination = { _ in listener.cancel() }
        return StoreChanges(stream: stream) { on in throttled.withLock { $0 = on } }
    }
}

extension PostgresStore {
    /// A statement (for a `WITH`) that takes the history's next `count` places (an SQL expression)
    /// when `condition` holds, in order, as the array `places`; no row when it does not hold.
    /// Places come from a sequence: they may commit out of order, which is why each history row
    /// records its writing transaction (`currentTransaction`) for readers that follow the history.
    static func nextPlaces(_ count: String, when condition: String) -> String {
        "SELECT array_agg(nextval('history_place') ORDER BY n) AS places FROM generate_series(1, \(count)) n WHERE \(condition) HAVING count(*) > 0"
    }

    /// The statement's transaction, as the history's `txid` columns hold it.
    static let currentTransaction = "pg_current_xact_id()"
}

extension PostgresSession.Transaction {
    /// Appends an event to a job's history, in one statement.
    func event(_ jobID: Int64, _ kind: EventKind, at now: Timestamp, _ detail: JSONValue? = nil) async throws {
        try await query(
            """
            INSERT INTO job_events (id, job_id, at, kind, detail) VALUES (nextval('history_place'), $1, $2, $3, $4)
            """, [.int(jobID), .time(now), .text(kind.rawValue), .json(detail)])
    }

    /// Throws `leaseLost` unless `rows` (a fenced statement's `RETURNING`) holds one row.
    func requireOne(_ rows: [SQLRow], _ lease: Lease.ID) throws(StoreError) {
        guard rows.count == 1 else { throw .leaseLost(lease) }
    }
}

extension PostgresStore {
    /// Creates database `name` on `server`'s server (the bench's fresh databases).
    public static func createDatabase(_ name: String, on server: PostgresURL) async throws(StoreError) {
        try await administer("CREATE DATABASE \(name)", on: server)
    }

    /// Drops database `name` on `server`'s server, closing its connections.
    public static func dropDatabase(_ name: String, on server: PostgresURL) async throws(StoreError) {
        try await administer("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", on: server)
    }

    private static func administer(_ sql: String, on server: PostgresURL) async throws(StoreError) {
        let session = try await PostgresSession.connect(server, logger: Logger(label: "planq.postgres", factory: { _ in SwiftLogNoOpLogHandler() }))
        defer { Task { await session.close() } }
        try await session.run(transaction: false, limit: .zero) { try await $0.execute(sql) }
    }
}

extension PostgresURL {
    /// The same server and credentials, another database.
    public func database(_ name: String) -> PostgresURL {
        var url = self
        url.database = name
        return url
    }

    /// The URL as a libpq connection string (for `psql` and `pgbench`), password included.
    public var connectionString: String {
        var text = "postgresql://\(user.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? user)"
        if let password { text += ":" + (password.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed) ?? password) }
        text += "@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        return text + (tls == .disable ? "" : "?sslmode=\(tls.rawValue)")
    }
}
