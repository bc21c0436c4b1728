import PlanCore

/// How one execution of a step ended, as `step_results.outcome` stores it.
public enum StepOutcome: String, Sendable, CaseIterable {
    case ok, error, cancelled

    /// A result as recorded: a failure with code `cancelled` is `cancelled`.
    public init(_ result: Result<JSONValue, ErrInfo>) {
        switch result {
        case .success: self = .ok
        case .failure(let error): self = error.code == .cancelled ? .cancelled : .error
        }
    }
}
