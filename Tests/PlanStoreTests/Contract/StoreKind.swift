import Foundation
import Logging
import PlanCore
import PlanPostgres
import PostgresNIO
@testable import PlanStore
import Testing

/// The stores the contract suite runs against. Each test gets a fresh, empty database of the kind;
/// a new store proves itself by being added here and passing every contract test.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    /// A new database on the PostgreSQL server `PLANQ_TEST_POSTGRES` names (`make test` starts a
    /// private one: scripts/with-postgres); without it the test fails and says so.
    case postgres

    var testDescription: String { rawValue }

    func database() async throws -> any ContractDatabase {
        switch self {
        case .sqlite: TemporaryDatabase()
        case .postgres: try await PostgresDatabase()
        }
    }
}

/// A fresh database of one kind, as the contract tests see it.
protocol ContractDatabase: AnyObject {
    /// A store on the database; each call opens another connection, as another process would.
    func open() async throws -> any JobStore
    /// The first column of the first row of `sql`, as text, read beside the store as an
    /// operator's shell would (portable SQL: no SQLite- or PostgreSQL-only functions).
    func scalar(_ sql: String) -> String?
    /// Runs `sql` beside the store, as an operator would.
    func execute(_ sql: String)
}

extension TemporaryDatabase: ContractDatabase {
    func open() async throws -> any JobStore { try open(groupWritable: false) }
}

/// A new, empty database on the test server; `psql` reads and writes beside the store. The
/// databases stay until the server is thrown away after the tests (scripts/with-postgres): a test
/// that waited for a `DROP DATABASE` would hold one of the few threads every test shares.
final class PostgresDatabase: ContractDatabase {
    struct NoServer: Error, CustomStringConvertible {
        var description: String { "PLANQ_TEST_POSTGRES is not set: run the tests with make test (or scripts/with-postgres swift test)" }
    }

    let url: String

    init() async throws {
        guard let server = ProcessInfo.processInfo.environment["PLANQ_TEST_POSTGRES"] else { throw NoServer() }
        let name = "planq_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        url = String(server[..<server.lastIndex(of: "/")!]) + "/" + name
        let address = try PostgresURL(server)
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: address.host, port: address.port, username: address.user, password: nil, database: address.database, tls: .disable),
            id: 0, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        do {
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    func open() async throws -> any JobStore { try await PostgresStore.connect(try PostgresURL(url), migrate: true) }

    /// A connection of its own to the database, beside the store (to hold a transaction open).
    func connection() async throws -> PostgresConnection {
        let address = try PostgresURL(url)
        return try await PostgresConnection.connect(
            configuration: .init(host: address.host, port: address.port, username: address.user, password: nil, database: address.database, tls: .disable),
            id: 1, logger: Self.logger)
    }

    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func scalar(_ sql: String) -> String? {
        let output = (try? Self.psql(url, sql)) ?? ""
        let first = output.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return output.isEmpty ? nil : first
    }

    func execute(_ sql: String) { _ = try! Self.psql(url, sql) }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Runs `sql` with psql, unaligned, tuples only; its output.
    static func psql(_ url: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure(description: "psql: \(problem)") }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}

extension JobStore {
    /// What `detail` reports of a job's current step executions, by step key.
    func steps(of id: Int64) async throws -> [String: StepSummary] {
        Dictionary(uniqueKeysWithValues: try await detail(.id(id)).steps.map { ($0.id, $0) })
    }

    /// The event kinds of a job's history, oldest first.
    func eventKinds(of id: Int64) async throws -> [String] {
        try await detail(.id(id)).events.map(\.kind.rawValue)
    }
}

/// Whether `error` is the store's refusal of a write whose lease moved on.
func isLeaseLost(_ error: any Error) -> Bool {
    if case StoreError.leaseLost = error { true } else { false }
}
