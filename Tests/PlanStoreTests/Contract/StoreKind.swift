import PlanCore
@testable import PlanStore
import Testing

/// The stores the contract suite runs against. Each test gets a fresh, empty database of the kind;
/// a new store proves itself by being added here and passing every contract test.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite

    var testDescription: String { rawValue }

    func database() throws -> any ContractDatabase {
        switch self {
        case .sqlite: TemporaryDatabase()
        }
    }
}

/// A fresh database of one kind, as the contract tests see it.
protocol ContractDatabase: AnyObject {
    /// A store on the database; each call opens another connection, as another process would.
    func open() throws -> any JobStore
    /// The first column of the first row of `sql`, as text, read beside the store as an
    /// operator's shell would (portable SQL: no SQLite- or PostgreSQL-only functions).
    func scalar(_ sql: String) -> String?
    /// Runs `sql` beside the store, as an operator would.
    func execute(_ sql: String)
}

extension TemporaryDatabase: ContractDatabase {
    func open() throws -> any JobStore { try open(groupWritable: false) }
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
