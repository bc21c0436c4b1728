import PlanCore
import PropertyBased
import Testing

private func policy(_ backoff: Backoff, jitter: Jitter = .none) -> RetryPolicy {
    RetryPolicy(maxAttempts: 10, backoff: backoff, initial: PlanDuration("2s")!, max: PlanDuration("1m")!,
                multiplier: 3, jitter: jitter, nonRetryable: [])
}

@Suite struct Backoffs {
    @Test func fixedWaitsInitialEveryTime() {
        #expect((1...5).map { policy(.fixed).delay(afterAttempt: $0, unit: 0.5) } == Array(repeating: .seconds(2), count: 5))
    }

    @Test func linearGrowsByInitial() {
        #expect((1...4).map { policy(.linear).delay(afterAttempt: $0, unit: 0) } == [.seconds(2), .seconds(4), .seconds(6), .seconds(8)])
    }

    @Test func exponentialMultipliesAndIsCappedAtMax() {
        #expect((1...5).map { policy(.exponential).delay(afterAttempt: $0, unit: 0) }
                == [.seconds(2), .seconds(6), .seconds(18), .seconds(54), .seconds(60)])
        #expect(policy(.exponential).delay(afterAttempt: 1000, unit: 0) == .seconds(60))
    }

    @Test func fullJitterStaysBetweenZeroAndTheDelay() async {
        await propertyCheck(input: Gen.int(in: 1...12), Gen.double(in: 0..<1)) { attempt, unit in
            let plain = policy(.exponential).delay(afterAttempt: attempt, unit: unit)
            let jittered = policy(.exponential, jitter: .full).delay(afterAttempt: attempt, unit: unit)
            #expect(jittered >= .zero)
            #expect(jittered <= plain)
        }
    }

    @Test func fullJitterScalesByTheDraw() {
        #expect(policy(.fixed, jitter: .full).delay(afterAttempt: 1, unit: 0.25) == .milliseconds(500))
        #expect(policy(.fixed, jitter: .full).delay(afterAttempt: 1, unit: 0) == .zero)
    }

    @Test func decisionHonoursRetryableCodesAndAttempts() {
        var retry = policy(.fixed)
        retry.nonRetryable = ["not_found"]
        let transient = ErrInfo(code: "exit_status", message: "", retryable: true)
        #expect(retry.decision(after: transient, attempt: 1, random: 0) == .retry(after: .seconds(2)))
        #expect(retry.decision(after: transient, attempt: 10, random: 0) == .giveUp)
        #expect(retry.decision(after: ErrInfo(code: "not_found", message: "", retryable: true), attempt: 1, random: 0) == .giveUp)
        #expect(retry.decision(after: ErrInfo(code: "x", message: "", retryable: false), attempt: 1, random: 0) == .giveUp)
    }
}

@Suite struct Durations {
    @Test(arguments: [("250ms", 250), ("30s", 30_000), ("5m", 300_000), ("2h", 7_200_000), ("1d", 86_400_000), ("0s", 0)])
    func parses(text: String, milliseconds: Int64) {
        #expect(PlanDuration(text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "s", "5", "-5s", "1.5s", "5 s", "5sec", "5M", "367d", "99999999999999ms", "1e3s", "+3s"])
    func rejects(text: String) {
        #expect(PlanDuration(text) == nil)
    }

    @Test func formatsInTheLargestExactUnit() {
        #expect(PlanDuration("120s")?.text == "2m")
        #expect(PlanDuration("90s")?.text == "90s")
        #expect(PlanDuration("1500ms")?.text == "1500ms")
        #expect(PlanDuration("48h")?.text == "2d")
    }
}

@Suite struct Timestamps {
    @Test func parsesRFC3339AndWritesUTCWithMilliseconds() {
        #expect(Timestamp(rfc3339: "2026-11-25T14:03:07.123Z")?.iso8601 == "2026-11-25T14:03:07.123Z")
        #expect(Timestamp(rfc3339: "2026-11-25T15:03:07+01:00")?.iso8601 == "2026-11-25T14:03:07.000Z")
        #expect(Timestamp(rfc3339: "1970-01-01T00:00:00Z")?.millisecondsSinceEpoch == 0)
        #expect(Timestamp(rfc3339: "2024-02-29T23:59:59.9999Z")?.iso8601 == "2024-02-29T23:59:59.999Z")
        // Beyond four-digit years (a far run_at reached by adding a duration) the year grows.
        #expect(Timestamp(millisecondsSinceEpoch: 253_402_300_800_007).iso8601 == "10000-01-01T00:00:00.007Z")
    }

    @Test(arguments: ["2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-25", "2026-11-25T14:03:07", "tomorrow", "2026-11-25T25:00:00Z"])
    func rejects(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func roundTripsAnyMillisecond() async {
        await propertyCheck(input: Gen.int64(in: -62_000_000_000_000...253_000_000_000_000)) { millis in
            let time = Timestamp(millisecondsSinceEpoch: millis)
            #expect(Timestamp(rfc3339: time.iso8601) == time)
        }
    }
}
