import Glibc

/// Group commit: write operations submitted from many tasks and threads are packed by one writer
/// thread into one `BEGIN IMMEDIATE … COMMIT`, so one fsync serves them all. An operation that
/// throws gets its error and leaves nothing behind; the others commit (see `run`). An operation's
/// caller hears of it only after the transaction holding it committed.
///
/// The writer never waits for more: what is submitted while a transaction runs joins it before its
/// commit, up to a limit (measured: half the transactions, and 15 % more jobs/s under FULL; waiting
/// for more, as PostgreSQL's `commit_delay` does, made the worker slower — the writer and the jobs
/// then take turns instead of overlapping).
final class GroupCommitter: @unchecked Sendable {
    private final class Request {
        let body: (Connection) throws -> Any
        var result: Result<Any, any Error> = .failure(CancellationError())
        let completion: (Result<Any, any Error>) -> Void

        init(body: @escaping (Connection) throws -> Any, completion: @escaping (Result<Any, any Error>) -> Void) {
            self.body = body
            self.completion = completion
        }
    }

    private struct State {
        var queue: [Request] = []
        var stopping = false
        /// The most operations one transaction took, and how many transactions ran (for tests).
        var largestBatch = 0
        var transactions = 0
    }

    private let connection: Locked<Connection>
    private let state = Locked(State())
    private let thread = Locked<pthread_t?>(nil)
    private let observer: (@Sendable (_ operations: Int, _ duration: Duration) -> Void)?

    init(connection: Locked<Connection>, observer: (@Sendable (_ operations: Int, _ duration: Duration) -> Void)? = nil) {
        self.connection = connection
        self.observer = observer
        var handle = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { raw in
            let committer = Unmanaged<GroupCommitter>.fromOpaque(raw!).takeRetainedValue()
            committer.loop()
            return nil
        }, context)
        thread.withLock { $0 = handle }
    }

    /// Names the calling thread, as `top -H`, `ps -L` and `perf` show it.
    private static func nameThread(_ name: String) {
        let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        let bytes = Array(name.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }

    /// Runs `body` in the next group transaction and returns its result once that committed;
    /// suspends the calling task (no thread waits) until then.
    func perform<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit(body) { continuation.resume(with: $0) }
        }
    }

    /// Queues `body` for the next group transaction before returning; `completion` hears its
    /// result once that committed, on the writer thread.
    func submit<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T, completion: @escaping (Result<T, any Error>) -> Void) {
        let request = Request(body: { try body($0) }, completion: { result in completion(result.map { $0 as! T }) })
        state.withLock { $0.queue.append(request) }
    }

    /// Stops the writer thread once the queue is empty.
    func stop() {
        state.withLock { $0.stopping = true }
        if let thread = thread.withLock({ thread in defer { thread = nil }; return thread }) { pthread_join(thread, nil) }
    }

    private func loop() {
        Self.nameThread("planq-writer")
        while true {
            let taken = state.wait(until: { !$0.queue.isEmpty || $0.stopping }) { state -> [Request]? in
                if state.queue.isEmpty { return nil }
                defer { state.queue.removeAll(keepingCapacity: true) }
                state.transactions += 1
                return state.queue
            }
            guard var batch = taken else { return }
            run(&batch)
            state.withLock { $0.largestBatch = max($0.largestBatch, batch.count) }
            for request in batch { request.completion(request.result) }
        }
    }

    /// Operations submitted and not yet taken by a transaction (for tests).
    var waiting: Int { state.withLock { $0.queue.count } }
    var largestBatch: Int { state.withLock { $0.largestBatch } }
    var transactions: Int { state.withLock { $0.transactions } }

    /// What was submitted since the batch was taken, up to `limit`.
    private func takeArrivals(limit: Int) -> [Request] {
        state.withLock { state in
            let taken = Array(state.queue.prefix(limit))
            state.queue.removeFirst(taken.count)
            return taken
        }
    }

    /// Runs the batch in one transaction. First without savepoints (they copy every page an
    /// operation touches), taking in what was submitted while it ran (up to `absorbLimit`
    /// operations) before it commits; when an operation throws, the transaction is rolled back and
    /// the batch run again with a savepoint per operation, so that only the failing one fails.
    /// Operations are functions of the database and their captured values, so running one again
    /// gives the same outcome.
    private func run(_ batch: inout [Request]) {
        connection.withLock { connection in
            if !transaction(&batch, connection, savepoints: false) && batch.count > 1 {
                _ = transaction(&batch, connection, savepoints: true)
            }
        }
    }

    /// The most operations one transaction takes: its commit waits for no more.
    private let absorbLimit = 256

    /// One attempt at the batch; `false` when an operation failed without a savepoint to undo it alone.
    private func transaction(_ batch: inout [Request], _ connection: Connection, savepoints: Bool) -> Bool {
        let started = ContinuousClock.now
        do {
            try connection.begin()
        } catch {
            for request in batch { request.result = .failure(error) }
            return true
        }
        var next = 0
        while next < batch.count {
            let request = batch[next]
            next += 1
            do {
                if savepoints { try connection.query("SAVEPOINT operation") }
                request.result = .success(try request.body(connection))
                if savepoints { try connection.query("RELEASE operation") }
            } catch {
                request.result = .failure(error)
                guard savepoints else {
                    connection.rollback()
                    return false
                }
                _ = try? connection.query("ROLLBACK TO operation")
                _ = try? connection.query("RELEASE operation")
            }
            // What arrived while this transaction ran joins it: the commit (and its fsync) serves it too.
            if next == batch.count && !savepoints && batch.count < absorbLimit {
                batch += takeArrivals(limit: absorbLimit - batch.count)
            }
        }
        do {
            try connection.commit()
            observer?(batch.count, ContinuousClock.now - started)
        } catch {
            connection.rollback()
            for request in batch { request.result = .failure(error) }
        }
        return true
    }
}
