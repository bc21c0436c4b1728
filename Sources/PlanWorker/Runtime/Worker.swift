import Logging
import PlanCore
import PlanStore
import ServiceLifecycle

/// The worker daemon as a `Service`: claims due jobs into free slots, runs each plan against the
/// registry, records every step, heartbeats leases, recovers other workers' expired or dead leases,
/// and on graceful shutdown stops claiming, lets running jobs finish for `grace`, then hands the
/// rest back. `run()` returns when shut down (or, with `drain`, when no work is left).
public final class Worker: Service {
    private typealias Loop = WorkerLoop<ContinuousClock.Instant>

    private let store: any JobStore
    private let registry: CapabilityRegistry
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let owner = LeaseOwner.current()
    private let doorbell = Doorbell()
    /// Wakes the scheduler when the store changed (a schedule may have been added or changed).
    private let scheduleBell = Doorbell()
    /// What happened off the loop's task (a job ended, the store changed, shutdown began), for its next turn.
    private let inbox = Locked<[Loop.Event]>([])
    /// The running jobs, by id.
    private let running = Locked<[Int64: RunningJob]>([:])
    /// The service status changed (a store fault began or ended): send it on the loop's next turn.
    private let statusStale = Locked(false)
    /// A draining worker found nothing left to do; logged once its last job's end is recorded.
    private let drained = Locked(false)
    /// This worker's row in the store's list of workers.
    private let workerID = Locked<Int64?>(nil)

    private struct RunningJob {
        let lease: Lease
        let stop: StopSignal
    }
    private let allocator = Locked(SlotAllocator())
    /// The sleeps of the running plans (timeouts, backoffs).
    private let timers = TimerQueue()
    private let health = Locked(FaultHealth())
    /// Descriptors, memory and processes, as the runs' calls found them; when they last ran out.
    private let resources = Locked((health: FaultHealth(subject: "resources"), lastExhausted: ContinuousClock.Instant?.none))

