import Dispatch
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
        /// Dropped once run: synchronous callers pass non-escaping closures (`withoutActuallyEscaping`).
        var body: ((Connection) throws -> Any)?
        var result: Result<Any, any Error> = .failure(CancellationError())
        let completion: (Result<Any, any Error>) -> Void

        init(body: @escaping (Connection) throws -> Any, completion: @escaping (Result<Any, any Error>) -> Void) {
            self.body = body
            self.completion = completion
        }
    }

    private let connection: SerialConnection
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let pending = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Request] = []
    private var stopping = false
    private var thread: pthread_t?
    /// The most operations one transaction took, and how many transactions ran (for tests).
    private(set) var largestBatch = 0
    private(set) var transactions = 0

    init(connection: SerialConnection) {
        self.connection = connection
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(pending, nil)
        var handle = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { raw in
            let committer = Unmanaged<GroupCommitter>.fromOpaque(raw!).takeRetainedValue()
            committer.loop()
            return nil
        }, context)
        thread = handle
    }

    /// Names the calling thread, as `top -H`, `ps -L` and `perf` show it.
    /// The writer thread holds the committer until it returns, so this runs after it stopped.
    deinit {
        pthread_cond_destroy(pending)
        pending.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private static func nameThread(_ name: String) {
        let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        let bytes = Array(name.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }

    /// Runs `body` in the next group transaction and returns its result once that committed;
    /// blocks the calling thread until then.
    func submit<T>(_ body: @escaping (Connection) throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let request = Request(body: { try body($0) }, completion: { _ in done.signal() })
        enqueue(request)
        done.wait()
        return try request.result.get() as! T
    }

    /// Runs `body` in the next group transaction and returns its result once that committed;
    /// suspends the calling task (no thread waits) until then.
    func perform<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(Request(body: { try body($0) }, completion: { result in continuation.resume(with: result.map { $0 as! T }) }))
        }
    }

    private func enqueue(_ request: Request) {
        pthread_mutex_lock(mutex)
        queue.append(request)
        pthread_cond_signal(pending)
        pthread_mutex_unlock(mutex)
    }

    /// Stops the writer thread once the queue is empty.
    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(pending)
        pthread_mutex_unlock(mutex)
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    private func loop() {
        Self.nameThread("planq-writer")
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty && !stopping { pthread_cond_wait(pending, mutex) }
            if queue.isEmpty && stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            var batch = queue
            queue.removeAll(keepingCapacity: true)
            transactions += 1
            pthread_mutex_unlock(mutex)
            run(&batch)
            pthread_mutex_lock(mutex)
            largestBatch = max(largestBatch, batch.count)
            pthread_mutex_unlock(mutex)
            for request in batch { request.completion(request.result) }
        }
    }

    /// Operations submitted and not yet taken by a transaction (for tests).
    var waiting: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return queue.count
    }

    /// What was submitted since the batch was taken, up to `limit`.
    private func takeArrivals(limit: Int) -> [Request] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let taken = Array(queue.prefix(limit))
        queue.removeFirst(taken.count)
        return taken
    }

    /// Runs the batch in one transaction. First without savepoints (they copy every page an
    /// operation touches), taking in what was submitted while it ran (up to `absorbLimit`
    /// operations) before it commits; when an operation throws, the transaction is rolled back and
    /// the batch run again with a savepoint per operation, so that only the failing one fails.
    /// Operations are functions of the database and their captured values, so running one again
    /// gives the same outcome.
    private func run(_ batch: inout [Request]) {
        connection.withConnection { connection in
            if !transaction(&batch, connection, savepoints: false) && batch.count > 1 {
                _ = transaction(&batch, connection, savepoints: true)
            }
        }
        for request in batch { request.body = nil }
    }

    /// The most operations one transaction takes: its commit waits for no more.
    private let absorbLimit = 256

    /// One attempt at the batch; `false` when an operation failed without a savepoint to undo it alone.
    private func transaction(_ batch: inout [Request], _ connection: Connection, savepoints: Bool) -> Bool {
        do {
            try connection.query("BEGIN IMMEDIATE")
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
                request.result = .success(try request.body!(connection))
                if savepoints { try connection.query("RELEASE operation") }
            } catch {
                request.result = .failure(error)
                guard savepoints else {
                    try? connection.query("ROLLBACK")
                    return false
                }
                try? connection.query("ROLLBACK TO operation")
                try? connection.query("RELEASE operation")
            }
            // What arrived while this transaction ran joins it: the commit (and its fsync) serves it too.
            if next == batch.count && !savepoints && batch.count < absorbLimit {
                batch += takeArrivals(limit: absorbLimit - batch.count)
            }
        }
        do {
            try connection.query("COMMIT")
        } catch {
            try? connection.query("ROLLBACK")
            for request in batch { request.result = .failure(error) }
        }
        return true
    }
}
