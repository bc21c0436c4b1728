import Logging
import PlanCore
import PlanStore

/// The store as a running plan's journal: every write carries the run's fencing token.
struct StoreJournal: Journal {
    let store: JobStore
    let jobID: Int64
    let token: Int64
    let logger: Logger

    func record(of stepKey: String) async -> Result<StepRecord, ErrInfo> {
        await call { [store, jobID] in try store.stepRecord(jobID: jobID, stepKey: stepKey) }
    }

    func begin(_ stepKey: String, attempt: Int) async -> Result<Void, ErrInfo> {
        logger.info("step started", metadata: ["step.id": "\(stepKey)", "attempt": "\(attempt)"])
        return await call { [store, jobID, token] in try store.beginStep(jobID: jobID, token: token, stepKey: stepKey, attempt: attempt) }
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
        return await call { [store, jobID, token] in
            try store.finishStep(jobID: jobID, token: token, stepKey: stepKey, attempt: attempt, outcome: outcome)
        }
    }

    /// Runs a store call off the cooperative pool; its `StoreError` as the run's `ErrInfo`.
    private func call<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async -> Result<T, ErrInfo> {
        do {
            return .success(try await offload(body))
        } catch let error as StoreError {
            return .failure(Self.errInfo(error))
        } catch {
            return .failure(ErrInfo(code: "store_error", message: "\(error)", retryable: true))
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
