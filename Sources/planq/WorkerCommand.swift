import ArgumentParser
import Foundation
import Logging
import PlanCore
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
    @Option(name: .customLong("allow-exec"), help: ArgumentHelp("Programs process.run may start: an absolute path or a glob; repeatable.", valueName: "path"))
    var allowExec: [String] = []
    @Flag(help: "Log debug lines too.")
    var verbose = false

    @OptionGroup var database: DatabaseOption

    func validate() throws {
        guard concurrency > 0 else { throw ValidationError("--concurrency must be above 0") }
        for text in [lease, grace] where PlanDuration(text) == nil { throw ValidationError("\"\(text)\" is not a duration such as 30s") }
        guard PlanDuration(lease)!.milliseconds >= 300 else { throw ValidationError("--lease must be at least 300ms") }
        _ = try parsedLimits()
        for pattern in allowExec where !pattern.hasPrefix("/") {
            throw ValidationError("--allow-exec \"\(pattern)\" must be an absolute path or glob, such as /usr/local/bin/*")
        }
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
            var handler = StderrLogHandler(label: label)
            handler.logLevel = verbose ? .debug : .info
            return handler
        }
        let logger = Logger(label: "planq.worker")
        let store = try database.open(create: true, groupCommit: true)
        let limits = try parsedLimits()
        let named = queues.map { $0.split(whereSeparator: { $0 == "," || $0 == ":" }).map(String.init) }
            ?? (limits.isEmpty ? nil : Array(limits.keys))
        let configuration = WorkerConfiguration(
            concurrency: concurrency, queueLimits: limits, queues: named, lease: PlanDuration(lease)!.duration,
            grace: PlanDuration(grace)!.duration, drain: drain)
        let worker = Worker(
            store: store, registry: Builtins.registry(allowExec: allowExec), configuration: configuration, logger: logger,
            notifier: SystemdNotifier(environment: ProcessInfo.processInfo.environment))
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Past the grace, handing leases back takes moments; past this, the worker cancels everything
        // and exits (systemd's TimeoutStopSec must be longer still).
        groupConfiguration.maximumGracefulShutdownDuration = configuration.grace + .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        try await group.run()
    }
}
