import PlanCore
import Testing

@Suite struct BenchCommand {
    /// Not a timing test: the bench runs in a tiny configuration and reports every figure.
    @Test func runsSmallAndPrintsEveryKey() throws {
        let outcome = try Planq.run(["bench", "--history", "200", "--cycles", "20", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let figures = try JSONParser.parse(outcome.stdout).objectValue ?? [:]
        #expect(Set(figures.keys) == ["synchronous", "history_jobs", "claim_cycle_per_s_empty", "claim_cycle_per_s_history", "claim_history_ratio"])
        for key in ["claim_cycle_per_s_empty", "claim_cycle_per_s_history"] {
            if case .number(let value)? = figures[key] { #expect(value > 0) } else { Issue.record("\(key) is not a number") }
        }
    }
}
