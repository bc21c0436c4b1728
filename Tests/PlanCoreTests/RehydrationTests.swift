import Clocks
import PlanCore
import Testing

private func rehydrate(_ description: PlanDescription, _ capabilities: [Capability], journal: MemoryJournal = MemoryJournal())
    -> AsyncPlan<JSONValue>
{
    Rehydrator(description: description, jobID: 7, registry: CapabilityRegistry(capabilities), journal: journal,
               clock: ContinuousClock()).plan()
}

/// `fetch` returns a fixed document; `upper` uppercases its `text` input.
private func fixtures(_ counter: CallCounter) -> [Capability] {
    [
        counter.echo(),
        Capability("fetch") { _, _ in
            counter.enter()
            counter.leave()
            return .success(["body": ["email": "ada@example.com", "items": ["x", "y", "z"]]])
        },
        Capability("upper") { input, _ in
            counter.enter(input)
            counter.leave()
            return .success(.string(input.objectValue?["text"]?.stringValue?.uppercased() ?? ""))
        },
    ]
}

private let pipeline = #"""
{"version":1,"idempotency_key":"job-1","input":{"greeting":"hello"},
 "steps":[{"id":"fetch","call":"fetch"},
          {"id":"mail","call":"echo","input":{"to":{"$ref":"fetch","path":"/body/email"},"say":{"$input":"/greeting"}}},
          {"id":"each","call":"upper","each":{"$ref":"fetch","path":"/body/items"},"input":{"text":{"$item":""}},"concurrency":2},
          {"id":"last","call":"echo","input":{"mail":{"$ref":"mail"},"items":{"$ref":"each"}}}]}
