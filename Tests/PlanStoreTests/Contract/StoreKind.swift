import Foundation
import PlanCore
import PlanPostgres
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

    func database() throws -> any ContractDatabase {
        switch self {
        case .sqlite: TemporaryDatabase()
        case .postgres: try PostgresDatabase()
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

/// A new, empty database on the test server, dropped when released; `psql` reads and writes beside the store.
final class PostgresDatabase: ContractDatabase {
    struct NoServer: Error, CustomStringConvertible {
        var description: String { "PLANQ_TEST_POSTGRES is not set: run the tests with make test (or scripts/with-postgres swift test)" }
    }

    let server: String
    let url: String
    private let name = "planq_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)

    init() throws {
        guard let server = ProcessInfo.processInfo.environment["PLANQ_TEST_POSTGRES"] else { throw NoServer() }
        self.server = server
        url = String(server[..<server.lastIndex(of: "/")!]) + "/" + name
        _ = try Self.psql(server, "CREATE DATABASE \(name)")
    }

    deinit { _ = try? Self.psql(server, "DROP DATABASE \(name) WITH (FORCE)") }

    func open() async throws -> any JobStore { try await PostgresStore.connect(try PostgresURL(url), migrate: true) }

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
