import Glibc
import Logging
import PlanCore
import PlanStore
import PlanWorker

/// `planq bench`: planq's throughput, latency and memory, each next to SQLite's own limit measured
/// in the same run with the same pragmas, on temporary databases in `folder`.
public struct Benchmark: Sendable {
    public struct Configuration: Sendable {
        public var folder: String
        public var durability: Durability
        /// Jobs per end-to-end run (and transactions per baseline and enqueue figure).
        public var jobs: Int
        public var wakeups: Int
        public var backlog: Int
        public var smallBacklog: Int
        public var history: Int
        /// Measure only the figures with these keys (and the baselines they are compared with); all when empty.
        public var only: Set<String>

        public init(folder: String, durability: Durability, jobs: Int = 10_000, wakeups: Int = 200, backlog: Int = 1_000_000,
                    smallBacklog: Int = 10_000, history: Int = 100_000, only: Set<String> = []) {
            self.folder = folder
            self.durability = durability
            self.jobs = jobs
            self.wakeups = wakeups
            self.backlog = backlog
            self.smallBacklog = smallBacklog
            self.history = history
            self.only = only
        }
    }

    public let configuration: Configuration
    private let report: @Sendable (String) -> Void

    public init(_ configuration: Configuration, report: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        self.report = report
    }

    /// Runs every measurement; the figures by their `--json` keys.
    public func run() async throws -> [(key: String, value: Double)] {
        var figures: [(String, Double)] = []
        func add(_ key: String, _ value: Double) {
            figures.append((key, value))
            report("\(key) \(value)")
        }
        // What earlier figures left in the page cache is written back first, so that it does not
        // compete with the next measurement's fsyncs.
        func measure<T>(_ body: () async throws -> T) async rethrows -> T {
            sync()
            return try await body()
        }
        let jobs = configuration.jobs
        let only = configuration.only
        func wanted(_ keys: String...) -> Bool { only.isEmpty || keys.contains(where: only.contains) }
        // First, while the process holds no memory of other measurements: the peak RSS is the worker's.
        if wanted("backlog_1m_vs_10k", "peak_rss_mib") {
            let small = try await measure { try await cycleRate(pending: configuration.smallBacklog, name: "backlog-small.db") }
            let (large, rss) = try await measure { try await backlog() }
            add("backlog_1m_vs_10k", large / small)
            add("peak_rss_mib", rss)
            // Gone before the next measurements, so that the kernel does not write them back meanwhile.
            for name in ["backlog-small.db", "backlog-large.db"] { removeDatabase(name) }
        }
        let row = Self.plan(key: "row", steps: 1).canonicalText
        let baseline = SQLiteBaseline(path: path("baseline.db"), durability: configuration.durability)
        if wanted("baseline_insert_per_s", "enqueue_per_s", "enqueue_batch_per_s") {
            add("baseline_insert_per_s", try await measure { try baseline.insertsPerSecond(count: jobs, row: row) })
        }
        if wanted("baseline_cycle_per_s", "jobs_per_s_c1", "jobs_per_s_c16", "cpu_us_per_job_c16", "floor_jobs_per_s_c16", "steps_per_s_5step") {
            add("baseline_cycle_per_s", try await measure { try baseline.cyclesPerSecond(count: jobs, row: row) })
        }
        if wanted("enqueue_per_s") { add("enqueue_per_s", try await measure { try await enqueueRate(batch: 1, total: jobs) }) }
        if wanted("enqueue_batch_per_s") { add("enqueue_batch_per_s", try await measure { try await enqueueRate(batch: 1000, total: max(jobs * 10, 1000)) }) }
        if wanted("jobs_per_s_c1") { add("jobs_per_s_c1", try await measure { try await workerRate(jobs: jobs, steps: 1, concurrency: 1) }.perSecond) }
        if wanted("jobs_per_s_c16", "cpu_us_per_job_c16", "jobs_per_s_c16_rate_limited", "jobs_per_s_c16_schedules_100") {
            let (rate, cpu) = try await measure { try await workerRate(jobs: jobs, steps: 1, concurrency: 16) }
            add("jobs_per_s_c16", rate)
            add("cpu_us_per_job_c16", cpu)
        }
        // The same worker with an active rate limit, and with a hundred schedules: what each costs it.
        if wanted("jobs_per_s_c16_rate_limited") {
            add("jobs_per_s_c16_rate_limited", try await measure { try await workerRate(jobs: jobs, steps: 1, concurrency: 16, load: .rateLimit) }.perSecond)
        }
        if wanted("jobs_per_s_c16_schedules_100") {
            add("jobs_per_s_c16_schedules_100", try await measure { try await workerRate(jobs: jobs, steps: 1, concurrency: 16, load: .schedules(100)) }.perSecond)
        }
        if wanted("floor_jobs_per_s_c16") { add("floor_jobs_per_s_c16", try await measure { try await floorRate(jobs: jobs, batch: 16) }) }
        if wanted("steps_per_s_5step") {
            add("steps_per_s_5step", try await measure { try await workerRate(jobs: max(1, jobs / 5), steps: 5, concurrency: 16).perSecond * 5 })
        }
        if wanted("wakeup_p50_ms", "wakeup_p99_ms") {
            let (p50, p99) = try await measure { try await wakeups() }
            add("wakeup_p50_ms", p50)
            add("wakeup_p99_ms", p99)
        }
        if wanted("history_100k_vs_0") {
            let history = try await measure {
                try await ClaimHistoryBenchmark(folder: configuration.folder, history: configuration.history, cycles: jobs,
                                                durability: configuration.durability).run()
            }
            add("history_100k_vs_0", history.ratio)
        }
        return figures
    }

