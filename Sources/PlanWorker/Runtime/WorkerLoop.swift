/// The worker's claim loop as a pure state machine: handed the time and what happened, it says
/// what to do next (claim into free slots, heartbeat, recover leases, check cancels, feed the
/// watchdog, sleep until when, hand jobs back, stop). It performs nothing and reads no clock:
/// `Worker` performs its actions and tells it their outcomes, and tests drive it with a test clock.
///
/// Generic over the clock's instant so that tests need no real time.
struct WorkerLoop<Instant: InstantProtocol> where Instant.Duration == Duration {
    enum Event: Equatable {
        /// The loop woke: its sleep ended, or it was rung. Every turn starts with one.
        case tick
        /// The store reported a change (another process committed).
        case changed
        /// The claim found these jobs (`id`, queue); `nextRunIn`: when the next pending job not
        /// due yet is (as of the claim).
        case claimed([ClaimedSlot], nextRunIn: Duration?)
        /// The claim failed on a store fault; the store's health says how long to back off.
        case claimFailed(backoff: Duration)
        /// A job's run ended (its record written or given up).
        case jobEnded(Int64)
        /// A run was handed back because the machine ran out of descriptors, memory or processes:
        /// claim nothing for `backoff`.
        case resourcesExhausted(backoff: Duration)
        /// A heartbeat could not be written: it is tried again after `retryIn` (at most a sixth of
        /// the lease).
        case heartbeatFailed(Int64, retryIn: Duration)
        /// These jobs' leases were renewed by heartbeats sent at `at` (their new expiry counts from then).
        case renewed([Int64], at: Instant)
        /// The answer to `checkOutstandingWork`.
        case outstandingWork(Bool)
        /// Graceful shutdown began: claim nothing more, let running jobs finish within the grace.
        case shutdown
    }

    struct ClaimedSlot: Equatable {
        let id: Int64
        let queue: String
    }

    enum Action: Equatable {
        case feedWatchdog
        /// Ask the store which of these running jobs `planq cancel` asked to stop.
        case checkCancels([Int64])
        /// Renew these jobs' leases; answer with `renewed` and `heartbeatFailed`.
        case heartbeat([Int64])
        /// These jobs' leases ran out unrenewed (the store did not answer their heartbeats): stop
        /// them, for another worker may take them now.
        case leaseLapsed([Int64])
        /// Expire other workers' lapsed leases and recover dead owners' jobs.
        case recoverLeases
        /// Claim into `free` slots; `running` counts this worker's jobs by queue. Answer with
        /// `claimed` or `claimFailed`.
        case claim(free: Int, running: [String: Int])
        /// Ask the store whether work is left (drain mode). Answer with `outstandingWork`.
        case checkOutstandingWork
        /// Ask the store for fewer change notifications (no free slot), or every one again.
        case throttleChanges(Bool)
        /// Sleep until then, or until rung; then `tick`.
        case sleep(until: Instant)
        /// The grace is over: stop these jobs and hand their leases back.
        case handBack([Int64])
        /// The loop is done (drained, or shut down with nothing left running).
        case stop
    }

    private struct Running {
        let queue: String
        var lastBeat: Instant
        /// When the lease was last taken or renewed, by this process's clock.
        var renewedAt: Instant
        /// A heartbeat failed since then (a worker that was only paused learns from its next one).
        var renewalFailed = false
        var lapsed = false
    }

    private enum Phase: Equatable {
        case claiming
        case awaitingClaim
        case awaitingWorkCheck
        case shuttingDown(deadline: Instant)
        case stopped
    }

    let configuration: WorkerConfiguration
    /// systemd's watchdog interval, when it asked for one.
    let watchdogInterval: Duration?

    private var phase = Phase.claiming
    private var running: [Int64: Running] = [:]
    private var lastWatchdog: Instant?
    private var lastRecovery: Instant?
    private var lastCancelCheck: Instant?
    /// The last change notification or job end: a commit may become visible a moment after it.
    private var lastChange: Instant?
    /// A change arrived while no slot was free: it may be a `planq cancel`.
    private var changedWhileFull = false
    private var nextRunAt: Instant?
    private var backoffUntil: Instant?
    private var throttled = false
    /// Jobs whose end was told before their claim was (a quick run ends before the claim's answer
    /// reaches the loop).
    private var endedBeforeClaimed: Set<Int64> = []

