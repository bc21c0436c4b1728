import Logging
import PlanCore
import PlanStore
import ServiceLifecycle
import Synchronization

/// The worker daemon as a `Service`: claims due jobs into free slots, runs each plan against the
/// registry, records every step, heartbeats leases, recovers other workers' expired or dead leases,
/// and on graceful shutdown stops claiming, lets running jobs finish for `grace`, then hands the
/// rest back. `run()` returns when shut down (or, with `drain`, when no work is left).
public final class Worker: Service {
    private let store: JobStore
    private let registry: CapabilityRegistry
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let owner = LeaseOwner.current()
    private let doorbell = Doorbell()
    private let running = Locked<[Int64: RunningJob]>([:])
    private let stopping = Atomic<Bool>(false)
    private let allocator = Locked(SlotAllocator())
    private let health = Locked(StoreHealth())

    private struct RunningJob {
        let token: Int64
        let queue: String
        let stop: StopSignal
        var lastBeat: ContinuousClock.Instant
    }

    public init(store: JobStore, registry: CapabilityRegistry, configuration: WorkerConfiguration, logger: Logger,
                notifier: SystemdNotifier = SystemdNotifier(environment: [:])) {
        self.store = store
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.notifier = notifier
    }

    public func run() async throws {
        // A database at fault (held locked by a stopped process, full, ...) is waited out, not fatal.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            guard let pause = try registerCapabilities() else { break }
            try? await Task.sleep(for: pause)
        }
        if Task.isShuttingDownGracefully || Task.isCancelled { return }
        let watcher = DatabaseWatcher(databasePath: store.path, doorbell: doorbell)
        notifier.notify("READY=1\nSTATUS=claiming")
        logger.info("worker ready", metadata: [
            "worker": "\(owner.label)", "concurrency": "\(configuration.concurrency)",
            "capabilities": "\(registry.names.joined(separator: ","))", "wakeups": "\(watcher == nil ? "polling" : "inotify")",
        ])
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                await claimLoop(group: &group, watcher: watcher)
                await shutDown()
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
            self.doorbell.ring()
        }
        withExtendedLifetime(watcher) {}
        logger.info("worker stopped")
    }

    /// Records this worker's capabilities; `nil` when done, the backoff when the store is at fault.
    private func registerCapabilities() throws(StoreError) -> Duration? {
        do {
            try store.registerCapabilities(registry.names, worker: owner.label)
        } catch {
            guard error.isFault else { throw error }
            return storeFailed(error, doing: "register capabilities")
        }
        storeWorked()
        return nil
    }

    private var isStopping: Bool { stopping.load(ordering: .relaxed) || Task.isCancelled }

    private func claimLoop(group: inout DiscardingTaskGroup, watcher: DatabaseWatcher?) async {
        let clock = ContinuousClock()
        var nextRunAt: Timestamp?  // as of the last claim
        var lastRecovery = clock.now - .seconds(3600)
        var lastCancelCheck = clock.now
        var lastWatchdog = clock.now
        var lastRing = clock.now
        notifier.notify("WATCHDOG=1")
        while !isStopping {
            let now = clock.now
            if let interval = notifier.watchdogInterval, now - lastWatchdog >= interval / 2 {
                notifier.notify("WATCHDOG=1")
                sendStatus()
                lastWatchdog = now
            }
            // The loop turns on every job's end, and on commits: cancel requests are looked up at most
            // every 200 ms, well inside the 2 s promise, and at once after a commit that woke a full
            // worker (its throttled watcher rings at most every 200 ms: it may be a `planq cancel`).
            let changedWhileFull = watcher?.takeThrottledChange() == true
            let checkCancels = changedWhileFull || now - lastCancelCheck >= .milliseconds(200)
            if checkCancels { lastCancelCheck = now }
            await maintainRunningJobs(now: now, checkCancels: checkCancels)
            // After its own heartbeats: a worker that was paused past its leases renews those nobody
            // took, instead of expiring them itself and running their steps in flight again.
            if now - lastRecovery >= min(configuration.lease / 2, .seconds(5)) {
                recoverLeases()
                lastRecovery = now
            }
            // No free slot: no claim, and no scheduled job to wake for (a job ending rings the doorbell).
            let batch: ClaimBatch?
            switch await claim() {
            case .success(let claimed): batch = claimed
            case .failure(let error):
                // Never so long that running jobs miss a heartbeat.
                let until = clock.now + min(storeFailed(error, doing: "claim"), configuration.lease / 6)
                while !isStopping && clock.now < until { await doorbell.wait(upTo: until - clock.now, clock: clock) }
                continue
            }
            storeWorked()
            let claimed = batch?.jobs ?? []
            nextRunAt = batch?.nextRunAt
            for job in claimed { start(job, in: &group) }
            if configuration.drain, running.withLock({ $0.isEmpty }), !((try? store.hasOutstandingWork(queues: configuration.queues)) ?? true) {
                logger.info("worker drained")
                return
            }
            if !claimed.isEmpty { continue }
            // With no free slot, a job's end is what matters: other commits wake the loop only now
            // and then (for cancel requests), not on every one of the worker's own.
            let slotFree = running.withLock { $0.count } < configuration.concurrency
            watcher?.throttle(!slotFree)
            var wait = waitTime(clock: clock, lastWatchdog: lastWatchdog, nextRunAt: nextRunAt)
            // inotify sees a commit's WAL write, but the commit becomes visible a moment later (the
            // shared-memory index has no file events): look again briefly after every change.
            if slotFree && clock.now - lastRing < .milliseconds(250) { wait = min(wait, .milliseconds(3)) }
            if await doorbell.wait(upTo: wait, clock: clock) { lastRing = clock.now }
        }
    }

    /// The longest the loop may sleep: until the next scheduled job (as of the last claim), heartbeat
    /// or watchdog, at most `idleWake`.
    private func waitTime(clock: ContinuousClock, lastWatchdog: ContinuousClock.Instant, nextRunAt: Timestamp?) -> Duration {
        var wait = configuration.idleWake
        if let interval = notifier.watchdogInterval { wait = min(wait, interval / 2 - (clock.now - lastWatchdog)) }
        if !running.withLock({ $0.isEmpty }) { wait = min(wait, configuration.lease / 6) }
        if let next = nextRunAt {
            wait = min(wait, .milliseconds(next.millisecondsSinceEpoch - Timestamp.now().millisecondsSinceEpoch + 1))
        }
        return max(wait, .milliseconds(1))
    }

    /// Records a store fault (logged once per change, shown in `STATUS=`); the backoff before trying again.
    private func storeFailed(_ error: StoreError, doing what: String) -> Duration {
        let pause = health.withLock { $0.failed(error, doing: what, logger: logger) }
        sendStatus()
        return pause
    }

    /// Records a store write that worked: the end of a fault, if one was on.
    private func storeWorked() {
        let recovered = health.withLock { health in
            guard !health.isHealthy else { return false }
            health.succeeded(logger: logger)
            return true
        }
        if recovered { sendStatus() }
    }

    /// Claims into the free slots, shared out among the queues with due work; `nil` when no slot is free.
    private func claim() async -> Result<ClaimBatch?, StoreError> {
        let counts = running.withLock { jobs in Dictionary(jobs.values.map { ($0.queue, 1) }, uniquingKeysWith: +) }
        let free = configuration.concurrency - counts.values.reduce(0, +)
        guard free > 0 else { return .success(nil) }
        let configuration = configuration
        do {
            return .success(try await store.claim(owner: owner, lease: configuration.lease, queues: configuration.queues, beginFirstSteps: true) { due in
                let capacity = Dictionary(uniqueKeysWithValues: due.map { ($0, configuration.limit(of: $0) - (counts[$0] ?? 0)) })
                let grants = self.allocator.withLock { $0.allocate(free: free, capacity: capacity, weight: configuration.limit(of:)) }
                return grants.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            })
        } catch {
            return .failure(error)
        }
    }

    private func start(_ job: ClaimedJob, in group: inout DiscardingTaskGroup) {
        let stop = StopSignal()
        running.withLock { $0[job.id] = RunningJob(token: job.token, queue: job.queue, stop: stop, lastBeat: .now) }
        let runner = JobRunner(store: store, registry: registry, logger: logger, random: systemUnitRandom,
                               limits: configuration.valueLimits, lease: configuration.lease) { [self] error in
            if let error { _ = storeFailed(error, doing: "record a step or a run") } else { storeWorked() }
        }
        group.addTask {
            await runner.run(job, stop: stop) {
                self.running.withLock { _ = $0.removeValue(forKey: job.id) }
                self.doorbell.ring()
            }
        }
    }

    /// Heartbeats leases that are a third through, and stops jobs that were cancelled or lost their lease.
    private func maintainRunningJobs(now: ContinuousClock.Instant, checkCancels: Bool = true) async {
        let jobs = running.withLock { $0 }
        guard !jobs.isEmpty else { return }
        if checkCancels {
            for id in (try? store.cancelRequested(among: Array(jobs.keys))) ?? [] {
                jobs[id]?.stop.stop(.cancelRequested)
            }
        }
        for (id, job) in jobs where now - job.lastBeat >= configuration.lease / 3 {
            do {
                let beat = try await store.heartbeat(jobID: id, token: job.token, lease: configuration.lease)
                if !beat.leaseHeld { job.stop.stop(.leaseLost) }
                if beat.cancelRequested { job.stop.stop(.cancelRequested) }
                running.withLock { $0[id]?.lastBeat = now }
                storeWorked()
            } catch where error.isFault {
                _ = storeFailed(error, doing: "heartbeat")
            } catch {
                logger.warning("heartbeat failed", metadata: ["job.id": "\(id)", "error": "\(error)"])
            }
        }
    }

    private func recoverLeases() {
        do {
            for id in try store.recoverDeadOwners(me: owner) {
                logger.warning("lease of a dead worker recovered", metadata: ["job.id": "\(id)"])
            }
            for id in try store.expireLeases() {
                logger.warning("expired lease recovered", metadata: ["job.id": "\(id)"])
            }
        } catch where error.isFault {
            _ = storeFailed(error, doing: "lease recovery")
        } catch {
            logger.error("lease recovery failed", metadata: ["error": "\(error)"])
        }
    }

    private func sendStatus() {
        guard notifier.isActive else { return }
        if let fault = health.withLock({ $0.status }) {
            notifier.notify("STATUS=\(fault)")
            return
        }
        guard let counts = try? store.activityCounts() else { return }
        let mine = running.withLock { $0.count }
        notifier.notify("STATUS=running \(mine) here, \(counts.running) in all; \(counts.pending) pending")
    }

    /// Lets running jobs finish within `grace` (heartbeating them), then hands the rest back.
    private func shutDown() async {
        notifier.notify("STOPPING=1\nSTATUS=stopping")
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.grace
        logger.info("worker stopping", metadata: ["running": "\(running.withLock { $0.count })", "grace": "\(configuration.grace)"])
        while !Task.isCancelled && !running.withLock({ $0.isEmpty }) && clock.now < deadline {
            await maintainRunningJobs(now: clock.now)
            await doorbell.wait(upTo: min(deadline - clock.now, .milliseconds(250)), clock: clock)
        }
        for job in running.withLock({ Array($0.values) }) { job.stop.stop(.shutdown) }
    }
}
