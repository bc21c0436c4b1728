@testable import PlanWorker
import PlanStore
import Testing

/// The worker's plans sleep on one queue of deadlines: a sleep ends at its deadline, and a sleep
/// cancelled first (a step that ended within its timeout) leaves nothing behind.
@Suite struct TimerQueueSleeps {
    /// Runs `body` with a queue served by a task of its own, stopped afterwards.
    func withServedQueue(_ body: (TimerQueue) async throws -> Void) async throws {
        let timers = TimerQueue()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await timers.run() }
            try await body(timers)
            group.cancelAll()
        }
    }

    @Test(.timeLimit(.minutes(1))) func aSleepEndsAtItsDeadlineWithoutWaitingForALaterOne() async throws {
        try await withServedQueue { timers in
            let clock = ContinuousClock()
            let later = Task { try await timers.sleep(until: clock.now.advanced(by: .seconds(300))) }
            while timers.pending == 0 { try await Task.sleep(for: .milliseconds(1)) }
            let start = clock.now
            try await timers.sleep(until: start.advanced(by: .milliseconds(150)))
            #expect(clock.now >= start.advanced(by: .milliseconds(150)))
            #expect(timers.pending == 1, "the later sleep still waits")
            later.cancel()
            await #expect(throws: CancellationError.self) { try await later.value }
            #expect(timers.pending == 0)
        }
    }

    @Test func aCancelledSleepLeavesTheQueueAtOnce() async throws {
        try await withServedQueue { timers in
            let sleeper = Task { try await timers.sleep(until: .now.advanced(by: .seconds(300))) }
            while timers.pending == 0 { try await Task.sleep(for: .milliseconds(1)) }
            sleeper.cancel()
            await #expect(throws: CancellationError.self) { try await sleeper.value }
            #expect(timers.pending == 0)
        }
    }

    @Test func aStoppedQueueEndsItsSleepsAndRefusesNewOnes() async throws {
        let timers = TimerQueue()
        let server = Task { await timers.run() }
        let sleeper = Task { try await timers.sleep(until: .now.advanced(by: .seconds(300))) }
        while timers.pending == 0 { try await Task.sleep(for: .milliseconds(1)) }
        server.cancel()
        await server.value
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        await #expect(throws: CancellationError.self) { try await timers.sleep(until: .now.advanced(by: .milliseconds(1))) }
        #expect(timers.pending == 0)
    }

    @Test func theQueuedClockSleepsOnTheQueue() async throws {
        try await withServedQueue { timers in
            let clock = QueuedClock(timers: timers)
            let start = clock.now
            try await clock.sleep(for: .milliseconds(30))
            #expect(clock.now >= start.advanced(by: .milliseconds(30)))
        }
    }
}
