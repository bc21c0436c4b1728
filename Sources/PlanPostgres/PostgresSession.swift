import Foundation
import Logging
import NIOCore
import NIOSSL
import PlanCore
import PlanStore
import PostgresNIO

/// A value bound to a statement's `$n`.
enum SQLBind: Sendable {
    case int(Int64)
    case text(String)
    case time(Timestamp)
    /// JSON text, sent as `json`; `nil` is SQL NULL.
    case json(JSONValue?)
    case ints([Int64])
    case texts([String])
    case null

    static func optionalText(_ text: String?) -> SQLBind { text.map(SQLBind.text) ?? .null }
    static func optionalTime(_ time: Timestamp?) -> SQLBind { time.map(SQLBind.time) ?? .null }

    /// Where `binds` hold SQL NULL (`n`) and values (`v`): a NULL has no type, so a statement is
    /// prepared once per pattern.
    static func nullPattern(_ binds: [SQLBind]) -> String {
        String(binds.map { bind in
            switch bind {
            case .null, .json(nil): "n"
            default: "v"
            }
        })
    }
}

/// A `json` value: its text, kept as written.
private struct JSONText: PostgresNonThrowingEncodable {
    static var psqlType: PostgresDataType { .json }
    static var psqlFormat: PostgresFormat { .binary }
    let text: String

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeString(text)
    }
}

extension Timestamp {
    var date: Date { Date(timeIntervalSince1970: Double(millisecondsSinceEpoch) / 1000) }
    init(_ date: Date) { self.init(millisecondsSinceEpoch: Int64((date.timeIntervalSince1970 * 1000).rounded())) }
}

/// One row of a result, its columns by name.
struct SQLRow: Sendable {
    let cells: [String: PostgresCell]

    init(_ row: PostgresRow) {
        var cells: [String: PostgresCell] = [:]
        for cell in row { cells[cell.columnName] = cell }
        self.cells = cells
    }

    private func cell(_ name: String) throws(StoreError) -> PostgresCell {
        guard let cell = cells[name] else { throw StoreError.corruptValue("no column \(name)") }
        return cell
    }

    func isNull(_ name: String) throws(StoreError) -> Bool { try cell(name).bytes == nil }
    func int(_ name: String) throws(StoreError) -> Int64 {
        guard let value = try optionalInt(name) else { throw StoreError.corruptValue("\(name) is NULL") }
        return value
    }
    func optionalInt(_ name: String) throws(StoreError) -> Int64? {
        let cell = try cell(name)
        guard cell.bytes != nil else { return nil }
        do { return try cell.decode(Int64.self) } catch { throw StoreError.corruptValue("\(name) is not an integer") }
    }
    func text(_ name: String) throws(StoreError) -> String {
        guard let value = try optionalText(name) else { throw StoreError.corruptValue("\(name) is NULL") }
        return value
    }
    func optionalText(_ name: String) throws(StoreError) -> String? {
        let cell = try cell(name)
        guard cell.bytes != nil else { return nil }
        do { return try cell.decode(String.self) } catch { throw StoreError.corruptValue("\(name) is not text") }
    }
    func time(_ name: String) throws(StoreError) -> Timestamp? {
        let cell = try cell(name)
        guard cell.bytes != nil else { return nil }
        do { return Timestamp(try cell.decode(Date.self)) } catch { throw StoreError.corruptValue("\(name) is not a time") }
    }
    /// A JSON column (`jsonb` or `json`), parsed; `nil` when NULL.
    func json(_ name: String) throws(StoreError) -> JSONValue? {
        guard let text = try jsonText(name) else { return nil }
        do { return try JSONParser.parse(text) } catch { throw StoreError.corruptValue("\(name) is not JSON") }
    }
    func jsonText(_ name: String) throws(StoreError) -> String? {
        let cell = try cell(name)
        guard var bytes = cell.bytes else { return nil }
        if cell.dataType == .jsonb && cell.format == .binary { bytes.moveReaderIndex(forwardBy: 1) }
        return bytes.readString(length: bytes.readableBytes)
    }
}

