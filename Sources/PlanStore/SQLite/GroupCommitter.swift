import CSQLite
import Dispatch
import Glibc
import Synchronization

/// Group commit: write operations submitted from many tasks and threads are packed by one writer
/// thread into one `BEGIN IMMEDIATE … COMMIT`, so one fsync serves them all. An operation that
/// throws gets its error and leaves nothing behind; the others commit (see `run`). An operation's
/// caller hears of it only after the transaction holding it committed.
///
/// When more writers are expected than have queued (`expectedWriters`: the worker's running jobs),
/// the writer waits up to `gatherWindow` for them before it begins a transaction (PostgreSQL's
/// `commit_delay` with `commit_siblings`): jobs resumed by a commit come back with their next
/// write within microseconds, and one transaction for all of them costs little more than one.
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
    private let gatherWindow: Duration
    private let gatherGap: Duration
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let pending = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Request] = []
    private var stopping = false
    private var thread: pthread_t?
    /// The most operations one transaction took, and how many transactions ran (for tests and the bench).
    private(set) var largestBatch = 0
    private(set) var transactions = 0
    /// How many tasks are expected to write concurrently.
    let expectedWriters = Atomic<Int>(1)

    init(connection: SerialConnection, gatherWindow: Duration = .milliseconds(1), gatherGap: Duration = .microseconds(50)) {
        self.connection = connection
        self.gatherWindow = gatherWindow
        self.gatherGap = gatherGap
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(pending, &attributes)
        var handle = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { raw in
            // Timed waits of microseconds need a timer slack of microseconds (the default is 50).
            _ = planq_set_timer_slack(1000)
            let committer = Unmanaged<GroupCommitter>.fromOpaque(raw!).takeRetainedValue()
            committer.loop()
            return nil
        }, context)
        thread = handle
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
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty && !stopping { pthread_cond_wait(pending, mutex) }
            if queue.isEmpty && stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            let expected = expectedWriters.load(ordering: .relaxed)
            if queue.count < expected && !stopping { gather(expected) }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            largestBatch = max(largestBatch, batch.count)
            transactions += 1
            pthread_mutex_unlock(mutex)
            run(batch)
            for request in batch { request.completion(request.result) }
        }
    }

    /// Waits until `count` requests queued, no new one came for `gatherGap`, or `gatherWindow` passed.
    private func gather(_ count: Int) {
        let window = Self.deadline(after: gatherWindow)
        while queue.count < count && !stopping {
            let queued = queue.count
            var deadline = Self.deadline(after: gatherGap)
            if Self.isBefore(window, deadline) { deadline = window }
            while queue.count == queued && !stopping {
                if pthread_cond_timedwait(pending, mutex, &deadline) == ETIMEDOUT { break }
            }
            if queue.count == queued || Self.isBefore(window, Self.deadline(after: .zero)) { return }
        }
    }

    private static func deadline(after duration: Duration) -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        let nanoseconds = Int(duration.components.seconds) * 1_000_000_000 + Int(duration.components.attoseconds / 1_000_000_000)
        time.tv_nsec += nanoseconds
        time.tv_sec += time.tv_nsec / 1_000_000_000
        time.tv_nsec %= 1_000_000_000
        return time
    }

    private static func isBefore(_ a: timespec, _ b: timespec) -> Bool { (a.tv_sec, a.tv_nsec) < (b.tv_sec, b.tv_nsec) }

    /// Runs the batch in one transaction. First without savepoints (they copy every page an
    /// operation touches); when an operation throws, the transaction is rolled back and run again
    /// with a savepoint per operation, so that only the failing one fails. Operations are functions
    /// of the database and their captured values, so running one again gives the same outcome.
    private func run(_ batch: [Request]) {
        connection.withConnection { connection in
            if !transaction(batch, connection, savepoints: false) && batch.count > 1 {
                _ = transaction(batch, connection, savepoints: true)
            }
        }
        for request in batch { request.body = nil }
    }

    /// One attempt at the batch; `false` when an operation failed without a savepoint to undo it alone.
    private func transaction(_ batch: [Request], _ connection: Connection, savepoints: Bool) -> Bool {
        do {
            try connection.query("BEGIN IMMEDIATE")
        } catch {
            for request in batch { request.result = .failure(error) }
            return true
        }
        for request in batch {
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
