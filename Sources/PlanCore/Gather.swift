/// Runs independent plans with at most `concurrency` in flight at once.
///
/// The values come back in input order. The first error wins: the plans still running are
/// cancelled, those not yet started never start, and the result is that error.
public func gather<Value: Sendable>(_ plans: [AsyncPlan<Value>], concurrency: Int) -> AsyncPlan<[Value]> {
    let limit = max(1, concurrency)
    return .lift {
        await withTaskGroup(of: (Int, Result<Value, ErrInfo>).self) { group in
            var values = [Value?](repeating: nil, count: plans.count)
            var nextIndex = 0
            func startNext() {
                let index = nextIndex
                nextIndex += 1
                group.addTask { (index, await plans[index].run()) }
            }
            while nextIndex < min(limit, plans.count) { startNext() }
            while let (index, outcome) = await group.next() {
                switch outcome {
                case .failure(let error):
                    group.cancelAll()
                    return .failure(error)
                case .success(let value):
                    values[index] = value
                    if nextIndex < plans.count && !Task.isCancelled { startNext() }
                }
            }
            if Task.isCancelled && values.contains(where: { $0 == nil }) { return .failure(.cancelled) }
            return .success(values.map { $0! })
        }
    }
}
