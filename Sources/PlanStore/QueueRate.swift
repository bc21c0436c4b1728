import PlanCore

/// At most `limit` jobs of a queue start per `period`, across all workers: `100/1m`.
public struct QueueRate: Sendable, Hashable, CustomStringConvertible {
    public let limit: Int
    public let period: PlanDuration

    public init(limit: Int, period: PlanDuration) {
        self.limit = limit
        self.period = period
    }

    /// `N/PERIOD`, e.g. `100/1m` or `5/1s`; `nil` unless N is 1 to 1,000,000 and the period a
    /// duration from 1ms.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let limit = Int(parts[0]), (1...1_000_000).contains(limit),
              let period = PlanDuration(String(parts[1])), period.milliseconds >= 1 else { return nil }
        self.init(limit: limit, period: period)
    }

    public var description: String { "\(limit)/\(period)" }
}