    init(configuration: WorkerConfiguration, watchdogInterval: Duration? = nil) {
        self.configuration = configuration
        self.watchdogInterval = watchdogInterval
    }

    var runningJobs: Set<Int64> { Set(running.keys) }
    var isStopped: Bool { phase == .stopped }
    private var freeSlots: Int { configuration.concurrency - running.count }

    mutating func handle(_ event: Event, at now: Instant) -> [Action] {
        switch event {
        case .tick:
            return turn(at: now)
        case .changed:
            lastChange = now
            if freeSlots <= 0 { changedWhileFull = true }
            return []
        case .jobEnded(let id):
            if running.removeValue(forKey: id) == nil { endedBeforeClaimed.insert(id) }
            lastChange = now
            return []
        case .heartbeatFailed(let id, let retryIn):
            // Due again `retryIn` from now: as if it had beaten that long less than a third ago.
            let retry = now.advanced(by: min(retryIn, configuration.lease / 6) - configuration.lease / 3)
            running[id]?.lastBeat = retry
            running[id]?.renewalFailed = true
            return []
        case .renewed(let ids, let at):
            for id in ids where running[id].map({ $0.renewedAt < at }) ?? false {
                running[id]?.renewedAt = at
                running[id]?.renewalFailed = false
            }
            return []
        case .shutdown:
            guard phase != .stopped else { return [] }
            phase = .shuttingDown(deadline: now.advanced(by: configuration.grace))
            return []
        case .claimed(let jobs, let nextRunIn):
            for job in jobs where endedBeforeClaimed.remove(job.id) == nil { running[job.id] = Running(queue: job.queue, lastBeat: now, renewedAt: now) }
            nextRunAt = nextRunIn.map { now.advanced(by: $0) }
            guard phase == .awaitingClaim else { return turn(at: now) }
            phase = .claiming
            backoffUntil = nil
            // Claimed some: there may be more due; look again at once.
            if !jobs.isEmpty { return turn(at: now) }
            if configuration.drain && running.isEmpty {
                phase = .awaitingWorkCheck
                return [.checkOutstandingWork]
            }
            return rest(at: now)
        case .resourcesExhausted(let backoff):
            let until = now.advanced(by: min(backoff, configuration.lease / 6))
            backoffUntil = max(backoffUntil ?? until, until)
            return []
        case .claimFailed(let backoff):
            guard phase == .awaitingClaim else { return turn(at: now) }
            phase = .claiming
            // Never so long that running jobs miss a heartbeat.
            backoffUntil = now.advanced(by: min(backoff, configuration.lease / 6))
            return rest(at: now)
        case .outstandingWork(let outstanding):
            guard phase == .awaitingWorkCheck else { return turn(at: now) }
            if !outstanding {
                phase = .stopped
                return [.stop]
            }
            phase = .claiming
            return rest(at: now)
        }
    }

    /// One turn: the duties that are due, then a claim into free slots, or a rest.
    private mutating func turn(at now: Instant) -> [Action] {
        // The loop's start counts as a watchdog feed and a cancel check (the worker feeds the
        // watchdog as it starts, and nothing is running yet).
        if lastCancelCheck == nil { lastCancelCheck = now }
        if lastWatchdog == nil { lastWatchdog = now }
        var actions: [Action] = []
        if let interval = watchdogInterval, let last = lastWatchdog, last.duration(to: now) >= interval / 2 {
            actions.append(.feedWatchdog)
            lastWatchdog = now
        }
        switch phase {
        case .stopped, .awaitingClaim, .awaitingWorkCheck:
            return actions
        case .shuttingDown(let deadline):
            actions += maintenance(at: now, cancelsEvery: configuration.shutdownPoll)
            if running.isEmpty {
                phase = .stopped
                return actions + [.stop]
            }
            if now >= deadline {
                phase = .stopped
                return actions + [.handBack(running.keys.sorted()), .stop]
            }
            return actions + [.sleep(until: min(deadline, now.advanced(by: configuration.shutdownPoll)))]
        case .claiming:
            actions += maintenance(at: now, cancelsEvery: configuration.cancelCheckInterval)
            // After its own heartbeats: a worker that was paused past its leases renews those nobody
            // took, instead of expiring them itself and running their steps in flight again.
            if lastRecovery.map({ $0.duration(to: now) >= configuration.recoveryInterval }) ?? true {
                actions.append(.recoverLeases)
                lastRecovery = now
            }
            if freeSlots > 0 && backoffUntil.map({ now >= $0 }) ?? true {
                phase = .awaitingClaim
                let counts = Dictionary(running.values.map { ($0.queue, 1) }, uniquingKeysWith: +)
                return actions + [.claim(free: freeSlots, running: counts)]
            }
            return actions + rest(at: now)
        }
    }

