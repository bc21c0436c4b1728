import Logging
import PlanCore
import PlanStore

/// The store as a running plan's journal: every write carries the run's fencing token. What the
/// journal held came with the claim; the run keeps its copy up to date with its own writes (no one
/// else writes a job's journal while its lease is held), so asking costs no query.
///
/// A step's success, when no other step of the run is in flight, is carried into the run's next
/// write — the next step's start or the run's end, microseconds later — and commits in the same
/// transaction: nothing acts on that success before it is committed, and a job needs one
/// transaction fewer per step.
///
/// The first execution of a fresh job's first step may have been begun by its claim
/// (`Lease.begunStep`): beginning it then writes nothing, and if the run ends without
/// beginning it, `takeCarried(endingWith:)` records that execution as failed with the run's error.
final class StoreJournal: Journal {
    let lease: Lease
    let logger: Logger
    /// The run's stop signal: a step cancelled by a shutdown is handed back with the lease, not failed.
    let stop: StopSignal?
    private struct State {
        var records: [String: StepRecord]
        /// Steps begun (or beginning) and not finished.
        var inFlight = 0
        var carried: [RunWrite] = []
        /// The step execution (attempt 1) the claim began and the run has not begun yet.
        var begunByClaim: String?
        /// The first store error a write of the run met.
        var storeFailure: StoreError?
        /// The first `resource_exhausted` error a step's call met.
        var exhaustion: ErrInfo?
        /// When each execution in flight began (for metrics).
        var began: [String: ContinuousClock.Instant] = [:]
    }

    private let state: Locked<State>

    /// Told of every store fault a write meets, and (`nil`) of every write that goes through.
    let storeFault: @Sendable (StoreError?) -> Void

    let metrics: WorkerMetrics?

    init(lease: Lease, logger: Logger, stop: StopSignal? = nil, metrics: WorkerMetrics? = nil,
         storeFault: @escaping @Sendable (StoreError?) -> Void = { _ in }) {
        self.lease = lease
        self.stop = stop
        self.metrics = metrics
        self.storeFault = storeFault
        self.logger = logger
        state = Locked(State(records: lease.records, begunByClaim: lease.begunStep))
    }

    func record(of stepKey: String) async -> Result<StepRecord, ErrInfo> {
        .success(state.withLock { $0.records[stepKey] ?? StepRecord() })
    }

    /// The writes carried so far, for the run's last write; the journal holds none after. When the
    /// run ended without beginning the execution its claim began, that execution's end comes last:
    /// failed with `error` (the run's), or, when the run is handed back (`nil`), left for the release.
    func takeCarried(endingWith error: ErrInfo?) -> [RunWrite] {
        state.withLock { state in
            defer {
                state.carried = []
                state.begunByClaim = nil
            }
            guard let stepKey = state.begunByClaim, let error else { return state.carried }
            logger.info("step ended before its call", metadata: ["step.id": "\(stepKey)", "error.code": "\(error.code)"])
            return state.carried + [.stepFinished(stepKey, attempt: 1, outcome: .failure(error), at: .now())]
        }
    }

    func begin(_ stepKey: String, attempt: Int) async -> Result<Void, ErrInfo> {
        logger.info("step started", metadata: ["step.id": "\(stepKey)", "attempt": "\(attempt)"])
        let (carried, begunByClaim) = state.withLock { state in
            state.inFlight += 1
            if metrics != nil { state.began[stepKey] = .now }
            defer { state.carried = [] }
            guard state.begunByClaim == stepKey && attempt == 1 else { return (state.carried, false) }
            state.begunByClaim = nil
            return (state.carried, true)
        }
        // The claim's transaction committed this start (and no step before the first carries a write).
        let result = await call { () async throws(StoreError) in
            if !begunByClaim {
                try await self.lease.beginStep(stepKey, attempt: attempt, after: carried)
            } else if !carried.isEmpty {
                try await self.lease.commit(carried)
            }
        }
        state.withLock { state in
            if case .success = result {
                state.records[stepKey, default: StepRecord()].attempts = attempt
            } else {
                // Nothing of the failed write committed: what it carried goes with the run's next write.
                state.inFlight -= 1
                state.carried = carried + state.carried
                if begunByClaim { state.begunByClaim = stepKey }
            }
        }
        return result
    }