/// One connection to the server, used by one statement at a time (a transaction holds it from
/// `BEGIN` to `COMMIT`); callers wait their turn in order. A connection that failed is made again
/// by the next call, which first runs `onConnect` (the worker's session lock) on it.
///
/// Every call is bounded by `timeout`: a link cut mid-query leaves TCP retrying for many minutes,
/// so past the limit the connection is closed and the call fails as a fault. The server is asked
/// to notice a vanished client as soon: keepalives and `tcp_user_timeout` end the session of a
/// lost host within about ten seconds, and a transaction left idle ends after twice `timeout`.
final class PostgresSession: Sendable {
    let url: PostgresURL
    let logger: Logger
    let timeout: Duration
    private let turn = AsyncMutex()
    private let current = Locked<WatchedConnection?>(nil)
    private let onConnect = Locked<(@Sendable (Transaction) async throws -> Void)?>(nil)
    private let lastFailure = Locked<(at: ContinuousClock.Instant, error: any Error)?>(nil)
    /// After a failed connection attempt, how long calls fail at once with its error.
    static let reconnectPause = Duration.seconds(1)

    /// A session that connects on its first call.
    init(url: PostgresURL, logger: Logger, timeout: Duration) {
        self.url = url
        self.logger = logger
        self.timeout = timeout
    }

    /// Connects at once, so that a wrong URL or password is reported by the caller that gave it.
    static func connect(_ url: PostgresURL, timeout: Duration = .seconds(30), logger: Logger) async throws(StoreError) -> PostgresSession {
        let session = PostgresSession(url: url, logger: logger, timeout: timeout)
        _ = try await session.run(transaction: false) { _ in () }
        return session
    }

    /// The connection options every planq session starts with.
    static func configuration(_ url: PostgresURL, timeout: Duration) throws -> PostgresConnection.Configuration {
        var configuration = try url.configuration
        let milliseconds = max(1, PlanDuration(timeout).milliseconds)
        configuration.options.connectTimeout = .milliseconds(milliseconds)
        configuration.options.additionalStartupParameters = [
            ("application_name", "planq"),
            ("tcp_keepalives_idle", "5"), ("tcp_keepalives_interval", "2"), ("tcp_keepalives_count", "3"),
            ("tcp_user_timeout", "10000"),
            ("idle_in_transaction_session_timeout", "\(2 * milliseconds)"),
        ]
        return configuration
    }

    /// Runs `body` on each new connection before anything else (not on the current one); `nil`: nothing.
    func setOnConnect(_ body: (@Sendable (Transaction) async throws -> Void)?) {
        onConnect.withLock { $0 = body }
    }

