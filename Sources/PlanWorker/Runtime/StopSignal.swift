import PlanStore

/// Why a running job stopped before its plan ended.
enum StopReason: Sendable {
    /// `planq cancel`: end the job `cancelled`.
    case cancelRequested
    /// Another worker holds the lease now: write nothing more.
    case leaseLost
    /// The worker shuts down: hand the lease back.
    case shutdown
    /// A write of the run met a store fault (locked, full, read-only, ...): hand the lease back
    /// with what the run carried; the plan did nothing wrong.
    case storeFault
    /// A step's call found the machine out of descriptors, memory or processes: hand the lease
    /// back with what the run carried, its execution set aside uncounted; the plan did nothing wrong.
    case resourcesExhausted
}

/// A one-shot stop request for one running job; the first reason given wins. Its waiter is also
/// woken when the job's plan ends by itself (`planEnded`).
final class StopSignal: Sendable {
    private struct State {
        var reason: StopReason?
        var planEnded = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Locked(State())

    var reason: StopReason? { state.withLock { $0.reason } }

    func stop(_ reason: StopReason) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.reason == nil else { return nil }
            state.reason = reason
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The plan ended by itself: wakes the waiter without giving a reason.
    func planEnded() {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.planEnded = true
            defer { state.waiter = nil }
            return state.waiter
        }?.resume()
    }

    /// Returns once a reason was given or the plan ended, or when cancelled. One waiter at a time.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.reason != nil || state.planEnded || Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }?.resume()
        }
    }
}
