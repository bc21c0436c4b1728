/// A pure, replayable description of async work that ends in a `Value` or an `ErrInfo`.
///
/// Building a plan performs nothing. Every `run()` starts the described work afresh, so one plan
/// value can be performed any number of times. Only the shell (the worker's interpreter, the CLI,
/// tests) calls `run()`; `PlanCore` only describes.
public struct AsyncPlan<Value: Sendable>: Sendable {
    private let body: @Sendable () async -> Result<Value, ErrInfo>

    /// Wraps an effect. The closure must start fresh work on every call: it is called once per `run()`.
    public static func lift(_ body: @escaping @Sendable () async -> Result<Value, ErrInfo>) -> AsyncPlan {
        AsyncPlan(body: body)
    }

    /// Succeeds with `value`; no effect.
    public static func pure(_ value: Value) -> AsyncPlan {
        AsyncPlan { .success(value) }
    }

    /// Fails with `error`; no effect.
    public static func failure(_ error: ErrInfo) -> AsyncPlan {
        AsyncPlan { .failure(error) }
    }

    /// Performs the described work once and returns its outcome.
    public func run() async -> Result<Value, ErrInfo> {
        await body()
    }

    /// Runs this plan, then the plan `next` makes of its value; an error short-circuits.
    public func flatMap<Next: Sendable>(_ next: @escaping @Sendable (Value) -> AsyncPlan<Next>) -> AsyncPlan<Next> {
        AsyncPlan<Next> {
            switch await self.body() {
            case .success(let value): await next(value).body()
            case .failure(let error): .failure(error)
            }
        }
    }

    /// Transforms the value of a success.
    public func map<Next: Sendable>(_ transform: @escaping @Sendable (Value) -> Next) -> AsyncPlan<Next> {
        flatMap { .pure(transform($0)) }
    }

    /// Transforms the error of a failure; successes pass unchanged.
    public func mapError(_ transform: @escaping @Sendable (ErrInfo) -> ErrInfo) -> AsyncPlan {
        AsyncPlan { await self.body().mapError(transform) }
    }
}

extension AsyncPlan {
    /// Succeeds or fails as `result` says; no effect.
    public static func from(_ result: Result<Value, ErrInfo>) -> AsyncPlan {
        AsyncPlan { result }
    }

    /// A plan that always succeeds, with this plan's outcome as its value: the way to act on
    /// failures as well as successes (record them, say) before passing them on with `from`.
    public func materialized() -> AsyncPlan<Result<Value, ErrInfo>> {
        AsyncPlan<Result<Value, ErrInfo>> { .success(await self.body()) }
    }
}
