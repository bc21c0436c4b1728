import Logging
import PlanStore

/// The worker's view of something it depends on (its database, the machine's resources): healthy,
/// or at fault since some failure. A fault is logged once when it starts, again only when its kind
/// changes (with the count so far) and once when it clears; while it lasts, the worker waits
/// `backoff` between attempts, doubling from 10 ms to 5 s.
struct FaultHealth {
    static let firstBackoff = Duration.milliseconds(10)
    static let longestBackoff = Duration.seconds(5)

    /// What is watched, as the log names it: `store`, `resources`.
    let subject: String
    /// The error of the current fault (its latest), or `nil` when healthy.
    private(set) var fault: String?
    private var faultKind: String?
    /// Failures since the fault began.
    private(set) var failures = 0
    /// How long to wait before the next attempt.
    private(set) var backoff = Duration.zero

    init(subject: String = "store") { self.subject = subject }

    var isHealthy: Bool { fault == nil }

    /// Records a failed store call; returns how long to wait before trying again.
    mutating func failed(_ error: StoreError, doing what: String, logger: Logger) -> Duration {
        failed(kind: error.faultKind, error.description, doing: what, logger: logger)
    }

    /// Records a failure of class `kind` (described by `description`); returns how long to wait
    /// before trying again.
    mutating func failed(kind: String, _ description: String, doing what: String, logger: Logger) -> Duration {
        failures += 1
        backoff = backoff == .zero ? Self.firstBackoff : min(backoff * 2, Self.longestBackoff)
        if faultKind != kind {
            logger.error("\(subject) fault; backing off", metadata: [
                "doing": "\(what)", "error": "\(description)", "failures": "\(failures)",
            ])
            faultKind = kind
        }
        fault = description
        return backoff
    }

    /// Records a call that worked; logs the recovery when a fault is over.
    mutating func succeeded(logger: Logger) {
        guard fault != nil else { return }
        logger.notice("\(subject) recovered", metadata: ["failures": "\(failures)"])
        fault = nil
        faultKind = nil
        failures = 0
        backoff = .zero
    }

    /// The systemd `STATUS=` text for a fault.
    var status: String? {
        fault.map { "\(subject) fault (\(failures) failures, retrying every \(backoff)): \($0)" }
    }
}
