import Logging
import PlanCore
import PlanStore

/// Runs one claimed job to the end of this run and records how it ended: succeeded, failed,
/// rescheduled for a retry, cancelled, or handed back on shutdown.
struct JobRunner: Sendable {
    let registry: CapabilityRegistry
    let logger: Logger
    let random: UnitRandom
    /// What the plan's timeouts and backoffs sleep on.
    let clock: QueuedClock
    var limits = ValueLimits.standard
    /// How long a claim holds a job unrenewed: the longest the run's last write is tried again.
    var leaseDuration = Duration.seconds(30)
    /// Told of each store fault the run's writes meet, and (`nil`) of writes that went through.
    var storeFault: @Sendable (StoreError?) -> Void = { _ in }
    /// Told when a run was handed back because a call found resources exhausted, and (`nil`) when
    /// a run ended otherwise.
    var resourcesExhausted: @Sendable (ErrInfo?) -> Void = { _ in }
    var metrics: WorkerMetrics?

    /// `planEnded` is called once the plan is done and only its record is left to write: the slot
    /// is free then, and a claim for it can share the record's transaction.
    func run(_ lease: Lease, stop: StopSignal, planEnded: () -> Void) async {
        let started = ContinuousClock.now
        var logger = logger
        logger[metadataKey: "lease.id"] = "\(lease.jobID)"
        logger.info("job claimed", metadata: ["queue": "\(lease.queue)", "run": "\(lease.runs)", "token": "\(lease.id.token)"])
        let journal = StoreJournal(lease: lease, logger: logger, stop: stop, metrics: metrics, storeFault: storeFault)
        let stepLogger = logger
        let plan = Rehydrator(
            description: lease.plan, jobID: lease.jobID, registry: registry, journal: journal, clock: clock, limits: limits,
            log: { message, metadata in stepLogger.info("\(message)", metadata: metadata.mapValues { .string($0) }) }
        ).plan()
        let outcome = await Self.perform(plan, until: stop)
        // Cancelled from outside (a forced shutdown) counts as a shutdown: the lease is handed back.
        // A write refused by the store (its lease lost, or a fault) ends the run as that says.
        let reason = stop.reason ?? (Task.isCancelled ? .shutdown : nil) ?? journal.stopReason
        planEnded()
        // A run handed back leaves an execution it never began to the release, which sets it aside.
        let endError: ErrInfo? = if case .failure(let error) = outcome, reason != .shutdown, reason != .storeFault,
            reason != .resourcesExhausted { error } else { nil }
        let carried = journal.takeCarried(endingWith: endError)
        // The last write carries every success not yet committed: while the database is at fault
        // (locked, full, ...) it is tried again, for as long as the lease would last unrenewed.
        let deadline = clock.now + leaseDuration
        var pause = Duration.milliseconds(10)
        var failures = 0
        while true {
            do {
                let ended = try await record(outcome, of: lease, stop: reason, carried: carried, logger: logger)
                metrics?.runEnded(queue: lease.queue, outcome: ended, after: ContinuousClock.now - started)
                resourcesExhausted(reason == .resourcesExhausted ? journal.exhaustion : nil)
                if failures > 0 {
                    logger.notice("job outcome recorded after the store recovered", metadata: ["failures": "\(failures)"])
                    storeFault(nil)
                }
                return
            } catch where error.isFault && clock.now + pause < deadline {
                if failures == 0 { logger.warning("job outcome not recorded yet; trying again", metadata: ["error": "\(error)"]) }
                storeFault(error)
                failures += 1
                try? await clock.sleep(for: pause)
                pause = min(pause * 2, .seconds(1))
            } catch {
                logger.warning("job outcome not recorded", metadata: ["error": "\(error)", "failures": "\(failures)"])
                return
            }
        }
    }


    /// The interpreter: the one place that performs a job's plan. The plan is cancelled when `stop`
    /// fires. The plan runs as the one child task; this task waits on `stop`, which the plan's end
    /// also wakes (a second child waiting for the signal cost a task per job).
    static func perform(_ plan: AsyncPlan<JSONValue>, until stop: StopSignal) async -> Result<JSONValue, ErrInfo> {
        await withTaskGroup(of: Result<JSONValue, ErrInfo>.self) { group in
            group.addTask {
                let outcome = await plan.run()
                stop.planEnded()
                return outcome
            }
            await stop.wait()
            if stop.reason != nil { group.cancelAll() }
            return await group.next() ?? .failure(.cancelled)
        }
    }

    private func record(_ outcome: Result<JSONValue, ErrInfo>, of lease: Lease, stop: StopReason?, carried: [RunWrite],
                        logger: Logger) async throws(StoreError) -> WorkerMetrics.RunOutcome {
        switch (outcome, stop) {
        case (.success(let value), _):
            try await lease.finish(.succeeded(value), after: carried)
            logger.info("job succeeded")
            return .succeeded
        case (_, .leaseLost?):
            logger.warning("job lease lost: it expired, or another worker has it")
            return .leaseLost
        case (.failure(let error), .cancelRequested?):
            try await lease.finish(.cancelled(error), after: carried)
            logger.info("job cancelled")
            return .cancelled
        case (.failure, .shutdown?):
            try await lease.release(after: carried)
            logger.info("job released")
            return .released
        case (.failure(let error), .storeFault?):
            // The store failed, not the plan: hand the run back with what it carried, uncounted.
            try await lease.release(after: carried)
            logger.warning("job released after a store error", metadata: ["error.message": "\(error.message)"])
            return .released
        case (.failure, .resourcesExhausted?):
            try await lease.release(after: carried)
            logger.warning("job released: resources exhausted")
            return .released
        case (.failure(let error), nil):
            switch lease.plan.decision(after: error, jobAttempt: lease.runs, random: random()) {
            case .retry(let delay):
                let runAt = Timestamp.now().adding(PlanDuration(delay))
                try await lease.reschedule(runAt: runAt, error: error, after: carried)
                logger.info("job retry scheduled", metadata: ["run_at": "\(runAt)", "error.code": "\(error.code)"])
                return .retried
            case .giveUp:
                try await lease.finish(.failed(error), after: carried)
                logger.error("job failed", metadata: ["error.code": "\(error.code)", "error.message": "\(error.message)"])
                return .failed
            }
        }
    }
}
