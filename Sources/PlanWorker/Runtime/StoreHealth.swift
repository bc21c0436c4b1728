import Logging
import PlanStore

/// The worker's view of its database: healthy, or at fault (locked past the busy timeout, full,
/// read-only, failing I/O) since some failure. A fault is logged once when it starts, again only
/// when its kind changes (with the count so far) and once when it clears; while it lasts, the
/// claim loop waits `backoff` between attempts, doubling from 10 ms to 5 s.
struct StoreHealth {
    static let firstBackoff = Duration.milliseconds(10)
    static let longestBackoff = Duration.seconds(5)

    /// The error of the current fault (its latest), or `nil` when healthy.
    private(set) var fault: String?
    private var faultKind: String?
    /// Failures since the fault began.
    private(set) var failures = 0
    /// How long to wait before the next attempt.
    private(set) var backoff = Duration.zero

    var isHealthy: Bool { fault == nil }

    /// Records a failed store call; returns how long to wait before trying again.
    mutating func failed(_ error: StoreError, doing what: String, logger: Logger) -> Duration {
        failures += 1
        backoff = backoff == .zero ? Self.firstBackoff : min(backoff * 2, Self.longestBackoff)
        let kind = error.faultKind
        if faultKind != kind {
            logger.error("store fault; backing off", metadata: [
                "doing": "\(what)", "error": "\(error)", "failures": "\(failures)",
            ])
            faultKind = kind
        }
        fault = error.description
        return backoff
    }

    /// Records a store call that worked; logs the recovery when a fault is over.
    mutating func succeeded(logger: Logger) {
        guard fault != nil else { return }
        logger.notice("store recovered", metadata: ["failures": "\(failures)"])
        fault = nil
        faultKind = nil
        failures = 0
        backoff = .zero
    }

    /// The systemd `STATUS=` text for a fault.
    var status: String? {
        fault.map { "store fault (\(failures) failures, retrying every \(backoff)): \($0)" }
    }
}
