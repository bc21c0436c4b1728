import Clocks
import PlanCore
import Testing

/// A plan that fails with `error` the first `failures` times it runs, then succeeds with the call count.
private func flaky(_ counter: CallCounter, failures: Int, error: ErrInfo) -> AsyncPlan<Int> {
    .lift {
        counter.enter()
        counter.leave()
        return counter.calls > failures ? .success(counter.calls) : .failure(error)
    }
}

private let transient = ErrInfo(code: "unavailable", message: "try later", retryable: true)
private let fixedOneSecond = RetryPolicy(
    maxAttempts: 4, backoff: .fixed, initial: PlanDuration(milliseconds: 1000), max: PlanDuration(milliseconds: 60_000),
    multiplier: 2, jitter: .none, nonRetryable: ["invalid_input"])

@Suite(.timeLimit(.minutes(1))) struct RetryingOnATestClock {
    @Test func retriesAfterTheBackoffAndSucceeds() async {
        let clock = TestClock()
        let counter = CallCounter()
        let task = Task { await flaky(counter, failures: 2, error: transient).retrying(fixedOneSecond, clock: clock).run() }
        #expect(await sleeperArrives(on: clock))
        await clock.advance(by: .milliseconds(999))
        #expect(counter.calls == 1, "no second attempt before the backoff has passed")
        await clock.advance(by: .milliseconds(1))
        #expect(await sleeperArrives(on: clock))
        #expect(counter.calls == 2)
        await clock.advance(by: .seconds(1))
        #expect(await task.value == .success(3))
        #expect(counter.calls == 3)
    }

    @Test func stopsAtMaxAttemptsWithTheLastError() async {
        let clock = TestClock()
        let counter = CallCounter()
        let task = Task { await flaky(counter, failures: 100, error: transient).retrying(fixedOneSecond, clock: clock).run() }
        for _ in 1...3 {
            #expect(await sleeperArrives(on: clock))
            await clock.advance(by: .seconds(1))
        }
        #expect(await task.value == .failure(transient))
        #expect(counter.calls == 4)
    }

    @Test func nonRetryableErrorsFailAtOnce() async {
        let clock = TestClock()
        for error in [ErrInfo(code: "invalid_input", message: "bad", retryable: true), ErrInfo(code: "x", message: "x", retryable: false)] {
            let counter = CallCounter()
            let result = await flaky(counter, failures: 100, error: error).retrying(fixedOneSecond, clock: clock).run()
            #expect(result == .failure(error))
            #expect(counter.calls == 1)
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct TimeoutOnATestClock {
    @Test func failsWithTimeoutAndCancelsTheWork() async {
        let clock = TestClock()
        let counter = CallCounter()
        let slow = AsyncPlan<JSONValue>.lift { await untilCancelled(counter) }
        let task = Task { await slow.timeout(.seconds(5), clock: clock).run() }
        #expect(await sleeperArrives(on: clock))
        await clock.advance(by: .milliseconds(4999))
        #expect(counter.calls == 0)
        await clock.advance(by: .milliseconds(1))
        let result = await task.value
        #expect(result.failureCode == "timeout")
        #expect((try? result.get()) == nil)
        #expect(counter.calls == 1, "the slow work saw its cancellation")
    }

    @Test func workThatFinishesInTimeSucceeds() async {
        let clock = TestClock()
        let quick = AsyncPlan<Int>.lift {
            await Task.yield()
            return .success(7)
        }
        #expect(await quick.timeout(.seconds(5), clock: clock).run() == .success(7))
        #expect(clock.now == .init(offset: .zero), "no time had to pass")
    }

    @Test func timeoutErrorIsRetryable() {
        let error = ErrInfo.timeout(after: .milliseconds(1500))
        #expect(error.retryable)
        #expect(error.message == "timed out after 1500ms")
    }
}

extension Result where Failure == ErrInfo {
    var failureCode: String? {
        if case .failure(let error) = self { return error.code.rawValue }
        return nil
    }
}