    private func path(_ name: String) -> String { "\(configuration.folder)/\(name)" }

    private func removeDatabase(_ name: String) {
        for suffix in ["", "-wal", "-shm"] { unlink(path(name) + suffix) }
    }

    /// A new database; `groupCommit` as the worker opens it.
    private func freshStore(_ name: String, groupCommit: Bool = false) throws -> SQLiteStore {
        removeDatabase(name)
        return try SQLiteStore(StoreOptions(path: path(name), create: true, durability: configuration.durability, groupCommit: groupCommit))
    }

    static func plan(key: String, steps: Int, call: String = "echo") -> PlanDescription {
        let list = (0..<steps).map { #"{"id":"s\#($0)","call":"\#(call)","input":{"n":\#($0),"text":"hello"}}"# }.joined(separator: ",")
        let text = #"{"version":1,"idempotency_key":"\#(key)","input":{"user":42},"steps":[\#(list)]}"#
        return try! PlanDescription.decode(Array(text.utf8), newKey: { key })
    }

    /// Plans through the store API, `batch` per transaction, per second.
    private func enqueueRate(batch: Int, total: Int) async throws -> Double {
        let store = try freshStore("enqueue-\(batch).db")
        let started = ContinuousClock.now
        try await Self.enqueue(total, into: store, batch: batch, keyPrefix: "e")
        return Double(total) / (ContinuousClock.now - started).seconds
    }

    private func fill(_ store: some JobStore, count: Int, steps: Int, call: String = "echo") async throws {
        try await Self.enqueue(count, into: store, batch: 1000, keyPrefix: "j", steps: steps, call: call)
    }

    /// Enqueues `count` copies of the bench plan keyed `keyPrefix0`, `keyPrefix1`, ..., `batch` per transaction.
    static func enqueue(_ count: Int, into store: some JobStore, batch: Int, keyPrefix: String, steps: Int = 1, call: String = "echo") async throws {
        let template = plan(key: "x", steps: steps, call: call)
        var next = 0
        while next < count {
            let plans = (next..<min(count, next + batch)).map { index -> PlanDescription in
                var plan = template
                plan.idempotencyKey = keyPrefix + String(index)
                return plan
            }
            _ = try await store.enqueue(plans)
            next += plans.count
        }
    }

    static let quiet: Logger = {
        var logger = Logger(label: "planq.bench", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return logger
    }()

    /// What else the worker of `workerRate` has to do.
    enum Load {
        case none
        /// The queue has a rate limit it never reaches (a million a minute): every claim counts its window.
        case rateLimit
        /// The worker fires schedules, and this many exist, none due during the run.
        case schedules(Int)
    }

    /// Jobs per second through an in-process worker with full journaling and events, until drained,
    /// and the process's CPU time (user and system, every thread) per job meanwhile, in µs.
    private func workerRate(jobs: Int, steps: Int, concurrency: Int, load: Load = .none) async throws
        -> (perSecond: Double, cpuMicrosecondsPerJob: Double)
    {
        let store = try freshStore("e2e-\(steps)-\(concurrency).db", groupCommit: true)
        try await fill(store, count: jobs, steps: steps)
        var configuration = WorkerConfiguration(concurrency: concurrency, drain: true)
        switch load {
        case .none: break
        case .rateLimit:
            try await store.setRate(QueueRate(limit: 1_000_000, period: PlanDuration(milliseconds: 60_000)), queue: "default")
        case .schedules(let count):
            // Every 30 days in UTC: due at the earliest at the next boundary, long after the run.
            let calendar = CalendarSchedule.every(PlanDuration(milliseconds: 30 * 86_400_000))
            let now = Timestamp.now()
            for index in 0..<count {
                let schedule = Schedule(name: "s\(index)", calendar: calendar, plan: Self.plan(key: "s\(index)", steps: 1),
                                        nextFireAt: calendar.nextFire(after: now, in: FixedOffset()))
                try await store.saveSchedule(schedule, replace: false, now: now)
            }
            configuration.zones = { _ in FixedOffset() }
        }
        let worker = Worker(store: store, registry: Builtins.registry(allowExec: []), configuration: configuration, logger: Self.quiet)
        let clock = ContinuousClock()
        let started = clock.now
        let cpuBefore = Self.processCPU()
        try await worker.run()
        let cpu = Self.processCPU() - cpuBefore
        return (Double(jobs) / (clock.now - started).seconds, (cpu.seconds * 1e6 / Double(jobs) * 10).rounded() / 10)
    }

    /// The process's CPU time so far, user and system, every thread.
    static func processCPU() -> Duration {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func duration(_ time: timeval) -> Duration { .seconds(Int64(time.tv_sec)) + .microseconds(Int64(time.tv_usec)) }
        return duration(usage.ru_utime) + duration(usage.ru_stime)
    }

    /// The store's own limit for single-step jobs, `batch` at a time: claimed with their steps begun
    /// in one transaction (as the worker claims), the steps' results recorded with the jobs' ends in
    /// a second (the order of commits allows no fewer: a step's start before its call), by one
    /// thread through the store API with no worker — the most a worker at concurrency `batch` could
    /// reach.
    private func floorRate(jobs: Int, batch: Int) async throws -> Double {
        let store = try freshStore("floor.db")
        try await fill(store, count: jobs, steps: 1)
        let owner = LeaseOwner.current()
        let output: JSONValue = ["n": 0, "text": "hello"]
        let clock = ContinuousClock()
        let started = clock.now
        var done = 0
        while done < jobs {
            let request = ClaimRequest(owner: owner, duration: .seconds(60), beginFirstSteps: true) { _ in [("default", batch)] }
            let claimed = try await store.claim(request).leases
            guard !claimed.isEmpty else { throw StoreError.jobNotFound("a pending bench job") }
            // Sixteen runs' writes in one transaction, as group commit packs them.
            try await store.commitRuns(claimed.map { lease in
                (lease.id, [.stepFinished("s0", attempt: 1, outcome: .success(output), at: .now()), .finished(.succeeded(output), at: .now())])
            })
            done += claimed.count
        }
        return Double(done) / (clock.now - started).seconds
    }

    /// Enqueue by another connection → the first step's start, p50 and p99 in milliseconds, the worker idle in between.
    private func wakeups() async throws -> (Double, Double) {
        let store = try freshStore("wakeup.db", groupCommit: true)
        let producer = try SQLiteStore(StoreOptions(path: path("wakeup.db"), create: false, durability: configuration.durability))
        return try await Self.wakeupLatencies(store: store, producer: producer, samples: configuration.wakeups)
    }

    /// A worker on `store`, idle between jobs that `producer` enqueues one at a time: from each
    /// enqueue to its first step's start, p50 and p99 in milliseconds.
    static func wakeupLatencies(store: any JobStore, producer: any JobStore, samples: Int) async throws -> (Double, Double) {
        let arrivals = Locked<[String: ContinuousClock.Instant]>([:])
        var registry = Builtins.registry(allowExec: [])
        registry.register(Capability("bench.mark") { _, context in
            arrivals.withLock { $0[context.idempotencyKey] = .now }
            return .success(.null)
        })
        let worker = Worker(store: store, registry: registry, configuration: WorkerConfiguration(concurrency: 4), logger: Self.quiet)
        let running = Task { try await worker.run() }
        try await Task.sleep(for: .milliseconds(500))
        var latencies: [Double] = []
        let template = Self.plan(key: "x", steps: 1, call: "bench.mark")
        for index in 0..<samples {
            var plan = template
            plan.idempotencyKey = "w\(index)"
            try await Task.sleep(for: .milliseconds(20))
            let sent = ContinuousClock.now
            _ = try await producer.enqueue([plan])
            let key = "w\(index)/s0"
            let deadline = sent + .seconds(5)
            while arrivals.withLock({ $0[key] }) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .microseconds(200)) }
            latencies.append(((arrivals.withLock { $0[key] } ?? deadline) - sent).seconds * 1000)
        }
        running.cancel()
        _ = try? await running.value
        latencies.sort()
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)] }
        return ((percentile(0.5) * 100).rounded() / 100, (percentile(0.99) * 100).rounded() / 100)
    }

    /// Claim+finish cycles per second through the store, with `pending` jobs waiting.
    private func cycleRate(pending: Int, name: String) async throws -> Double {
        let store = try freshStore(name)
        try await fill(store, count: pending, steps: 1)
        return try await claimFinishCyclesPerSecond(store, count: min(configuration.jobs, pending))
    }

    /// The cycle rate with the large backlog, and the peak RSS (MiB) of a worker running on it for a while.
    private func backlog() async throws -> (Double, Double) {
        let store = try freshStore("backlog-large.db")
        try await fill(store, count: configuration.backlog, steps: 1)
        let rate = try await claimFinishCyclesPerSecond(store, count: min(configuration.jobs, configuration.backlog))
        Self.resetPeakRSS()
        let worker = Worker(store: store, registry: Builtins.registry(allowExec: []),
                            configuration: WorkerConfiguration(concurrency: 16), logger: Self.quiet)
        let running = Task { try await worker.run() }
        try await Task.sleep(for: .seconds(3))
        running.cancel()
        _ = try? await running.value
        return (rate, Self.peakRSSMiB())
    }

    static func resetPeakRSS() {
        guard let file = fopen("/proc/self/clear_refs", "w") else { return }
        fputs("5", file)
        fclose(file)
    }

    static func peakRSSMiB() -> Double {
        guard let file = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmHWM:") {
                let kib = Double(text.split(separator: " ").dropFirst().first.map(String.init) ?? "0") ?? 0
                return (kib / 1024 * 10).rounded() / 10
            }
        }
        return 0
    }
}