    /// Cancel checks (at most every `interval`, or at once after a change while full), the
    /// heartbeats that are due (a third through the lease), and the stop of runs whose heartbeats
    /// failed and whose lease is about to run out (five sixths through it, counted from when its
    /// last renewal was sent).
    private mutating func maintenance(at now: Instant, cancelsEvery interval: Duration) -> [Action] {
        guard !running.isEmpty else { return [] }
        var actions = lapses(at: now)
        if changedWhileFull || lastCancelCheck.map({ $0.duration(to: now) >= interval }) ?? false {
            actions.append(.checkCancels(running.keys.sorted()))
            lastCancelCheck = now
            changedWhileFull = false
        }
        let due = running.filter { !$0.value.lapsed && $0.value.lastBeat.duration(to: now) >= configuration.lease / 3 }.keys.sorted()
        if !due.isEmpty {
            for id in due { running[id]?.lastBeat = now }
            actions.append(.heartbeat(due))
        }
        return actions
    }

    /// The runs whose heartbeats failed and whose lease is about to run out (five sixths through
    /// it, counted from when its last renewal was sent), to stop, once each. Every turn asks first;
    /// the worker asks again after each action it waited on, so that a turn slowed by calls to a
    /// store out of reach does not stop them late.
    mutating func lapses(at now: Instant) -> [Action] {
        let lapsing = running.filter { job in
            job.value.renewalFailed && !job.value.lapsed && job.value.renewedAt.duration(to: now) >= configuration.lease - configuration.lease / 6
        }
        guard !lapsing.isEmpty else { return [] }
        for id in lapsing.keys { running[id]?.lapsed = true }
        return [.leaseLapsed(lapsing.keys.sorted())]
    }

    /// Sleep until the next duty: the next scheduled job, heartbeat or watchdog, the end of a
    /// backoff, at most `idleWake`; briefly, right after a change, when a slot is free.
    private mutating func rest(at now: Instant) -> [Action] {
        var actions: [Action] = []
        let full = freeSlots <= 0
        if full != throttled {
            throttled = full
            actions.append(.throttleChanges(full))
        }
        var wait = configuration.idleWake
        if let interval = watchdogInterval, let last = lastWatchdog { wait = min(wait, interval / 2 - last.duration(to: now)) }
        if !running.isEmpty { wait = min(wait, configuration.lease / 6) }
        // While claims back off from a store fault, the backoff's end is the next claim: a job
        // that fell due meanwhile (its run_at passed) must not wake the loop every millisecond.
        let backingOff = backoffUntil.map { now < $0 } ?? false
        if let next = nextRunAt, !backingOff { wait = min(wait, now.duration(to: next) + .milliseconds(1)) }
        if let until = backoffUntil { wait = min(wait, now.duration(to: until)) }
        // A change notification may come a moment before its commit is visible: look again soon
        // (not while backing off: a claim could not act on it).
        if !full, !backingOff, let change = lastChange, change.duration(to: now) < configuration.changeVisibilityWindow {
            wait = min(wait, configuration.changeRecheck)
        }
        return actions + [.sleep(until: now.advanced(by: max(wait, .milliseconds(1))))]
    }
}
