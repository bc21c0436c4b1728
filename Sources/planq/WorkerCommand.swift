import ArgumentParser
import Foundation
import Logging
import PlanCore
import PlanPostgres
import PlanStore
import PlanWorker
import ServiceLifecycle
import UnixSignals

/// Runs the worker daemon.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run the worker: claim due jobs, run their plans, record every step.",
        discussion: """
            Stops on SIGTERM or SIGINT: no new claims, running jobs get --grace to finish, the rest are \
            handed back (pending) before it exits 0. Sends READY=1, WATCHDOG=1, STATUS= and STOPPING=1 to \
            $NOTIFY_SOCKET when systemd runs it.
            """)

    @Option(help: "The most jobs running at once.")
    var concurrency = 4
    @Option(name: .customLong("queue"), help: ArgumentHelp("A queue and its limit of running jobs, NAME=LIMIT; repeatable.", valueName: "name=limit"))
    var queueLimits: [String] = []
    @Option(help: ArgumentHelp(
        "Only claim from these queues, separated by ',' or ':' (for systemd instance names); default: every queue, or those given with --queue.",
        valueName: "a,b"))
    var queues: String?
    @Option(help: "How long a claim holds a job; heartbeats renew it.")
    var lease = "30s"
    @Option(help: "On shutdown, how long running jobs may finish before they are handed back.")
    var grace = "10s"
    @Flag(help: "Exit 0 once no job is running, none is due, and none waits for a retry.")
    var drain = false
    @Flag(help: "Fire no schedules (by default every worker fires those due; a draining worker never does).")
    var noSchedules = false
    @Option(name: .customLong("allow-exec"), help: ArgumentHelp("Programs process.run may start: an absolute path or a glob; repeatable.", valueName: "path"))
    var allowExec: [String] = []
    @Option(name: .customLong("allow-env"), help: ArgumentHelp(
        "Names of a plan's env that process.run may pass to a program: a name or a glob; repeatable. Names that load code (LD_*, BASH_FUNC_*, BASH_ENV, ...) are never passed.",
        valueName: "name"))
    var allowEnv: [String] = []
    @Option(help: ArgumentHelp(
        "The most a step's resolved input, output or error details may hold, as JSON (a run's outputs together: four times it); a step over it fails, not retryable.",
        valueName: "size"))
    var maxValueSize = "16MiB"
    @Option(help: ArgumentHelp(
        "Serve Prometheus metrics at http://HOST:PORT/metrics (a port alone: on loopback; port 0: any free port, logged). Off by default.",
        valueName: "host:port"))
    var metrics: String?
    @Flag(help: "Log debug lines too.")
    var verbose = false
    @Option(help: ArgumentHelp("text (default): one line per event, with an RFC 3339 time unless stderr is the journal. json: one JSON object per line, for log shippers.",
                               valueName: "text|json"))
    var logFormat: StderrLogHandler.Format = .text

    @OptionGroup var database: DatabaseOption
    @OptionGroup var storage: StorageOptions

    func validate() throws {
        guard WorkerConfiguration.concurrencyRange.contains(concurrency) else {
            throw ValidationError("--concurrency \(concurrency) is out of range \(WorkerConfiguration.concurrencyRange.lowerBound)...\(WorkerConfiguration.concurrencyRange.upperBound)")
        }
        for text in [lease, grace] where PlanDuration(text) == nil { throw ValidationError("\"\(text)\" is not a duration such as 30s") }
        guard PlanDuration(lease)!.milliseconds >= 300 else { throw ValidationError("--lease must be at least 300ms") }
        _ = try parsedLimits()
        guard let bytes = Self.byteCount(maxValueSize), bytes >= 1024 else {
            throw ValidationError("--max-value-size \(maxValueSize.quoted) is not a size of at least 1KiB, such as 512KiB or 16MiB")
        }
        for pattern in allowExec {
            if let problem = Builtins.execPatternProblem(pattern) {
                throw ValidationError("--allow-exec \(pattern.quoted) \(problem), such as /usr/local/bin/*")
            }
        }
        if let metrics, MetricsAddress(metrics) == nil {
            throw ValidationError("--metrics \(metrics.quoted) is not HOST:PORT or a port, such as 127.0.0.1:9464")
        }
        for pattern in allowEnv where pattern.isEmpty || pattern.utf8.contains(UInt8(ascii: "=")) {
            throw ValidationError("--allow-env \(pattern.quoted) is not a variable name or glob, such as APP_*")
        }
    }

    /// `16MiB`, `512KiB`, `1GiB` or a number of bytes.
    static func byteCount(_ text: String) -> Int? {
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]
        let (digits, unit) = units.first(where: { text.hasSuffix($0.0) }).map { (text.dropLast($0.0.count), $0.1) } ?? (text[...], 1)
        guard let count = Int(digits), count >= 0, count <= (1 << 40) / unit else { return nil }
        return count * unit
    }

    func parsedLimits() throws -> [String: Int] {
        var limits: [String: Int] = [:]
        for entry in queueLimits {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let limit = Int(parts[1]), limit > 0, !parts[0].isEmpty else {
                throw ValidationError("--queue \"\(entry)\" is not NAME=LIMIT with a limit above 0")
            }
            limits[String(parts[0])] = limit
        }
        return limits
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StderrLogHandler(label: label, format: logFormat)
            handler.logLevel = verbose ? .debug : .info
            return handler
        }
        let logger = Logger(label: "planq.worker")
        let descriptors = DescriptorLimit.raised()
        logger.debug("descriptor limit", metadata: ["soft": "\(descriptors.soft)", "hard": "\(descriptors.hard)"])
        let export = metrics.map { _ in PrometheusExport() }
        let workerMetrics = export.map { WorkerMetrics(factory: $0.factory) }
        var commitObserver: (@Sendable (Int, Duration) -> Void)?
        if let workerMetrics { commitObserver = { workerMetrics.committed(operations: $0, after: $1) } }
        let leaseDuration = PlanDuration(lease)!.duration
        let limits = try parsedLimits()
        let named = queues.map { $0.split(whereSeparator: { $0 == "," || $0 == ":" }).map(String.init) }
            ?? (limits.isEmpty ? nil : Array(limits.keys))
        var configuration = WorkerConfiguration(
            concurrency: concurrency, queueLimits: limits, queues: named, lease: leaseDuration,
            grace: PlanDuration(grace)!.duration, drain: drain, valueLimits: ValueLimits(maxBytes: Self.byteCount(maxValueSize)!))
        let store = try await database.open(create: true, groupCommit: true, storage: storage, commitObserver: commitObserver,
                                            answerLimit: configuration.serverAnswerLimit,
                                            connections: PostgresStore.workerConnections(concurrency: configuration.concurrency), waitingForServer: logger)
        configuration.zones = noSchedules || drain ? nil : SystemZones.lookup
        configuration.metrics = workerMetrics
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let export, let metrics, let address = MetricsAddress(metrics) {
            // Listed first, so that it stops last: the metrics stay readable while the worker drains.
            let server: MetricsServer
            do {
                server = try await MetricsServer(address: address, export: export, store: store)
            } catch {
                Console.complain("cannot serve metrics on \(address): \(error)")
                throw ExitStatus.unavailable
            }
            logger.info("metrics served", metadata: ["address": "http://\(server.address)/metrics"])
            services.append(.init(service: server))
        }
        let worker = Worker(
            store: store, registry: Builtins.registry(allowExec: allowExec, allowEnv: allowEnv, environment: ProcessInfo.processInfo.environment), configuration: configuration, logger: logger,
            notifier: SystemdNotifier(environment: ProcessInfo.processInfo.environment))
        var groupConfiguration = ServiceGroupConfiguration(
            services: services + [.init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Past the grace, handing leases back takes moments; past this, the worker cancels everything
        // and exits (systemd's TimeoutStopSec must be longer still).
        groupConfiguration.maximumGracefulShutdownDuration = configuration.grace + .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        try await group.run()
    }
}

extension StderrLogHandler.Format: ExpressibleByArgument {}