"""#

@Suite(.timeLimit(.minutes(1))) struct Rehydration {
    @Test func dataFlowsThroughRefInputAndItem() async throws {
        let counter = CallCounter()
        let journal = MemoryJournal()
        let result = await rehydrate(try plan(pipeline), fixtures(counter), journal: journal).run()
        #expect(result == .success([
            "mail": ["to": "ada@example.com", "say": "hello"],
            "items": ["X", "Y", "Z"],
        ]))
        #expect(counter.calls == 6)
        let records = await journal.records
        #expect(records["each"]?.output == ["X", "Y", "Z"])
        #expect(records["each[1]"]?.output == "Y")
        #expect(records["fetch"]?.attempts == 1)
    }

    @Test func recordedStepsAreReplayedWithoutCallingTheirCapability() async throws {
        let counter = CallCounter()
        let journal = MemoryJournal([
            "fetch": StepRecord(output: ["body": ["email": "old@example.com", "items": ["q"]]], attempts: 1),
            "mail": StepRecord(output: ["replayed": true], attempts: 2),
        ])
        let result = await rehydrate(try plan(pipeline), fixtures(counter), journal: journal).run()
        #expect(result == .success(["mail": ["replayed": true], "items": ["Q"]]))
        #expect(counter.inputs == [["text": "q"], ["mail": ["replayed": true], "items": ["Q"]]])
        #expect(await journal.log == ["begin each[0] #1", "ok each[0] #1", "begin each #1", "ok each #1", "begin last #1", "ok last #1"])
    }

    @Test func aHalfFinishedEachReplaysOnlyTheMissingElements() async throws {
        let counter = CallCounter()
        let journal = MemoryJournal([
            "fetch": StepRecord(output: ["body": ["email": "a@b", "items": ["a", "b", "c", "d"]]], attempts: 1),
            "mail": StepRecord(output: "m", attempts: 1),
            "each[0]": StepRecord(output: "A!", attempts: 1),
            "each[2]": StepRecord(output: "C!", attempts: 1),
            "each[3]": StepRecord(attempts: 1),
        ])
        let result = await rehydrate(try plan(pipeline), fixtures(counter), journal: journal).run()
        #expect(result == .success(["mail": "m", "items": ["A!", "B", "C!", "D"]]))
        #expect(Set(counter.inputs.prefix(2)) == [["text": "b"], ["text": "d"]])
        #expect(await journal.records["each[3]"]?.attempts == 2, "the element in flight runs again as attempt 2")
    }

    @Test func aFailingStepStopsThePlanAndCarriesItsKeyAndAttempt() async throws {
        let counter = CallCounter()
        let failing = Capability("fail") { input, _ in
            .failure(ErrInfo(code: "boom", message: "no", retryable: true))
        }
        let description = try plan(#"{"version":1,"steps":[{"id":"a","call":"fail"},{"id":"b","call":"echo"}]}"#)
        let journal = MemoryJournal(["a": StepRecord(attempts: 2)])
        let result = await rehydrate(description, [failing, counter.echo()], journal: journal).run()
        var expected = ErrInfo(code: "boom", message: "no", retryable: true)
        expected.step = "a"
        expected.attempt = 3
        #expect(result == .failure(expected))
        #expect(counter.calls == 0)
        #expect(await journal.log == ["begin a #3", "error a #3 boom"])
        #expect(description.decision(after: expected, jobAttempt: 1, random: 0.5) == .retry(after: .seconds(2)),
                "the default policy after attempt 3: 1s * 2^2, half of it drawn by full jitter")
    }

    @Test func aStepStartedMaxAttemptsTimesIsNotRunAgain() async throws {
        let counter = CallCounter()
        let description = try plan(#"{"version":1,"steps":[{"id":"a","call":"echo","retry":{"max_attempts":3}}]}"#)
        let journal = MemoryJournal(["a": StepRecord(attempts: 3)])
        let result = await rehydrate(description, [counter.echo()], journal: journal).run()
        #expect(result.failureCode == "attempts_exhausted")
        #expect(counter.calls == 0)
        #expect(await journal.log.isEmpty)
    }

    @Test func stepsGetTheirIdempotencyKeyAndAttempt() async throws {
        let seen = CallCounter()
        let probe = Capability("probe") { _, context in
            seen.enter(["key": .string(context.idempotencyKey), "attempt": .integer(Int64(context.attempt)), "job": .integer(context.jobID)])
            return .success(.null)
        }
        let description = try plan(#"{"version":1,"idempotency_key":"K","steps":[{"id":"s","call":"probe","each":[1,2]}]}"#)
        _ = await rehydrate(description, [probe], journal: MemoryJournal(["s[1]": StepRecord(attempts: 1)])).run()
        #expect(Set(seen.inputs) == [["key": "K/s[0]", "attempt": 1, "job": 7], ["key": "K/s[1]", "attempt": 2, "job": 7]])
    }

    @Test func anUnknownCapabilityFailsWithoutStarting() async throws {
        let journal = MemoryJournal()
        let result = await rehydrate(try plan(#"{"version":1,"steps":[{"id":"s","call":"nope"}]}"#), [], journal: journal).run()
        #expect(result.failureCode == "unknown_capability")
        #expect(await journal.log.isEmpty)
    }

    @Test func aMissingPointerTargetIsInvalidInput() async throws {
        let counter = CallCounter()
        let description = try plan(#"{"version":1,"steps":[{"id":"s","call":"echo","input":{"$input":"/missing"}}]}"#)
        let result = await rehydrate(description, [counter.echo()]).run()
        #expect(result.failureCode == "invalid_input")
        #expect(counter.calls == 0)
    }

    @Test func theStepTimeoutIsWiredIn() async throws {
        let clock = TestClock()
        let cancelled = CallCounter()
        let hang = Capability("hang") { _, _ in await untilCancelled(cancelled) }
        let description = try plan(#"{"version":1,"steps":[{"id":"s","call":"hang","timeout":"2s"}]}"#)
        let journal = MemoryJournal()
        let running = Rehydrator(description: description, jobID: 1, registry: CapabilityRegistry([hang]), journal: journal, clock: clock).plan()
        let task = Task { await running.run() }
        #expect(await sleeperArrives(on: clock))
        await clock.advance(by: .seconds(2))
        #expect(await task.value.failureCode == "timeout")
        #expect(cancelled.calls == 1)
        #expect(await journal.log == ["begin s #1", "error s #1 timeout"])
    }
}
