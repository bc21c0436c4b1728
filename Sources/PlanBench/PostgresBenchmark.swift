import Foundation
import Logging
import PlanCore
import PlanPostgres
import PlanStore
import PlanWorker

/// `planq bench --db postgres://…`: planq on a PostgreSQL server against that server's own
/// simple-update rate (`pgbench -N`), measured in the same run, each figure on a fresh database
/// (created and dropped on the server).
public struct PostgresBenchmark: Sendable {
    public struct Configuration: Sendable {
        public var server: PostgresURL
        public var jobs: Int
        public var wakeups: Int
        /// The `planq` binary, for the figures with worker processes.
        public var binary: String
        public var only: Set<String>

        public init(server: PostgresURL, jobs: Int, wakeups: Int, binary: String, only: Set<String>) {
            self.server = server
            self.jobs = jobs
            self.wakeups = wakeups
            self.binary = binary
            self.only = only
        }
    }

    public static let keys = [
        "pgbench_simple_update_per_s", "enqueue_per_s", "enqueue_batch_per_s", "jobs_per_s_c1", "jobs_per_s_c16",
        "wakeup_p50_ms", "wakeup_p99_ms", "jobs_per_s_workers_1", "jobs_per_s_workers_2", "jobs_per_s_workers_4",
    ]

    let configuration: Configuration
    private let report: @Sendable (String) -> Void

    public init(_ configuration: Configuration, report: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        self.report = report
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    public func run() async throws -> [(key: String, value: Double)] {
        var figures: [(String, Double)] = []
        func add(_ key: String, _ value: Double) {
            let rounded = (value * 100).rounded() / 100
            figures.append((key, rounded))
            report("\(key) \(rounded)")
        }
        func wanted(_ key: String) -> Bool { configuration.only.isEmpty || configuration.only.contains(key) }
        let jobs = configuration.jobs
        if wanted("pgbench_simple_update_per_s") { add("pgbench_simple_update_per_s", try await fresh { try pgbench($0) }) }
        if wanted("enqueue_per_s") { add("enqueue_per_s", try await fresh { try await enqueueRate($0, batch: 1, total: jobs) }) }
        if wanted("enqueue_batch_per_s") { add("enqueue_batch_per_s", try await fresh { try await enqueueRate($0, batch: 1000, total: jobs * 10) }) }
        for concurrency in [1, 16] where wanted("jobs_per_s_c\(concurrency)") {
            add("jobs_per_s_c\(concurrency)", try await fresh { try await workerRate($0, concurrency: concurrency) })
        }
        if wanted("wakeup_p50_ms") || wanted("wakeup_p99_ms") {
            let (p50, p99) = try await fresh { try await wakeups($0) }
            add("wakeup_p50_ms", p50)
            add("wakeup_p99_ms", p99)
        }
        for processes in [1, 2, 4] where wanted("jobs_per_s_workers_\(processes)") {
            add("jobs_per_s_workers_\(processes)", try await fresh { try await processRate($0, processes: processes) })
        }
        return figures
    }

    /// Runs `body` on a new database, dropped afterwards.
    private func fresh<T>(_ body: (PostgresURL) async throws -> T) async throws -> T {
        let name = "planq_bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try await PostgresStore.createDatabase(String(name), on: configuration.server)
        let url = configuration.server.database(String(name))
        do {
            let result = try await body(url)
            try await PostgresStore.dropDatabase(String(name), on: configuration.server)
            return result
        } catch {
            try? await PostgresStore.dropDatabase(String(name), on: configuration.server)
            throw error
        }
    }

    /// pgbench's simple-update transactions per second: 16 clients, 1,000 transactions each, on a scale-1 database.
    private func pgbench(_ url: PostgresURL) throws -> Double {
        _ = try Self.run("pgbench", ["-i", "-q", "-s", "1", url.connectionString])
        let output = try Self.run("pgbench", ["-n", "-N", "-c", "16", "-j", "2", "-t", "1000", url.connectionString])
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let value = Double(line.dropFirst("tps = ".count).prefix { $0.isNumber || $0 == "." }) else {
            throw Failure(description: "pgbench printed no rate: \(output)")
        }
        return value
    }

    private func enqueueRate(_ url: PostgresURL, batch: Int, total: Int) async throws -> Double {
        let store = try await PostgresStore.connect(url, migrate: true)
        defer { Task { await store.close() } }
        let started = ContinuousClock.now
        try await Benchmark.enqueue(total, into: store, batch: batch, keyPrefix: "e")
        return Double(total) / (ContinuousClock.now - started).seconds
    }

    /// A database with `jobs` single-step jobs pending, and a store with the connections of a worker running `concurrency` jobs.
    private func filled(_ url: PostgresURL, concurrency: Int = 1) async throws -> PostgresStore {
        let store = try await PostgresStore.connect(url, migrate: true, connections: PostgresStore.workerConnections(concurrency: concurrency))
        try await Benchmark.enqueue(configuration.jobs, into: store, batch: 1000, keyPrefix: "j")
        return store
    }

    /// Jobs per second through an in-process worker until drained.
    private func workerRate(_ url: PostgresURL, concurrency: Int) async throws -> Double {
        let store = try await filled(url, concurrency: concurrency)
        defer { Task { await store.close() } }
        let worker = Worker(store: store, registry: Builtins.registry(allowExec: []),
                            configuration: WorkerConfiguration(concurrency: concurrency, drain: true), logger: Benchmark.quiet)
        let started = ContinuousClock.now
        try await worker.run()
        return Double(configuration.jobs) / (ContinuousClock.now - started).seconds
    }

    /// Jobs per second through `processes` worker processes (`planq worker --drain --concurrency 16`).
    private func processRate(_ url: PostgresURL, processes: Int) async throws -> Double {
        let store = try await filled(url)
        await store.close()
        let started = ContinuousClock.now
        let workers = try (0..<processes).map { _ in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: configuration.binary)
            process.arguments = ["worker", "--drain", "--concurrency", "16", "--db", url.connectionString]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        for worker in workers {
            while worker.isRunning { try await Task.sleep(for: .milliseconds(5)) }
            guard worker.terminationStatus == 0 else { throw Failure(description: "a worker exited \(worker.terminationStatus)") }
        }
        return Double(configuration.jobs) / (ContinuousClock.now - started).seconds
    }

    /// Enqueue by another connection → the first step's start, p50 and p99 in milliseconds.
    private func wakeups(_ url: PostgresURL) async throws -> (Double, Double) {
        let store = try await PostgresStore.connect(url, migrate: true)
        let producer = try await PostgresStore.connect(url, migrate: false)
        defer { Task { await store.close(); await producer.close() } }
        return try await Benchmark.wakeupLatencies(store: store, producer: producer, samples: configuration.wakeups)
    }

    /// Runs a program to its end (at most two minutes); its output, or a failure with its error
    /// output. Both go through files: a pipe would block a program that writes more than it holds.
    private static func run(_ program: String, _ arguments: [String]) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (out, err) = (folder.appendingPathComponent("out").path, folder.appendingPathComponent("err").path)
        for path in [out, err] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        try process.run()
        let deadline = ContinuousClock.now + .seconds(120)
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw Failure(description: "\(program) did not finish in two minutes")
        }
        let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        guard process.terminationStatus == 0 else { throw Failure(description: "\(program): \(read(err))") }
        return read(out)
    }
}
