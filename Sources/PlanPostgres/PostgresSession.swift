import Foundation
import Logging
import NIOCore
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
    private let current = Locked<PostgresConnection?>(nil)
    private let onConnect = Locked<(@Sendable (Transaction) async throws -> Void)?>(nil)
    private let lastFailure = Locked<(at: ContinuousClock.Instant, error: any Error)?>(nil)
    /// After a failed connection attempt, how long calls fail at once with its error.
    static let reconnectPause = Duration.seconds(1)

    private init(url: PostgresURL, logger: Logger, timeout: Duration) {
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
        let connection: PostgresConnection
        do {
            connection = try await connected()
        } catch {
            throw Self.storeError(error)
        }
        let handle = Transaction(session: self, connection: connection)
        do {
            return try await Self.bounded(connection, by: limit ?? timeout) {
                do {
                    if transaction { try await handle.execute("BEGIN") }
                    let result = try await body(handle)
                    if transaction { try await handle.execute("COMMIT") }
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
    private func connected() async throws -> PostgresConnection {
        if let connection = current.withLock({ $0 }), !connection.isClosed { return connection }
        current.withLock { $0 = nil }
        // Calls queued behind a failed connection attempt fail with its error for a moment, instead
        // of each waiting out its own attempt.
        if let failure = lastFailure.withLock({ $0 }), failure.at.duration(to: .now) < Self.reconnectPause { throw failure.error }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: try Self.configuration(url, timeout: timeout), id: 1, logger: logger)
        } catch {
            lastFailure.withLock { $0 = (.now, error) }
            throw error
        }
        lastFailure.withLock { $0 = nil }
        if let setUp = onConnect.withLock({ $0 }) {
            do {
                try await setUp(Transaction(session: self, connection: connection))
            } catch {
                try? await connection.close()
                throw error
            }
        }
        current.withLock { $0 = connection }
        return connection
    }

    func close() async {
        let connection = current.withLock { connection in defer { connection = nil }; return connection }
        try? await connection?.close()
    }

    /// A store dropped without `close` closes its connection on the way out.
    deinit {
        if let connection = current.withLock({ $0 }) {
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
            return .server(ServerError(sqlState: nil, message: "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")))
        default:
            return .server(ServerError(sqlState: nil, message: "\(error)"))
        }
    }

    /// The connection while the caller holds its turn.
    struct Transaction: Sendable {
        let session: PostgresSession
        let connection: PostgresConnection

        /// The rows of `sql` with `binds` as `$1`, `$2`, ...
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
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: session.logger)
            var result: [SQLRow] = []
            for try await row in rows { result.append(SQLRow(row)) }
            return result
        }

        /// Runs statements without results and parameters, one after the other: a statement ends
        /// with `;` at the end of a line (the extended protocol takes one statement at a time).
        func execute(_ sql: String) async throws {
            for statement in Self.statements(sql) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: session.logger)
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

/// A lock for tasks: `lock` suspends until the holder unlocks, first come first served.
final class AsyncMutex: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Locked(State())

    func lock() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                guard state.locked else {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