    func finish(_ stepKey: String, attempt: Int, outcome: Result<JSONValue, ErrInfo>) async -> Result<Void, ErrInfo> {
        if case .failure(let error) = outcome, error.code == .cancelled, isHandedBack {
            // The release that hands the lease back sets this execution aside, uncounted: nothing failed.
            logger.info("step released", metadata: ["step.id": "\(stepKey)", "attempt": "\(attempt)"])
            state.withLock { $0.inFlight -= 1 }
            measure(stepKey, .released)
            return .failure(error)
        }
        if case .failure(let error) = outcome, error.code == .resourceExhausted, let stop {
            // The machine ran out, not the step: the run is handed back and this execution set
            // aside, uncounted; the worker backs off before claiming again.
            logger.warning("step met exhausted resources; the run is handed back", metadata: [
                "step.id": "\(stepKey)", "attempt": "\(attempt)", "error.message": "\(error.message)",
            ])
            state.withLock { state in
                state.inFlight -= 1
                if state.exhaustion == nil { state.exhaustion = error }
            }
            measure(stepKey, .released)
            stop.stop(.resourcesExhausted)
            return .failure(error)
        }
        if case .success = outcome { measure(stepKey, .ok) } else { measure(stepKey, .error) }
        switch outcome {
        case .success:
            logger.info("step succeeded", metadata: ["step.id": "\(stepKey)", "attempt": "\(attempt)"])
        case .failure(let error):
            logger.warning("step failed", metadata: [
                "step.id": "\(stepKey)", "attempt": "\(attempt)", "error.code": "\(error.code)", "error.message": "\(error.message)",
            ])
        }
        let write = RunWrite.stepFinished(stepKey, attempt: attempt, outcome: outcome, at: .now())
        let carried = state.withLock { state -> [RunWrite]? in
            state.inFlight -= 1
            switch outcome {
            case .success(let output): state.records[stepKey, default: StepRecord()].output = output
            case .failure(let error): state.records[stepKey, default: StepRecord()].lastError = error
            }
            guard case .success = outcome, state.inFlight == 0 else {
                defer { state.carried = [] }
                return state.carried
            }
            state.carried.append(write)
            return nil
        }
        guard let carried else { return .success(()) }
        let result = await call { () async throws(StoreError) in
            try await self.lease.commit(carried + [write])
        }
        if case .failure = result {
            // Nothing committed: the outcome (a success above all) goes with the run's next write.
            state.withLock { state in state.carried = carried + [write] + state.carried }
        }
        return result
    }

    /// Counts and times an execution of a capability (not an `each` step's gathering of its elements).
    private func measure(_ stepKey: String, _ outcome: WorkerMetrics.StepOutcome) {
        guard let metrics, let began = state.withLock({ $0.began.removeValue(forKey: stepKey) }) else { return }
        let stepID = stepKey.firstIndex(of: "[").map { String(stepKey[..<$0]) } ?? stepKey
        guard let step = lease.plan.steps.first(where: { $0.id == stepID }), step.each == nil || stepID != stepKey else { return }
        metrics.stepEnded(capability: step.call, outcome: outcome, after: .now - began)
    }

    /// Whether the run is being handed back: the worker shuts down (asked, or cancelled past its grace).
    private var isHandedBack: Bool {
        switch stop?.reason {
        case .shutdown?, .resourcesExhausted?: true
        case nil: stop != nil && Task.isCancelled
        default: false
        }
    }

    /// Runs a store call; its `StoreError` as the run's `ErrInfo`.
    private func call(_ body: () async throws(StoreError) -> Void) async -> Result<Void, ErrInfo> {
        do {
            try await body()
            storeFault(nil)
            return .success(())
        } catch {
            if error.isFault { storeFault(error) }
            state.withLock { if $0.storeFailure == nil { $0.storeFailure = error } }
            return .failure(Self.errInfo(error))
        }
    }

    /// The exhausted resource that ended the run, if one did.
    var exhaustion: ErrInfo? { state.withLock { $0.exhaustion } }

    /// Why the run must end, when a write of it met the store's refusal: its lease was lost, or
    /// the store is at fault. Typed, for the runner; the plan sees `errInfo`.
    var stopReason: StopReason? {
        switch state.withLock({ $0.storeFailure }) {
        case .leaseLost?: .leaseLost
        case let failure? where failure.isFault: .storeFault
        default: nil
        }
    }

    /// A store failure as the error that ends the plan: `lease_lost` when fenced out, `store_error` otherwise.
    static func errInfo(_ error: StoreError) -> ErrInfo {
        if case .leaseLost = error {
            return ErrInfo(code: .leaseLost, message: error.description, retryable: false)
        }
        return ErrInfo(code: .storeError, message: error.description, retryable: true)
    }
}
