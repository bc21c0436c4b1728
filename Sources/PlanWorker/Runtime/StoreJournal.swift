import Logging
import PlanCore
import PlanStore
import Synchronization

/// The store as a running plan's journal: every write carries the run's fencing token. What the
/// journal held came with the claim; the run keeps its copy up to date with its own writes (no one
/// else writes a job's journal while its lease is held), so asking costs no query.
final class StoreJournal: Journal {
    let store: JobStore
    let jobID: Int64
    let token: Int64
    let logger: Logger
    private let records: Mutex<[String: StepRecord]>

    init(store: JobStore, job: ClaimedJob, logger: Logger) {
        self.store = store
        jobID = job.id
        token = job.token
        self.logger = logger
        records = Mutex(job.records)
    }

    func record(of stepKey: String) async -> Result<StepRecord, ErrInfo> {
        .success(records.withLock { $0[stepKey] ?? StepRecord() })
    }

    func begin(_ stepKey: String, attempt: Int) async -> Result<Void, ErrInfo> {
        logger.info("step started", metadata: ["step.id": "\(stepKey)", "attempt": "\(attempt)"])
        return await call { () async throws(StoreError) in
            try await self.store.beginStep(jobID: self.jobID, token: self.token, stepKey: stepKey, attempt: attempt)
            self.records.withLock { $0[stepKey, default: StepRecord()].attempts = attempt }
        }
    }

    func finish(_ stepKey: String, attempt: Int, outcome: Result<JSONValue, ErrInfo>) async -> Result<Void, ErrInfo> {
        switch outcome {
        case .success:
            logger.info("step succeeded", metadata: ["step.id": "\(stepKey)", "attempt": "\(attempt)"])
        case .failure(let error):
            logger.warning("step failed", metadata: [
                "step.id": "\(stepKey)", "attempt": "\(attempt)", "error.code": "\(error.code)", "error.message": "\(error.message)",
            ])
        }
        return await call { () async throws(StoreError) in
            try await self.store.finishStep(jobID: self.jobID, token: self.token, stepKey: stepKey, attempt: attempt, outcome: outcome)
            self.records.withLock { records in
                switch outcome {
                case .success(let output): records[stepKey, default: StepRecord()].output = output
                case .failure(let error): records[stepKey, default: StepRecord()].lastError = error
                }
            }
        }
    }

    /// Runs a store call; its `StoreError` as the run's `ErrInfo`.
    private func call(_ body: () async throws(StoreError) -> Void) async -> Result<Void, ErrInfo> {
        do {
            return .success(try await body())
        } catch {
            return .failure(Self.errInfo(error))
        }
    }

    /// A store failure as the error that ends the run: `lease_lost` when fenced out.
    static func errInfo(_ error: StoreError) -> ErrInfo {
        if case .leaseLost = error {
            return ErrInfo(code: "lease_lost", message: error.description, retryable: false)
        }
        return ErrInfo(code: "store_error", message: error.description, retryable: true)
    }
}
