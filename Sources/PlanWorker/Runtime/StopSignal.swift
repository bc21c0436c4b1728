import Synchronization

/// Why a running job must stop before its plan ends.
enum StopReason: Sendable {
    /// `planq cancel`: end the job `cancelled`.
    case cancelRequested
    /// Another worker holds the lease now: write nothing more.
    case leaseLost
    /// The worker shuts down: hand the lease back.
    case shutdown
}

/// A one-shot stop request for one running job; the first reason given wins.
final class StopSignal: Sendable {
    private let reasonState = Mutex<StopReason?>(nil)
    private let doorbell = Doorbell()

    var reason: StopReason? { reasonState.withLock { $0 } }

    func stop(_ reason: StopReason) {
        let first = reasonState.withLock { state -> Bool in
            guard state == nil else { return false }
            state = reason
            return true
        }
        if first { doorbell.ring() }
    }

    /// Returns once a reason was given, or when cancelled.
    func wait() async {
        while reason == nil && !Task.isCancelled {
            await doorbell.wait(upTo: .seconds(3600), clock: ContinuousClock())
        }
    }
}
