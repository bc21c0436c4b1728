import Dispatch

/// Runs blocking store work on a Dispatch thread and suspends until it is done, so that many jobs
/// can wait for the same group commit without holding the cooperative pool's few threads.
func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
