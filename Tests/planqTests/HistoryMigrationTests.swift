import Foundation
import Testing

/// A step's start and end were once written twice, as `step_results` columns and as `job_events`
/// rows; now `job_history` reads them from `step_results`. A database made by that planq
/// (`Fixtures/history-schema-3.sql`, a `sqlite3 .dump`: the samples run to their ends, a failed job retried and failed
/// again, a run handed back on SIGTERM, a worker killed mid-step and its job recovered, a cancel
/// before the start) reads the same after the migration.
@Suite struct HistoryMigration {
    /// What operators read: every event with its id, each job's history, the views and the step rows.
    static let queries = [
        "SELECT job_id, idempotency_key, event_id, at, kind, detail FROM job_history ORDER BY event_id",
        "SELECT at, kind, detail FROM job_history WHERE idempotency_key = 'example/flaky-upstream' ORDER BY event_id",
        "SELECT kind, count(*) FROM job_history GROUP BY kind ORDER BY kind",
        "SELECT * FROM job_overview ORDER BY id",
        "SELECT id, job_id, step_id, attempt, outcome, output, error, started_at, finished_at, superseded FROM step_results ORDER BY id",
    ]

    /// The fixture database, made from its `sqlite3 .dump`.
    func fixture() throws -> Workspace {
        let workspace = Workspace()
        let dump = try String(contentsOf: Planq.repository.appendingPathComponent("Tests/planqTests/Fixtures/history-schema-3.sql"), encoding: .utf8)
        #expect(try workspace.sqlite3(dump) == "")
        return workspace
    }

    @Test func operatorQueriesReadTheSameRowsAfterTheMigration() throws {
        let workspace = try fixture()
        let before = try Self.queries.map { try workspace.sqlite3($0) }
        #expect(before[0].split(separator: "\n").count == 85)
        #expect(before[2].contains("step_started|26") && before[2].contains("step_failed|7") && before[2].contains("step_succeeded|18"))

        let migrated = try workspace.planq("migrate")
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("0004_step_history_from_step_results.sql"))
        for (query, old) in zip(Self.queries, before) {
            #expect(try workspace.sqlite3(query) == old, "\(query)")
        }
        // Every step event now comes from its step_results row.
        #expect(try workspace.sqlite3("SELECT count(*) FROM job_events WHERE kind LIKE 'step%'") == "0\n")
        #expect(try workspace.sqlite3("SELECT count(*) FROM job_events") == "34\n")
        let show = try workspace.planq("show", "--json", "--key", "example/flaky-upstream")
        #expect(show.status == 0)
        #expect(show.stdout.components(separatedBy: "\"kind\":\"step_failed\"").count - 1 == 6)
    }

    @Test func historyWrittenAfterTheMigrationFollowsTheOldInOrder() throws {
        let workspace = try fixture()
        #expect(try workspace.planq("migrate").status == 0)
        let oldLast = try workspace.sqlite3("SELECT max(event_id) FROM job_history")
        #expect(try workspace.planq("retry", "--key", "example/flaky-upstream").status == 0)
        let worker = try workspace.planq("worker", "--drain")
        #expect(worker.status == 0, "\(worker.stderr)")

        // Event ids stay unique across job_events and step_results, and new events come after the old.
        #expect(try workspace.sqlite3("SELECT count(*) = count(DISTINCT event_id) FROM job_history") == "1\n")
        let kinds = try workspace.sqlite3(
            "SELECT kind FROM job_history WHERE idempotency_key = 'example/flaky-upstream' AND event_id > \(oldLast.trimmingCharacters(in: .whitespacesAndNewlines)) ORDER BY event_id")
        #expect(kinds.split(separator: "\n") == [
            "retried", "claimed", "step_started", "step_failed", "retry_scheduled",
            "claimed", "step_started", "step_failed", "retry_scheduled",
            "claimed", "step_started", "step_failed", "failed",
        ])
    }
}
