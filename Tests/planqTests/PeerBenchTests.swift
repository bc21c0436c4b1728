import Foundation
import PlanCore
import Testing

/// `bench/peers/run` (what `make bench` runs) measures Huey beside planq, each at its defaults:
/// not a timing test — a tiny run, checked for both tools' figures and the ratios. Huey goes into a
/// virtual environment in the test's own folder.
@Suite struct PeerBench {
    @Test(.timeLimit(.minutes(5))) func printsBothToolsFiguresAndTheRatios() async throws {
        let workspace = Workspace()
        let outcome = try await Planq.run(
            ["PLANQ_PEER_VENV=\(workspace.path("venv"))", Planq.repository.appendingPathComponent("bench/peers/run").path,
             "--tasks", "200", "--samples", "5", "--json", "--planq", Planq.binary.path],
            program: URL(fileURLWithPath: "/usr/bin/env"))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try JSONParser.parse(outcome.stdout).objectValue ?? [:]
        let planq = report["planq"]?.objectValue ?? [:], huey = report["huey"]?.objectValue ?? [:]
        #expect(huey["huey_version"] == "3.5.4")
        for (tool, figures, keys) in [("planq", planq, ["enqueue_per_s", "jobs_per_s_c16", "cpu_us_per_job_c16", "wakeup_p50_ms",
                                                        "enqueue_process_ms", "sqlite3_insert_process_ms"]),
                                      ("huey", huey, ["enqueue_per_s", "tasks_per_s", "wakeup_p50_ms", "wakeup_p99_ms"])] {
            for key in keys {
                switch figures[JSONKey(key)] {
                case .number(let value)?: #expect(value > 0, "\(tool) \(key)")
                case .integer(let value)?: #expect(value > 0, "\(tool) \(key)")
                default: Issue.record("\(tool) \(key) is not a number")
                }
            }
        }
        #expect(report["ratios"]?.objectValue?.keys.map(\.text).sorted()
                == ["enqueue", "enqueue_process_over_sqlite3", "processing", "wakeup_p50_huey_over_planq"])
    }
}
