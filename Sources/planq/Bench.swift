import ArgumentParser
import Foundation
import PlanCore
import PlanStore
import PlanBench
import PlanPostgres

/// Measures planq on this machine against SQLite's own limit.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure planq against SQLite's own limit, in one run, on temporary databases with production's pragmas.",
        discussion: """
            Figures: baseline_insert_per_s and baseline_cycle_per_s (raw SQLite: a job-sized INSERT per transaction; \
            a claim transaction plus a finish transaction), enqueue_per_s (one plan per transaction), enqueue_batch_per_s \
            (1,000 per transaction), jobs_per_s_c1 and jobs_per_s_c16 (single-step echo jobs through an in-process worker), \
            cpu_us_per_job_c16 (the process's user and system CPU time per job while it ran those at c16), \
            jobs_per_s_c16_rate_limited (the same with a rate limit on the queue that every claim counts and none reaches), \
            jobs_per_s_c16_schedules_100 (the same with the worker firing schedules and 100 of them, none due), \
            floor_jobs_per_s_c16 (the same jobs' writes, sixteen at a time in two transactions, one thread, no worker), \
            steps_per_s_5step, wakeup_p50_ms and wakeup_p99_ms (enqueue by another connection to the first step's start), \
            backlog_1m_vs_10k (claim+finish rate with --backlog pending jobs over the rate with 10,000), peak_rss_mib \
            (a worker running on that backlog), history_100k_vs_0 (claim+finish rate with 100,000 finished jobs over none).
            """)

    @Option(help: "full (production default) or normal.")
    var synchronous: Durability = .full
    @Option(help: "Jobs (and transactions) per figure.")
    var jobs = 10_000
    @Option(help: "Pending jobs in the large backlog.")
    var backlog = 1_000_000
    @Option(help: "Enqueue-to-start samples.")
    var wakeups = 200
    @Option(help: "Finished jobs in the history figure.")
    var history = 100_000
    @Option(help: "Measure only these figures (comma-separated keys) and the baselines they are compared with.")
    var only: String?
    @Option(name: .customLong("db"), help: ArgumentHelp(
        "A PostgreSQL server to measure instead (postgres://USER@HOST:PORT/DATABASE; fresh databases are created and dropped on it): pgbench_simple_update_per_s (pgbench -N, 16 clients, 1,000 transactions each), enqueue_per_s, enqueue_batch_per_s, jobs_per_s_c1, jobs_per_s_c16, wakeup_p50_ms, wakeup_p99_ms, jobs_per_s_workers_1, _2 and _4 (worker processes at concurrency 16).",
        valueName: "url"))
    var db: String?
    @OptionGroup var output: OutputOption

    static let keys = [
        "baseline_insert_per_s", "baseline_cycle_per_s", "enqueue_per_s", "enqueue_batch_per_s", "jobs_per_s_c1", "jobs_per_s_c16",
        "cpu_us_per_job_c16", "jobs_per_s_c16_rate_limited", "jobs_per_s_c16_schedules_100", "floor_jobs_per_s_c16", "steps_per_s_5step", "wakeup_p50_ms", "wakeup_p99_ms", "backlog_1m_vs_10k", "peak_rss_mib", "history_100k_vs_0",
    ]

    private var onlyKeys: Set<String> { Set((only ?? "").split(separator: ",").map { String($0) }) }

    func validate() throws {
        guard jobs >= 10, backlog >= 10, wakeups >= 1, history >= 0 else {
            throw ValidationError("--jobs and --backlog must be at least 10, --wakeups at least 1")
        }
        let known = db == nil ? Self.keys : PostgresBenchmark.keys
        if let unknown = onlyKeys.subtracting(known).sorted().first {
            throw ValidationError("--only: unknown figure '\(unknown)'; figures: \(known.joined(separator: ", "))")
        }
        if let db {
            guard PostgresURL.isPostgres(db) else { throw ValidationError("--db measures a PostgreSQL server: postgres://USER@HOST:PORT/DATABASE") }
            do { _ = try PostgresURL(db) } catch { throw ValidationError("--db: \(error)") }
        }
    }

    func run() async throws {
        let figures: [(key: String, value: Double)]
        let setting: (name: String, value: String)
        let ratios: [String: String]
        let report: @Sendable (String) -> Void = { [json = output.json] line in
            if !json { FileHandle.standardError.write(Data("measured \(line)\n".utf8)) }
        }
        if let db {
            let benchmark = PostgresBenchmark(
                .init(server: try PostgresURL(db).withPassword(), jobs: jobs, wakeups: wakeups,
                      binary: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, only: onlyKeys),
                report: report)
            figures = try await Console.run { () async throws -> [(key: String, value: Double)] in try await benchmark.run() }
            setting = ("database", "postgresql")
            ratios = [
                "jobs_per_s_c16": "pgbench_simple_update_per_s", "jobs_per_s_workers_1": "pgbench_simple_update_per_s",
                "jobs_per_s_workers_2": "jobs_per_s_workers_1", "jobs_per_s_workers_4": "jobs_per_s_workers_1",
            ]
        } else {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let benchmark = Benchmark(
                .init(folder: folder.path, durability: synchronous, jobs: jobs, wakeups: wakeups, backlog: backlog,
                      smallBacklog: min(10_000, backlog), history: history, only: onlyKeys),
                report: report)
            figures = try await Console.run { () async throws -> [(key: String, value: Double)] in try await benchmark.run() }
            setting = ("synchronous", synchronous.rawValue)
            ratios = [
                "enqueue_per_s": "baseline_insert_per_s", "enqueue_batch_per_s": "baseline_insert_per_s",
                "jobs_per_s_c1": "baseline_cycle_per_s", "jobs_per_s_c16": "baseline_cycle_per_s",
                "floor_jobs_per_s_c16": "baseline_cycle_per_s", "steps_per_s_5step": "baseline_cycle_per_s",
                "jobs_per_s_c16_rate_limited": "jobs_per_s_c16", "jobs_per_s_c16_schedules_100": "jobs_per_s_c16",
            ]
        }
        if output.json {
            var members: [JSONKey: JSONValue] = [JSONKey(setting.name): .string(setting.value)]
            for (key, value) in figures { members[JSONKey(key)] = .number((value * 1000).rounded() / 1000) }
            Console.printJSON(.object(members))
            return
        }
        let values = Dictionary(uniqueKeysWithValues: figures.map { ($0.key, $0.value) })
        print(Table.render(header: ["FIGURE", "VALUE", "RATIO"], rows: [[setting.name, setting.value, ""]] + figures.map { figure in
            let ratio = ratios[figure.key].flatMap { values[$0] }.map { String(format: "%.2f × %@", figure.value / $0, ratios[figure.key]!) } ?? ""
            return [figure.key, String(format: figure.value >= 100 ? "%.0f" : "%.2f", figure.value), ratio]
        }))
    }
}
