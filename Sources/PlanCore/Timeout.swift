extension AsyncPlan {
    /// Fails with code `timeout` (retryable) when the plan has not finished within `limit` on `clock`;
    /// the plan is then cancelled.
    public func timeout<C: Clock>(_ limit: Duration, clock: C) -> AsyncPlan where C.Duration == Duration {
        AsyncPlan.lift {
            await withTaskGroup(of: Result<Value, ErrInfo>?.self) { group in
                group.addTask { await self.run() }
                group.addTask {
                    do {
                        try await clock.sleep(for: limit)
                        return .failure(.timeout(after: limit))
                    } catch {
                        return nil
                    }
                }
                while let outcome = await group.next() {
                    if let outcome {
                        group.cancelAll()
                        return outcome
                    }
                }
                return .failure(.cancelled)
            }
        }
    }
}
