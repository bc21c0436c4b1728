extension AsyncPlan {
    /// Runs the plan again after a failure that `policy` says to retry, sleeping the policy's
    /// backoff on `clock` in between; gives up with the last error.
    public func retrying<C: Clock>(_ policy: RetryPolicy, clock: C, random: @escaping UnitRandom = systemUnitRandom)
        -> AsyncPlan where C.Duration == Duration
    {
        AsyncPlan.lift {
            var attempt = 1
            while true {
                let outcome = await self.run()
                guard case .failure(let error) = outcome,
                      case .retry(let delay) = policy.decision(after: error, attempt: attempt, random: random())
                else { return outcome }
                do {
                    try await clock.sleep(for: delay)
                } catch {
                    return .failure(.cancelled)
                }
                attempt += 1
            }
        }
    }
}
