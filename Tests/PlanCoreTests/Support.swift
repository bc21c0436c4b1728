import Clocks
import PlanCore
import PlanStore

/// Counts calls and tracks how many are in flight at once.
final class CallCounter: Sendable {
    private let state = Locked((calls: 0, inFlight: 0, maxInFlight: 0, inputs: [JSONValue]()))

    var calls: Int { state.withLock { $0.calls } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }
    var inputs: [JSONValue] { state.withLock { $0.inputs } }

    func enter(_ input: JSONValue = .null) {
        state.withLock {
            $0.calls += 1
            $0.inFlight += 1
            $0.maxInFlight = max($0.maxInFlight, $0.inFlight)
            $0.inputs.append(input)
        }
    }

    func leave() { state.withLock { $0.inFlight -= 1 } }

    /// A capability that counts its calls, yields a few times, and returns its input.
    func echo(_ name: String = "echo") -> Capability {
        Capability(name) { input, _ in
            self.enter(input)
            defer { self.leave() }
            for _ in 0..<5 { await Task.yield() }
            return .success(input)
        }
    }
}

/// A journal in memory, recording every call made to it.
actor MemoryJournal: Journal {
    var records: [String: StepRecord] = [:]
    var log: [String] = []

    init(_ records: [String: StepRecord] = [:]) { self.records = records }

    func record(of stepKey: String) -> Result<StepRecord, ErrInfo> {
        .success(records[stepKey] ?? StepRecord())
    }

    func begin(_ stepKey: String, attempt: Int) -> Result<Void, ErrInfo> {
        log.append("begin \(stepKey) #\(attempt)")
        records[stepKey, default: StepRecord()].attempts = attempt
        return .success(())
    }

    func finish(_ stepKey: String, attempt: Int, outcome: Result<JSONValue, ErrInfo>) -> Result<Void, ErrInfo> {
        switch outcome {
        case .success(let output):
            log.append("ok \(stepKey) #\(attempt)")
            records[stepKey]?.output = output
        case .failure(let error):
            log.append("error \(stepKey) #\(attempt) \(error.code)")
            records[stepKey]?.lastError = error
        }
        return .success(())
    }
}

/// A plan document decoded, failing the test on any issue.
func plan(_ text: String) throws(PlanValidationError) -> PlanDescription {
    try PlanDescription.decode(Array(text.utf8), newKey: { "generated-key" })
}

/// The issues validation finds in a plan document, as printed; empty when it is valid.
func issues(_ text: String) -> [String] {
    do {
        _ = try plan(text)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

/// Builds an arbitrary JSON value from a seed (SplitMix64), up to `depth` levels deep.
func arbitraryJSON(seed: UInt64, depth: Int = 3) -> JSONValue {
    var state = seed
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    func string() -> String {
        let alphabet = Array("ab~/\"\\\né€😀 $0")
        return String((0..<Int(next() % 6)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] })
    }
    func value(_ depth: Int) -> JSONValue {
        switch next() % (depth > 0 ? 7 : 5) {
        case 0: return .null
        case 1: return .bool(next() % 2 == 0)
        case 2: return .integer(Int64(bitPattern: next()) >> Int64(next() % 64))
        case 3: return .number(Double(Int64(bitPattern: next()) % 1_000_000) / 64)
        case 4: return .string(string())
        case 5: return .array((0..<Int(next() % 4)).map { _ in value(depth - 1) })
        default:
            var members: [JSONKey: JSONValue] = [:]
            for _ in 0..<Int(next() % 4) { members[JSONKey(string())] = value(depth - 1) }
            return .object(members)
        }
    }
    return value(depth)
}

/// Waits, up to 10 s of real time, until some task sleeps on `clock`; `false` if none did.
func sleeperArrives(on clock: TestClock<Duration>) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        do {
            try await clock.checkSuspension()
        } catch {
            return true
        }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return false
}

/// Work that only ends when it is cancelled; it then fails with `cancelled` and counts that in `counter`.
func untilCancelled(_ counter: CallCounter) async -> Result<JSONValue, ErrInfo> {
    do {
        try await Task.sleep(for: .seconds(3600))
        return .success(.null)
    } catch {
        counter.enter()
        return .failure(.cancelled)
    }
}
