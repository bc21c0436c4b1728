/// How the delay between attempts grows.
public enum Backoff: String, Sendable, Hashable, CaseIterable {
    case fixed, linear, exponential
}

/// Whether a random part is taken off the delay.
public enum Jitter: String, Sendable, Hashable, CaseIterable {
    /// The delay as computed.
    case none
    /// A uniformly random delay between zero and the computed one.
    case full
}

/// What to do after a failed attempt.
public enum RetryDecision: Sendable, Hashable {
    case retry(after: Duration)
    case giveUp
}

/// A retry policy, as data. `maxAttempts` counts every execution, the first one included.
public struct RetryPolicy: Sendable, Hashable {
    public var maxAttempts: Int
    public var backoff: Backoff
    public var initial: PlanDuration
    public var max: PlanDuration
    public var multiplier: Double
    public var jitter: Jitter
    /// Error codes that fail at once, whatever `retryable` says.
    public var nonRetryable: [String]

    /// The default of plan v1: 5 attempts, exponential from 1s doubling up to 5m, full jitter.
    public static let standard = RetryPolicy(
        maxAttempts: 5, backoff: .exponential, initial: PlanDuration(milliseconds: 1000),
        max: PlanDuration(milliseconds: 300_000), multiplier: 2, jitter: .full, nonRetryable: [])

    public init(maxAttempts: Int, backoff: Backoff, initial: PlanDuration, max: PlanDuration,
                multiplier: Double, jitter: Jitter, nonRetryable: [String]) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.initial = initial
        self.max = max
        self.multiplier = multiplier
        self.jitter = jitter
        self.nonRetryable = nonRetryable
    }

    /// The wait after failed attempt `attempt` (from 1) and before the next one, with `unit` in `0..<1`
    /// the random draw for jitter: `initial`, `initial*n` or `initial*multiplier^(n-1)`, capped at `max`,
    /// then scaled by `unit` when jitter is full. A pure function of its arguments.
    public func delay(afterAttempt attempt: Int, unit: Double) -> Duration {
        let n = Double(Swift.max(1, attempt))
        let base = Double(initial.milliseconds)
        let raw: Double = switch backoff {
        case .fixed: base
        case .linear: base * n
        case .exponential: base * pow(multiplier, n - 1)
        }
        let capped = Swift.min(raw.isFinite ? raw : .infinity, Double(max.milliseconds))
        let jittered = jitter == .full ? capped * Swift.min(Swift.max(unit, 0), 1) : capped
        return .milliseconds(Int64(jittered.rounded(.down)))
    }

    /// Retry after `error` from attempt `attempt` when it is retryable, its code is not listed in
    /// `nonRetryable`, and attempts remain; give up otherwise.
    public func decision(after error: ErrInfo, attempt: Int, random unit: Double) -> RetryDecision {
        guard error.retryable, !nonRetryable.contains(error.code.rawValue), attempt < maxAttempts else { return .giveUp }
        return .retry(after: delay(afterAttempt: attempt, unit: unit))
    }
}

/// `base` raised to a whole or fractional power, without Foundation.
func pow(_ base: Double, _ exponent: Double) -> Double {
    guard exponent > 0 else { return 1 }
    var result = 1.0
    var remaining = exponent
    while remaining >= 1 {
        result *= base
        remaining -= 1
        if !result.isFinite { return result }
    }
    return result
}
