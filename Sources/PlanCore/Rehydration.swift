/// Turns a plan description into an `AsyncPlan` that runs its steps in order against a registry,
/// replaying what `journal` already holds and recording every execution in it.
///
/// Each execution: ask the journal; a recorded success is replayed without calling the capability;
/// a step whose started executions reached its `max_attempts` fails (`attempts_exhausted`);
/// otherwise the start is recorded, the capability is called under the step's timeout, and the
/// outcome is recorded. An `each` step does this per element (`STEP[i]`), at most `concurrency`
/// at once, then records the array of outputs under its own id. The plan's value is the last
/// step's output; a failing step's error carries its step key and attempt.
public struct Rehydrator<C: Clock>: Sendable where C.Duration == Duration {
    public let description: PlanDescription
    public let jobID: Int64
    public let registry: CapabilityRegistry
    public let journal: any Journal
    public let clock: C
    public let limits: ValueLimits
    public let log: @Sendable (String, [String: String]) -> Void

    public init(description: PlanDescription, jobID: Int64, registry: CapabilityRegistry, journal: any Journal,
                clock: C, limits: ValueLimits = .standard, log: @escaping @Sendable (String, [String: String]) -> Void = { _, _ in }) {
        self.description = description
        self.jobID = jobID
        self.registry = registry
        self.journal = journal
        self.clock = clock
        self.limits = limits
        self.log = log
    }

    /// The whole job as one plan, under the job's time limit if it has one.
    public func plan() -> AsyncPlan<JSONValue> {
        // The outputs so far, and the bytes they hold: a run keeps at most `limits.maxRunBytes`.
        var outputs: AsyncPlan<(values: [String: JSONValue], bytes: Int)> = .pure(([:], 0))
        for step in description.steps {
            outputs = outputs.flatMap { earlier in
                self.stepPlan(step, earlier: earlier.values).flatMap { output in
                    guard let size = limits.size(of: output), earlier.bytes + size <= limits.maxRunBytes else {
                        return .failure(annotate(ErrInfo(
                            code: .outputsTooLarge,
                            message: "the outputs of this run's steps hold over \(limits.maxRunBytes) bytes of JSON", retryable: false),
                            step.id, nil))
                    }
                    return .pure((earlier.values.merging([step.id: output]) { _, new in new }, earlier.bytes + size))
                }
            }
        }
        let lastID = description.steps.last?.id ?? ""
        let whole = outputs.map { $0.values[lastID] ?? .null }
        guard let limit = description.timeout.job else { return whole }
        return whole.timeout(limit.duration, clock: clock)
    }

    private func stepPlan(_ step: PlanStep, earlier: [String: JSONValue]) -> AsyncPlan<JSONValue> {
        guard let each = step.each else {
            return .from(step.input.resolve(outputs: earlier, input: description.input, item: nil).mapError { annotate($0, step.id, nil) })
                .flatMap { input in self.execution(step.id, of: step, input: input) }
        }
        return AsyncPlan.lift { await journal.record(of: step.id) }.flatMap { record in
            if let output = record.output { return .pure(output) }
            return fanOut(step, over: each, earlier: earlier).flatMap { outputs in
                let array = JSONValue.array(outputs)
                if let error = limits.check(array, as: "output") { return .failure(annotate(error, step.id, nil)) }
                return AsyncPlan<Void>.lift { await journal.begin(step.id, attempt: record.attempts + 1) }
                    .flatMap { _ in AsyncPlan<Void>.lift { await journal.finish(step.id, attempt: record.attempts + 1, outcome: .success(array)) } }
                    .map { _ in array }
            }
        }
    }

    private func fanOut(_ step: PlanStep, over each: Template, earlier: [String: JSONValue]) -> AsyncPlan<[JSONValue]> {
        let elements = each.resolve(outputs: earlier, input: description.input, item: nil).flatMap { value in
            value.arrayValue.map(Result.success)
                ?? .failure(.invalidInput("each of step \"\(step.id)\" is \(value.kindName), not an array"))
        }
        return AsyncPlan<[JSONValue]>.from(elements.mapError { annotate($0, step.id, nil) }).flatMap { items in
            guard items.count <= limits.maxFanOut else {
                return .failure(annotate(ErrInfo(
                    code: .fanOutTooLarge, message: "each of step \"\(step.id)\" has \(items.count) elements, over \(limits.maxFanOut)",
                    retryable: false), step.id, nil))
            }
            let plans = items.enumerated().map { index, item in
                let key = "\(step.id)[\(index)]"
                return AsyncPlan.from(step.input.resolve(outputs: earlier, input: description.input, item: item).mapError { annotate($0, key, nil) })
                    .flatMap { input in self.execution(key, of: step, input: input) }
            }
            return gather(plans, concurrency: step.concurrency)
        }
    }

    private func execution(_ key: String, of step: PlanStep, input: JSONValue) -> AsyncPlan<JSONValue> {
        AsyncPlan.lift { await journal.record(of: key) }.flatMap { record in
            if let output = record.output { return .pure(output) }
            if let error = limits.check(input, as: "input") { return .failure(annotate(error, key, nil)) }
            let policy = description.retryPolicy(for: step)
            guard record.attempts < policy.maxAttempts else {
                var error = ErrInfo(
                    code: .attemptsExhausted,
                    message: "step \"\(key)\" was started \(record.attempts) times (max_attempts \(policy.maxAttempts))",
                    retryable: false, details: record.lastError?.json)
                error = annotate(error, key, record.attempts)
                return .failure(error)
            }
            guard let capability = registry[step.call] else {
                return .failure(annotate(ErrInfo(
                    code: .unknownCapability, message: "no capability \"\(step.call)\" is registered", retryable: false), key, nil))
            }
            let attempt = record.attempts + 1
            let limit = description.timeout(for: step).duration
            let context = StepContext(
                jobID: jobID, stepKey: key, attempt: attempt, idempotencyKey: "\(description.idempotencyKey)/\(key)",
                timeout: limit, traceparent: description.traceparent.map { Traceparent.forStep($0, jobID: jobID, stepKey: key, attempt: attempt) },
                log: log)
            let call = AsyncPlan.lift { await capability.call(input, context) }.timeout(limit, clock: clock)
                .bounded(by: limits)
            return AsyncPlan<Void>.lift { await journal.begin(key, attempt: attempt) }
                .flatMap { _ in call.mapError { annotate($0, key, attempt) }.materialized() }
                .flatMap { outcome in
                    AsyncPlan<Void>.lift { await journal.finish(key, attempt: attempt, outcome: outcome) }
                        .flatMap { _ in .from(outcome) }
                }
        }
    }

    private func annotate(_ error: ErrInfo, _ key: String, _ attempt: Int?) -> ErrInfo {
        var error = error
        error.step = key
        error.attempt = attempt
        return error
    }
}

extension AsyncPlan where Value == JSONValue {
    /// A capability's outcome kept within `limits` before it is recorded: an output over them
    /// becomes its `output_too_large`/`output_too_deep` error, an error's details over them are dropped.
    func bounded(by limits: ValueLimits) -> AsyncPlan<JSONValue> {
        materialized().flatMap { outcome in
            switch outcome {
            case .success(let output):
                if let error = limits.check(output, as: "output") { return .failure(error) }
                return .pure(output)
            case .failure(var error):
                if let details = error.details, let problem = limits.check(details, as: "details") {
                    error.details = nil
                    error.message += " (details dropped: \(problem.message))"
                }
                return .failure(error)
            }
        }
    }
}
