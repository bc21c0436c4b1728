import PlanCore
import PlanWorker
import Testing

private let context = StepContext(jobID: 1, stepKey: "s", attempt: 1, idempotencyKey: "k/s", timeout: .seconds(5))

@Suite(.timeLimit(.minutes(1))) struct BuiltinCapabilities {
    @Test func echoReturnsItsInput() async {
        let input: JSONValue = ["a": [1, "b", nil]]
        #expect(await Builtins.echo.call(input, context) == .success(input))
    }

    @Test func failFailsAsTold() async {
        let result = await Builtins.fail.call(["code": "unavailable", "message": "503", "retryable": true], context)
        #expect(result == .failure(ErrInfo(code: "unavailable", message: "503", retryable: true)))
        #expect(await Builtins.fail.call(.null, context) == .failure(ErrInfo(code: "failed", message: "failed on purpose", retryable: false)))
    }

    @Test func sleepWaitsTheDurationOnTheClock() async {
        let clock = ContinuousClock()
        let started = clock.now
        #expect(await Builtins.sleep(clock: clock).call(["for": "20ms"], context) == .success(["slept": "20ms"]))
        #expect(clock.now - started >= .milliseconds(20))
    }

    @Test func sleepHonoursCancellation() async {
        let task = Task { await Builtins.sleep(clock: ContinuousClock()).call(["for": "1h"], context) }
        task.cancel()
        #expect(await task.value == .failure(.cancelled))
    }

    @Test func sleepRejectsABadDuration() async {
        let result = await Builtins.sleep(clock: ContinuousClock()).call(["for": "soon"], context)
        #expect((try? result.get()) == nil)
        if case .failure(let error) = result { #expect(error.code == "invalid_input") }
    }
}
