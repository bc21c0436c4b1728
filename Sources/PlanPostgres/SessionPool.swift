import Logging
import PlanStore

/// A store's sessions: each call runs on the first free one, or waits for one, first come first
/// served. The first session connects at once (a wrong URL or password is reported then); the
/// others on their first call. `primary` holds a worker's session lock and runs its claims; with
/// more than one session, the other calls share the rest, so claims never wait behind them.
final class SessionPool: Sendable {
    let sessions: [PostgresSession]
    private struct State {
        var free: [Int]
        var waiters: [CheckedContinuation<Int, Never>] = []
    }
    private let state: Locked<State>

    var primary: PostgresSession { sessions[0] }

    private init(sessions: [PostgresSession]) {
        self.sessions = sessions
        state = Locked(State(free: sessions.count > 1 ? Array(sessions.indices.dropFirst()) : [0]))
    }

    /// `size` sessions (at least one) on `url`.
    static func connect(_ url: PostgresURL, size: Int, timeout: Duration, logger: Logger) async throws(StoreError) -> SessionPool {
        let first = try await PostgresSession.connect(url, timeout: timeout, logger: logger)
        let rest = (1..<max(size, 1)).map { _ in PostgresSession(url: url, logger: logger, timeout: timeout) }
        return SessionPool(sessions: [first] + rest)
    }

    /// Runs `body` on a free session, as `PostgresSession.run` does.
    func run<T: Sendable>(transaction: Bool, limit: Duration? = nil, _ body: (PostgresSession.Transaction) async throws -> T) async throws(StoreError) -> T {
        let index = await acquire()
        defer { release(index) }
        return try await sessions[index].run(transaction: transaction, limit: limit, body)
    }

    func close() async {
        for session in sessions { await session.close() }
    }

    private func acquire() async -> Int {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            let index = state.withLock { state -> Int? in
                guard !state.free.isEmpty else {
                    state.waiters.append(continuation)
                    return nil
                }
                return state.free.removeFirst()
            }
            if let index { continuation.resume(returning: index) }
        }
    }

    private func release(_ index: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Int, Never>? in
            guard !state.waiters.isEmpty else {
                state.free.insert(index, at: 0)
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: index)
    }
}