    /// Runs `body` alone on the connection, in a transaction when `transaction`, within `limit`
    /// (the session's `timeout` when `nil`; `.zero`: none); every error as a `StoreError`.
    func run<T: Sendable>(transaction: Bool, limit: Duration? = nil, _ body: (Transaction) async throws -> T) async throws(StoreError) -> T {
        await turn.lock()
        defer { turn.unlock() }
        let watched: WatchedConnection
        do {
            watched = try await connected()
        } catch {
            throw Self.storeError(error)
        }
        let (handle, connection) = (Transaction(session: self, watched: watched), watched.connection)
        do {
            return try await Self.bounded(connection, by: limit ?? timeout) {
                do {
                    if transaction { try await handle.execute("BEGIN") }
                    let result = try await body(handle)
                    if transaction { try await handle.commit() }
                    return result
                } catch {
                    if transaction, !connection.isClosed { _ = try? await handle.execute("ROLLBACK") }
                    throw error
                }
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Runs `body`; past `limit` (unless `.zero`), closes `connection`, which fails what waits on
    /// it, and throws a fault that says so.
    static func bounded<T: Sendable>(_ connection: PostgresConnection, by limit: Duration, _ body: () async throws -> T) async throws -> T {
        guard limit != .zero else { return try await body() }
        let timedOut = Locked(false)
        let watchdog = Task {
            try await Task.sleep(for: limit)
            timedOut.withLock { $0 = true }
            try? await connection.close()
        }
        defer { watchdog.cancel() }
        do {
            return try await body()
        } catch where timedOut.withLock({ $0 }) {
            throw StoreError.server(ServerError(sqlState: nil, message: "no answer from the server within \(limit); the connection was closed"))
        }
    }

    /// The open connection, or a new one (set up by `onConnect`) when there is none or it closed.
    private func connected() async throws -> WatchedConnection {
        if let watched = current.withLock({ $0 }), !watched.connection.isClosed { return watched }
        current.withLock { $0 = nil }
        // Calls queued behind a failed connection attempt fail with its error for a moment, instead
        // of each waiting out its own attempt.
        if let failure = lastFailure.withLock({ $0 }), failure.at.duration(to: .now) < Self.reconnectPause { throw failure.error }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: try Self.configuration(url, timeout: timeout), id: 1, logger: logger)
        } catch {
            let failure = Self.connectionFailure(error, to: url)
            lastFailure.withLock { $0 = (.now, failure) }
            throw failure
        }
        lastFailure.withLock { $0 = nil }
        let watched = WatchedConnection(connection)
        if let setUp = onConnect.withLock({ $0 }) {
            do {
                // Bounded too: a lock it takes may still be held by this worker's old session
                // until the server notices that session is gone.
                try await Self.bounded(connection, by: timeout) { try await setUp(Transaction(session: self, watched: watched)) }
            } catch {
                try? await connection.close()
                throw error
            }
        }
        current.withLock { $0 = watched }
        return watched
    }

    func close() async {
        let watched = current.withLock { watched in defer { watched = nil }; return watched }
        try? await watched?.connection.close()
    }

    /// A store dropped without `close` closes its connection on the way out.
    deinit {
        if let connection = current.withLock({ $0 })?.connection {
            Task { try? await connection.close() }
        }
    }

    static func storeError(_ error: any Error) -> StoreError {
        switch error {
        case let error as StoreError: return error
        case let error as PSQLError:
            if let info = error.serverInfo {
                return .server(ServerError(sqlState: info[.sqlState], message: info[.message] ?? "\(error.code)"))
            }
            let (sqlState, reason) = clientSideReason(error)
            return .server(ServerError(sqlState: sqlState, message: reason))
        default:
            return .server(ServerError(sqlState: nil, message: "\(error)"))
        }
    }

    /// A failed connection attempt as its caller reports it: to where (never with the password), and why.
    static func connectionFailure(_ error: any Error, to url: PostgresURL) -> StoreError {
        guard case .server(let server) = storeError(error) else { return storeError(error) }
        return .server(ServerError(sqlState: server.sqlState, message: "cannot connect to \(url): \(server.message)"))
    }

    /// An error postgres-nio raised itself (the server sent none), in an operator's words, with the
    /// SQLSTATE of a login the client cannot go on with: 28000 (the server asks for a password
    /// and none was given), 08001 (the server refused TLS, or TLS refused the server). Those are
    /// not waited out as a server out of reach; a connection that broke mid-handshake still is.
    static func clientSideReason(_ error: PSQLError) -> (sqlState: String?, reason: String) {
        switch error.code {
        case .authMechanismRequiresPassword:
            return ("28000", "the server asks for a password and none was given (in the URL, the systemd credential planq-db-password, or a PGPASSFILE line)")
        case .sslUnsupported:
            return ("08001", "the server does not accept TLS, which the URL's sslmode asks for")
        default:
            if case .handshakeFailed(let refusal)? = error.underlying as? NIOSSLError {
                // BoringSSL's reason, e.g. CERTIFICATE_VERIFY_FAILED, without the library's source path.
                let text = "\(refusal)"
                let reason = text.range(of: "OPENSSL_internal:").map { String(text[$0.upperBound...].prefix { $0.isUppercase || $0 == "_" }) }
                return ("08001", "the TLS handshake failed: " + (reason ?? text))
            }
            return (nil, "\(error.code)" + (error.underlying.map { ": \($0)" } ?? ""))
        }
    }

    /// The connection while the caller holds its turn.
    struct Transaction: Sendable {
        let session: PostgresSession
        let watched: WatchedConnection
        var connection: PostgresConnection { watched.connection }

        /// The rows of `sql` with `binds` as `$1`, `$2`, ..., as a statement prepared once per
        /// connection (and per pattern of NULLs): the server parses and plans it once, not at every call.
        @discardableResult
        func query(_ sql: String, _ binds: [SQLBind] = []) async throws -> [SQLRow] {
            var bindings = PostgresBindings(capacity: binds.count)
            for bind in binds {
                switch bind {
                case .int(let value): bindings.append(value)
                case .text(let value): bindings.append(value)
                case .time(let value): bindings.append(value.date)
                case .json(let value?): bindings.append(JSONText(text: value.canonicalText))
                case .json(nil), .null: bindings.appendNull()
                case .ints(let values): bindings.append(values)
                case .texts(let values): bindings.append(values)
                }
            }
            let statement = PreparedSQL.Text(name: "planq_\(PreparedSQL.digest(sql))_\(SQLBind.nullPattern(binds))", sql: sql)
            let (connection, logger, prepared) = (connection, session.logger, PreparedSQL(bindings: bindings))
            return try await watched.unlessClosed {
                try await PreparedSQL.$current.withValue(statement) {
                    var result: [SQLRow] = []
                    for try await row in try await connection.execute(prepared, logger: logger) { result.append(SQLRow(row)) }
                    return result
                }
            }
        }

        /// Commits the transaction; returns only once the server said it committed. A statement's
        /// answer is not its commit (the server may answer, then die before committing), COMMIT's
        /// is; a COMMIT of a transaction that failed answers ROLLBACK, a fault here.
        func commit() async throws {
            let (connection, logger) = (connection, session.logger)
            let tag = try await watched.unlessClosed { () async throws -> String in
                let answer: EventLoopFuture<PostgresQueryResult> = connection.query(PostgresQuery(unsafeSQL: "COMMIT"), logger: logger)
                return try await answer.get().metadata.command
            }
            guard tag == "COMMIT" else {
                throw StoreError.server(ServerError(sqlState: "40000", message: "COMMIT answered \(tag): the transaction was rolled back"))
            }
        }

        /// Runs statements without results and parameters, one after the other: a statement ends
        /// with `;` at the end of a line (the extended protocol takes one statement at a time).
        func execute(_ sql: String) async throws {
            let (connection, logger) = (connection, session.logger)
            for statement in Self.statements(sql) {
                try await watched.unlessClosed { _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
            }
        }

        /// The statements of a script: comment lines dropped, split at `;` ending a line.
        static func statements(_ sql: String) -> [String] {
            let lines = sql.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
            var statements: [String] = [], current = ""
            for line in lines {
                current += line + "\n"
                if line.trimmingCharacters(in: .whitespaces).hasSuffix(";") {
                    statements.append(current)
                    current = ""
                }
            }
            if !current.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { statements.append(current) }
            return statements
        }
    }
}

/// A connection and the statements waiting on it: when it closes, they fail at once (postgres-nio
/// leaves a statement written to a connection that has closed — the server ended the session, or
/// the watchdog closed it between two statements — unanswered for good).
final class WatchedConnection: Sendable {
    let connection: PostgresConnection
    private struct Waiting {
        var closed = false
        var next = 0
        var calls: [Int: @Sendable () -> Void] = [:]
    }
    private let waiting = Locked(Waiting())

    init(_ connection: PostgresConnection) {
        self.connection = connection
        connection.closeFuture.whenComplete { [waiting] _ in
            let calls = waiting.withLock { waiting in
                waiting.closed = true
                defer { waiting.calls = [:] }
                return Array(waiting.calls.values)
            }
            for call in calls { call() }
        }
    }

    /// `operation`'s result, or a fault as soon as the connection closes.
    func unlessClosed<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let done = Locked(false)
            let finish: @Sendable (Result<T, any Error>) -> Void = { result in
                guard done.withLock({ done in defer { done = true }; return !done }) else { return }
                continuation.resume(with: result)
            }
            let closed = StoreError.server(ServerError(sqlState: nil, message: "the connection to the server closed"))
            let id = waiting.withLock { waiting -> Int? in
                guard !waiting.closed else { return nil }
                waiting.next += 1
                waiting.calls[waiting.next] = { finish(.failure(closed)) }
                return waiting.next
            }
            guard let id else { return finish(.failure(closed)) }
            Task { [waiting] in
                let result: Result<T, any Error>
                do { result = .success(try await operation()) } catch { result = .failure(error) }
                waiting.withLock { _ = $0.calls.removeValue(forKey: id) }
                finish(result)
            }
        }
    }
}

/// Any statement as a named prepared statement: postgres-nio prepares a statement type's `sql`
/// under its `name` once per connection; here both come from the task-local `current`, read as
/// the statement is sent.
struct PreparedSQL: PostgresPreparedStatement {
    typealias Row = PostgresRow
    struct Text: Sendable {
        let name: String
        let sql: String
    }
    @TaskLocal static var current = Text(name: "", sql: "")

    static var name: String { current.name }
    static var sql: String { current.sql }
    static var bindingDataTypes: [PostgresDataType] { [] }

    let bindings: PostgresBindings
    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }

    /// FNV-1a of the text, in hex: the same statement gets the same name.
    static func digest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }
}
