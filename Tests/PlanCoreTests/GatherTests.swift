import PlanCore
import Testing
import PlanStore

@Suite struct Gather {
    @Test func keepsInputOrder() async {
        let plans = (0..<20).map { index in
            AsyncPlan<Int>.lift {
                for _ in 0..<(20 - index) { await Task.yield() }
                return .success(index)
            }
        }
        #expect(await gather(plans, concurrency: 7).run() == .success(Array(0..<20)))
    }

    @Test(arguments: [1, 3, 8])
    func neverExceedsTheConcurrencyBound(limit: Int) async {
        let counter = CallCounter()
        let capability = counter.echo()
        let context = StepContext(jobID: 1, stepKey: "s", attempt: 1, idempotencyKey: "k/s", timeout: .seconds(1))
        let plans = (0..<40).map { index in AsyncPlan.lift { await capability.call(.integer(Int64(index)), context) } }
        let result = await gather(plans, concurrency: limit).run()
        #expect(result == .success((0..<40).map { .integer(Int64($0)) }))
        #expect(counter.calls == 40)
        #expect(counter.maxInFlight == limit)
    }

    @Test func firstErrorWinsAndCancelsTheRest() async {
        let counter = CallCounter()
        let cancelled = Locked(0)
        let slow = AsyncPlan<Int>.lift {
            counter.enter()
            defer { counter.leave() }
            do {
                try await Task.sleep(for: .seconds(30))
                return .success(0)
            } catch {
                cancelled.withLock { $0 += 1 }
                return .failure(.cancelled)
            }
        }
        let failing = AsyncPlan<Int>.lift {
            await Task.yield()
            return .failure(ErrInfo(code: "boom", message: "boom", retryable: false))
        }
        let result = await gather([slow, slow, failing, slow, slow], concurrency: 3).run()
        #expect(result == .failure(ErrInfo(code: "boom", message: "boom", retryable: false)))
        // The two started were cancelled, not waited out (a bound on the wall clock failed when other
        // suites kept the test threads busy).
        #expect(cancelled.withLock { $0 } == 2)
        #expect(counter.calls == 2, "plans after the failure never start")
    }

    @Test func emptyInputGivesEmptyOutput() async {
        #expect(await gather([AsyncPlan<Int>](), concurrency: 4).run() == .success([]))
    }
}
