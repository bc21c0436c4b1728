import PlanCore
import PropertyBased
import Testing

/// A family of functions `Int -> AsyncPlan<Int>`, chosen by generated parameters; some fail.
private func function(_ k: Int, _ c: Int) -> @Sendable (Int) -> AsyncPlan<Int> {
    { x in
        (x + k).isMultiple(of: 5)
            ? .failure(ErrInfo(code: "f\(k)", message: "failed at \(x)", retryable: k.isMultiple(of: 2)))
            : .pure(x &* k &+ c)
    }
}

/// An arbitrary plan: a success, a failure, or a lifted effect that returns a value.
private func somePlan(_ kind: Int, _ value: Int) -> AsyncPlan<Int> {
    switch kind {
    case 0: .pure(value)
    case 1: .failure(ErrInfo(code: "m", message: "\(value)", retryable: false))
    default: .lift { await Task.yield(); return .success(value &* 3) }
    }
}

private let small = Gen.int(in: -1000...1000)
private let kind = Gen.int(in: 0...2)

@Suite struct MonadLaws {
    @Test func leftIdentity() async {
        await propertyCheck(input: small, small, small) { x, k, c in
            let f = function(k, c)
            #expect(await AsyncPlan.pure(x).flatMap(f).run() == f(x).run())
        }
    }

    @Test func rightIdentity() async {
        await propertyCheck(input: kind, small) { kind, value in
            let m = somePlan(kind, value)
            #expect(await m.flatMap { .pure($0) }.run() == m.run())
        }
    }

    @Test func associativity() async {
        await propertyCheck(input: kind, small, Gen.int(in: -50...50).array(of: 4)) { kind, value, params in
            let m = somePlan(kind, value)
            let f = function(params[0], params[1])
            let g = function(params[2], params[3])
            let left = await m.flatMap(f).flatMap(g).run()
            let right = await m.flatMap { f($0).flatMap(g) }.run()
            #expect(left == right)
        }
    }

    @Test func mapIsFlatMapOfPure() async {
        await propertyCheck(input: kind, small) { kind, value in
            let m = somePlan(kind, value)
            #expect(await m.map { $0 + 1 }.run() == m.flatMap { .pure($0 + 1) }.run())
        }
    }

    @Test func failureShortCircuits() async {
        let counter = CallCounter()
        let plan = AsyncPlan<Int>.failure(ErrInfo(code: "x", message: "x", retryable: false))
            .flatMap { _ in AsyncPlan<Int>.lift { counter.enter(); return .success(1) } }
        #expect(await plan.run() == .failure(ErrInfo(code: "x", message: "x", retryable: false)))
        #expect(counter.calls == 0)
    }
}

@Suite struct Purity {
    @Test func buildingAPlanCallsNothing() {
        let counter = CallCounter()
        let effect = AsyncPlan<Int>.lift { counter.enter(); return .success(1) }
        _ = effect.flatMap { x in effect.map { $0 + x } }.timeout(.seconds(1), clock: ContinuousClock())
        _ = gather([effect, effect, effect], concurrency: 2)
        _ = effect.retrying(.standard, clock: ContinuousClock())
        #expect(counter.calls == 0)
    }

    @Test func rehydratingAPlanCallsNoCapability() throws {
        let counter = CallCounter()
        let description = try plan(#"{"version":1,"steps":[{"id":"a","call":"echo"},{"id":"b","call":"echo","each":[1,2]}]}"#)
        _ = Rehydrator(description: description, jobID: 1, registry: CapabilityRegistry([counter.echo()]),
                       journal: MemoryJournal(), clock: ContinuousClock()).plan()
        #expect(counter.calls == 0)
    }

    @Test func performingOnePlanTwicePerformsTheEffectTwice() async {
        let counter = CallCounter()
        let plan = AsyncPlan<Int>.lift { counter.enter(); return .success(counter.calls) }.map { $0 * 10 }
        #expect(await plan.run() == .success(10))
        #expect(await plan.run() == .success(20))
        #expect(counter.calls == 2)
    }
}