    public init(store: any JobStore, registry: CapabilityRegistry, configuration: WorkerConfiguration, logger: Logger,
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
            guard let pause = try await register() else { break }
            try? await Task.sleep(for: pause)
        }
        if Task.isShuttingDownGracefully || Task.isCancelled { return }
        let changes = store.changes()
        notifier.notify("READY=1\nSTATUS=claiming")
        logger.info("worker ready", metadata: [
            "worker": "\(owner.label)", "database": "\(store.location)", "concurrency": "\(configuration.concurrency)",
            "capabilities": "\(registry.names.joined(separator: ","))", "wakeups": "\(changes == nil ? "polling" : "store changes")",
        ])
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { listeners in
                listeners.addTask { await self.timers.run() }
                if let changes {
                    listeners.addTask {
                        for await _ in changes {
                            self.post(.changed)
                            self.scheduleBell.ring()
                        }
                    }
                }
                if let zones = configuration.zones {
                    listeners.addTask { await self.fireSchedules(zones: zones) }
                }
                await withDiscardingTaskGroup { group in
                    await loop(group: &group, changes: changes)
                }
                if drained.withLock({ $0 }) { logger.info("worker drained") }
                if let id = workerID.withLock({ $0 }) { try? await store.workerStopped(id, now: .now()) }
                listeners.cancelAll()
            }
        } onGracefulShutdown: {
            self.post(.shutdown)
        }
        logger.info("worker stopped")
    }

    /// Fires due schedules until cancelled: sleeps until the next fire time, or until the store
    /// changes (another process added or changed a schedule) after a quiet period, at most a minute.
    private func fireSchedules(zones: @escaping ZoneLookup) async {
        let clock = ContinuousClock()
        while !Task.isCancelled {
            var pause = Duration.seconds(60)
            do {
                let now = Timestamp.now()
                let firing = try await store.fireDueSchedules(now: now, zones: zones)
                if firing.enqueued > 0 {
                    logger.info("schedules fired", metadata: ["jobs": "\(firing.enqueued)"])
                    configuration.metrics?.schedulesFired(jobs: firing.enqueued)
                    post(.changed)
                    storeWorked()  // a write went through (a read that found nothing due proves nothing)
                }
                if let next = firing.nextFireAt {
                    pause = min(pause, .milliseconds(max(0, next.millisecondsSinceEpoch - Timestamp.now().millisecondsSinceEpoch)))
                }
            } catch where error.isFault {
                pause = storeFailed(error, doing: "fire schedules")
            } catch {
                logger.error("schedules not fired", metadata: ["error": "\(error)"])
            }
            let quiet = min(pause, configuration.scheduleChangeQuiet)
            try? await clock.sleep(for: quiet)
            if pause > quiet { await scheduleBell.wait(upTo: pause - quiet, clock: clock) }
        }
    }

    /// Hands an event to the loop and wakes it.
    private func post(_ event: Loop.Event) {
        inbox.withLock { $0.append(event) }
        doorbell.ring()
    }

    /// Records this worker and its capabilities; `nil` when done, the backoff when the store is at fault.
    private func register() async throws(StoreError) -> Duration? {
        do {
            let registration = WorkerRegistration(owner: owner, queues: configuration.queues, concurrency: configuration.concurrency,
                                                  capabilities: registry.names)
            let id = try await store.registerWorker(registration, now: .now())
            workerID.withLock { $0 = id }
        } catch {
            guard error.isFault else { throw error }
            return storeFailed(error, doing: "register capabilities")
        }
        storeWorked()
        return nil
    }

    /// The shell around `WorkerLoop`: feeds it the time and the events, performs its actions.
    private func loop(group: inout DiscardingTaskGroup, changes: StoreChanges?) async {
        let clock = ContinuousClock()
        var machine = Loop(configuration: configuration, watchdogInterval: notifier.watchdogInterval)
        var pending: [Loop.Event] = [.tick]
        notifier.notify("WATCHDOG=1")
        while !Task.isCancelled, !machine.isStopped {
            // What happened meanwhile first: a shutdown or a job's end changes what the answer means.
            let events = inbox.withLock { inbox in defer { inbox = [] }; return inbox } + pending
            pending = []
            var actions: [Loop.Action] = []
            for event in events {
                if event == .shutdown {
                    notifier.notify("STOPPING=1\nSTATUS=stopping")
                    logger.info("worker stopping", metadata: ["running": "\(machine.runningJobs.count)", "grace": "\(configuration.grace)"])
                }
                actions += machine.handle(event, at: clock.now)
            }
            if actions.isEmpty { actions = machine.handle(.tick, at: clock.now) }
            if statusStale.withLock({ stale in defer { stale = false }; return stale }) { await sendStatus() }
            for action in actions {
                pending += await perform(action, group: &group, changes: changes, clock: clock)
                for lapse in machine.lapses(at: clock.now) { pending += await perform(lapse, group: &group, changes: changes, clock: clock) }
            }
        }
    }

    /// Performs one action; the events that answer it (a sleep answers with `tick`).
    private func perform(_ action: Loop.Action, group: inout DiscardingTaskGroup,
                         changes: StoreChanges?, clock: ContinuousClock) async -> [Loop.Event] {
        switch action {
        case .feedWatchdog:
            notifier.notify("WATCHDOG=1")
            await sendStatus()
        case .checkCancels(let ids):
            let jobs = running.withLock { $0 }
            for id in (try? await store.cancelRequested(among: ids)) ?? [] { jobs[id]?.stop.stop(.cancelRequested) }
        case .heartbeat(let ids):
            return await heartbeat(ids, clock: clock)
        case .leaseLapsed(let ids):
            let jobs = running.withLock { $0 }
            for id in ids {
                logger.warning("lease ran out unrenewed: stopping the run", metadata: ["job.id": "\(id)"])
                jobs[id]?.stop.stop(.leaseLost)
            }
        case .recoverLeases:
            await recoverLeases()
        case .claim(let free, let counts):
            return [await claim(free: free, running: counts, group: &group)]
        case .checkOutstandingWork:
            let outstanding = (try? await store.hasOutstandingWork(queues: configuration.queues)) ?? true
            if !outstanding { drained.withLock { $0 = true } }
            return [.outstandingWork(outstanding)]
        case .throttleChanges(let on):
            changes?.throttle(on)
        case .sleep(let until):
            await doorbell.wait(upTo: clock.now.duration(to: until), clock: clock)
            return [.tick]
        case .handBack(let ids):
            let jobs = running.withLock { $0 }
            for id in ids { jobs[id]?.stop.stop(.shutdown) }
        case .stop:
            break
        }
        return []
    }

    /// Claims into the free slots, shared out among the queues with due work.
    private func claim(free: Int, running counts: [String: Int], group: inout DiscardingTaskGroup) async -> Loop.Event {
        let configuration = configuration
        let request = ClaimRequest(owner: owner, duration: configuration.lease, queues: configuration.queues, beginFirstSteps: true) { due in
            let capacity = Dictionary(uniqueKeysWithValues: due.map { ($0, configuration.limit(of: $0) - (counts[$0] ?? 0)) })
            let grants = self.allocator.withLock { $0.allocate(free: free, capacity: capacity, weight: configuration.limit(of:)) }
            return grants.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        let batch: ClaimBatch
        do {
            batch = try await store.claim(request)
        } catch {
            return .claimFailed(backoff: storeFailed(error, doing: "claim"))
        }
        storeWorked()
        for lease in batch.leases {
            configuration.metrics?.claimed(queue: lease.queue)
            start(lease, in: &group)
        }
        let nextRunIn = batch.nextRunAt.map { Duration.milliseconds($0.millisecondsSinceEpoch - Timestamp.now().millisecondsSinceEpoch) }
        return .claimed(batch.leases.map { .init(id: $0.jobID, queue: $0.queue) }, nextRunIn: nextRunIn)
    }

    /// Records a store fault (logged once per change, shown in `STATUS=`); the backoff before trying again.
    private func storeFailed(_ error: StoreError, doing what: String) -> Duration {
        configuration.metrics?.storeFailed(error)
        let pause = health.withLock { $0.failed(error, doing: what, logger: logger) }
        statusStale.withLock { $0 = true }
        return pause
    }

    /// Records a store write that worked: the end of a fault, if one was on.
    private func storeWorked() {
        let recovered = health.withLock { health in
            guard !health.isHealthy else { return false }
            health.succeeded(logger: logger)
            return true
        }
        if recovered { statusStale.withLock { $0 = true } }
    }

    /// Backs claims off while runs find resources exhausted (logged once per kind, shown in
    /// `STATUS=`); the fault clears with a run that ended otherwise, once none ran out for the
    /// longest backoff.
    private func resourcesExhausted(_ error: ErrInfo?) {
        if let error {
            let code = error.details?.objectValue?["errno"].map { "\($0)" } ?? error.message
            let pause = resources.withLock { state in
                state.lastExhausted = .now
                return state.health.failed(kind: "errno \(code)", error.message, doing: "run a step", logger: logger)
            }
            statusStale.withLock { $0 = true }
            post(.resourcesExhausted(backoff: pause))
            return
        }
        let recovered = resources.withLock { state in
            guard !state.health.isHealthy, let last = state.lastExhausted, .now - last >= FaultHealth.longestBackoff else { return false }
            state.health.succeeded(logger: logger)
            return true
        }
        if recovered { statusStale.withLock { $0 = true } }
    }

    private func start(_ lease: Lease, in group: inout DiscardingTaskGroup) {
        let stop = StopSignal()
        let count = running.withLock { $0[lease.jobID] = RunningJob(lease: lease, stop: stop); return $0.count }
        configuration.metrics?.running(count)
        let runner = JobRunner(registry: registry, logger: logger, random: systemUnitRandom, clock: QueuedClock(timers: timers),
                               limits: configuration.valueLimits, leaseDuration: configuration.lease,
                               storeFault: { [self] error in
                                   if let error { _ = storeFailed(error, doing: "record a step or a run") } else { storeWorked() }
                               },
                               resourcesExhausted: { [self] error in resourcesExhausted(error) },
                               metrics: configuration.metrics)
        group.addTask {
            await runner.run(lease, stop: stop) {
                let count = self.running.withLock { $0.removeValue(forKey: lease.jobID); return $0.count }
                self.configuration.metrics?.running(count)
                self.post(.jobEnded(lease.jobID))
            }
        }
    }

    /// Renews the leases of `ids`; stops jobs whose lease moved on or whose cancel was asked. A
    /// heartbeat that fails is answered with when to try it again: after the store's backoff when
    /// it is at fault (a full disk fails every write at once: no retry at every turn).
    private func heartbeat(_ ids: [Int64], clock: ContinuousClock) async -> [Loop.Event] {
        let jobs = running.withLock { $0 }
        var failed: [Loop.Event] = []
        var renewed: [Int64] = []
        let sent = clock.now
        for id in ids {
            guard let job = jobs[id] else { continue }
            do {
                let beat = try await job.lease.heartbeat(duration: configuration.lease)
                if beat.leaseHeld { renewed.append(id) } else { job.stop.stop(.leaseLost) }
                if beat.cancelRequested { job.stop.stop(.cancelRequested) }
                storeWorked()
            } catch where error.isFault {
                // The store is at fault for all of them: the rest are not asked (a server out of
                // reach would hold the loop for each one's timeout).
                let retryIn = storeFailed(error, doing: "heartbeat")
                for rest in ids.drop(while: { $0 != id }) where jobs[rest] != nil { failed.append(.heartbeatFailed(rest, retryIn: retryIn)) }
                break
            } catch {
                logger.warning("heartbeat failed", metadata: ["job.id": "\(id)", "error": "\(error)"])
                failed.append(.heartbeatFailed(id, retryIn: configuration.lease / 6))
            }
        }
        return failed + (renewed.isEmpty ? [] : [.renewed(renewed, at: sent)])
    }

    private func recoverLeases() async {
        do {
            if let id = workerID.withLock({ $0 }) { try await store.workerSeen(id, me: owner, now: .now()) }
            let dead = try await store.recoverDeadOwners(me: owner)
            for id in dead {
                logger.warning("lease of a dead worker recovered", metadata: ["job.id": "\(id)"])
            }
            configuration.metrics?.leasesRecovered(dead.count, kind: "dead_owner")
            let expired = try await store.expireLeases()
            for id in expired {
                logger.warning("expired lease recovered", metadata: ["job.id": "\(id)"])
            }
            configuration.metrics?.leasesRecovered(expired.count, kind: "expired")
        } catch where error.isFault {
            _ = storeFailed(error, doing: "lease recovery")
        } catch {
            logger.error("lease recovery failed", metadata: ["error": "\(error)"])
        }
    }

    private func sendStatus() async {
        guard notifier.isActive else { return }
        if let fault = health.withLock({ $0.status }) ?? resources.withLock({ $0.health.status }) {
            notifier.notify("STATUS=\(fault)")
            return
        }
        guard let counts = try? await store.activityCounts() else { return }
        let mine = running.withLock { $0.count }
        notifier.notify("STATUS=running \(mine) here, \(counts.running) in all; \(counts.pending) pending")
    }
}
