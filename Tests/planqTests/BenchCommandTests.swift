import PlanCore
import Testing

@Suite struct BenchCommand {
    static let keys: Set = [
        "baseline_insert_per_s", "baseline_cycle_per_s", "enqueue_per_s", "enqueue_batch_per_s", "jobs_per_s_c1", "jobs_per_s_c16", "cpu_us_per_job_c16",
        "jobs_per_s_c16_rate_limited", "jobs_per_s_c16_schedules_100",
        "floor_jobs_per_s_c16", "steps_per_s_5step", "wakeup_p50_ms", "wakeup_p99_ms", "backlog_1m_vs_10k", "peak_rss_mib",
        "history_100k_vs_0",
    ]

    /// Not a timing test: the bench runs in a tiny configuration and reports every figure as a number.
    @Test func runsSmallAndPrintsEveryKey() throws {
        let outcome = try Planq.run(["bench", "--jobs", "20", "--backlog", "50", "--wakeups", "3", "--history", "100", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let figures = try JSONParser.parse(outcome.stdout).objectValue ?? [:]
        #expect(Set(figures.keys.map(\.text)) == Self.keys.union(["synchronous"]))
        #expect(figures["synchronous"] == "full")
        for key in Self.keys {
            if case .number(let value)? = figures[JSONKey(key)] { #expect(value > 0, "\(key)") } else { Issue.record("\(key) is not a number") }
        }
    }
}
