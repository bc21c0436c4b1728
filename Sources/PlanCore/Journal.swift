/// What the journal holds for one step key.
public struct StepRecord: Sendable, Hashable {
    /// The recorded output of a successful execution, if there is one.
    public var output: JSONValue?
    /// How many executions have started, finished or not.
    public var attempts: Int
    /// The error of the last failed execution, if any.
    public var lastError: ErrInfo?

    public init(output: JSONValue? = nil, attempts: Int = 0, lastError: ErrInfo? = nil) {
        self.output = output
        self.attempts = attempts
        self.lastError = lastError
    }
}

/// The port through which a running plan asks what is recorded for a step and records what it does.
///
/// A failure of any method (for example a lost lease) ends the run with that error: nothing is
/// executed without its start recorded first.
public protocol Journal: Sendable {
    /// What is recorded for `stepKey` (a step id, or `STEP[i]` for an element of an `each` step).
    func record(of stepKey: String) async -> Result<StepRecord, ErrInfo>
    /// Durably records that execution `attempt` of `stepKey` starts; called before the capability is.
    func begin(_ stepKey: String, attempt: Int) async -> Result<Void, ErrInfo>
    /// Records the outcome of execution `attempt` of `stepKey`.
    func finish(_ stepKey: String, attempt: Int, outcome: Result<JSONValue, ErrInfo>) async -> Result<Void, ErrInfo>
}
