import PlanStore

/// The sleeps of a worker's plans (step and job timeouts, retry backoffs), as one queue of
/// deadlines served by one task (`run`). A sleep cancelled before its deadline — a step that ended
/// within its timeout, nearly every one — leaves the queue at once. `Task.sleep` here keeps a
/// cancelled sleep's timer, and the memory it holds, until its deadline: with a five-minute step
/// timeout a busy worker's memory grew with every job it ran, and arming a timer per step cost a
/// fifth of the CPU a single-step job takes.
final class TimerQueue: Sendable {
    typealias Instant = ContinuousClock.Instant

    private struct Sleeper {
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
        /// The deadline the serving task sleeps until (`nil`: none, it waits to be rung).
        var armed: Instant?
        var stopped = false
    }

    private let state = Locked(State())
    private let doorbell = Doorbell()

    /// Sleeps waiting for their deadline.
    var pending: Int { state.withLock { $0.sleepers.count } }

    /// Returns at `deadline`; throws `CancellationError` when cancelled first, or once the queue stopped.
    func sleep(until deadline: Instant) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (refused, earlier) = state.withLock { state -> (Bool, Bool) in
                    if state.stopped || Task.isCancelled { return (true, false) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return (false, state.armed.map { deadline < $0 } ?? true)
                }
                if refused {
                    continuation.resume(throwing: CancellationError())
                } else if earlier {
                    doorbell.ring()
                }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// The longest the serving task sleeps while sleeps wait: its own sleep is cut short (and its
    /// timer left behind) only by a deadline sooner than that.
    private static let longestWait = Duration.seconds(1)

    /// Serves the queue until cancelled: wakes each sleep at its deadline. Sleeps still waiting
    /// then, and any asked for later, end with `CancellationError`.
    func run() async {
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let now = clock.now
            let (due, armed) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], Instant?) in
                let due = state.sleepers.filter { $0.value.deadline <= now }.sorted { $0.value.deadline < $1.value.deadline }
                for (id, _) in due { state.sleepers.removeValue(forKey: id) }
                state.armed = state.sleepers.values.map(\.deadline).min().map { min($0, now.advanced(by: Self.longestWait)) }
                return (due.map(\.value.continuation), state.armed)
            }
            for continuation in due { continuation.resume() }
            await doorbell.wait(upTo: armed.map { now.duration(to: $0) } ?? .seconds(3600), clock: clock)
        }
        let left = state.withLock { state -> [Sleeper] in
            state.stopped = true
            defer { state.sleepers = [:] }
            return Array(state.sleepers.values)
        }
        for sleeper in left { sleeper.continuation.resume(throwing: CancellationError()) }
    }
}

/// A clock whose sleeps are a `TimerQueue`'s: what the worker's plans run on.
struct QueuedClock: Clock {
    let timers: TimerQueue

    var now: ContinuousClock.Instant { .now }
    var minimumResolution: Duration { ContinuousClock().minimumResolution }

    func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration? = nil) async throws {
        try await timers.sleep(until: deadline)
    }
}
