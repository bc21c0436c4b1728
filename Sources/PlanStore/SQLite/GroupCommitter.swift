import Dispatch
import Glibc

/// Group commit: write operations submitted from many tasks and threads are packed by one writer
/// thread into one `BEGIN IMMEDIATE … COMMIT`, so one fsync serves them all. Each operation runs in
/// a savepoint of its own: one that throws is rolled back alone and gets its error; the others
/// commit. An operation's caller hears of it only after the transaction holding it committed.
///
/// When the last transaction served several operations, the writer waits up to `gatherWindow`
/// for as many to queue up again before it begins the next one (PostgreSQL's `commit_delay`):
/// callers resumed by a commit usually come back with their next write within microseconds.
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
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let pending = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Request] = []
    private var stopping = false
    private var thread: pthread_t?
    /// The most operations one transaction took, and how many transactions ran (for tests and the bench).
    private(set) var largestBatch = 0
    private(set) var transactions = 0

    init(connection: SerialConnection, gatherWindow: Duration = .microseconds(500)) {
        self.connection = connection
        self.gatherWindow = gatherWindow
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(pending, &attributes)
        var handle = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { raw in
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
        var expected = 1
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty && !stopping { pthread_cond_wait(pending, mutex) }
            if queue.isEmpty && stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            if queue.count < expected && !stopping { gather(expected) }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            largestBatch = max(largestBatch, batch.count)
            transactions += 1
            pthread_mutex_unlock(mutex)
            run(batch)
            for request in batch { request.completion(request.result) }
            expected = batch.count
        }
    }

    /// Waits (holding the mutex between waits) until `count` requests queued or the window closed.
    private func gather(_ count: Int) {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let window = gatherWindow.components
        deadline.tv_nsec += Int(window.attoseconds / 1_000_000_000) + Int(window.seconds) * 1_000_000_000
        deadline.tv_sec += deadline.tv_nsec / 1_000_000_000
        deadline.tv_nsec %= 1_000_000_000
        while queue.count < count && !stopping {
            if pthread_cond_timedwait(pending, mutex, &deadline) == ETIMEDOUT { return }
        }
    }

    private func run(_ batch: [Request]) {
        connection.withConnection { connection in
            do {
                try connection.query("BEGIN IMMEDIATE")
            } catch {
                for request in batch {
                    request.body = nil
                    request.result = .failure(error)
                }
                return
            }
            for request in batch {
                let body = request.body!
                request.body = nil
                do {
                    try connection.query("SAVEPOINT operation")
                    request.result = .success(try body(connection))
                    try connection.query("RELEASE operation")
                } catch {
                    request.result = .failure(error)
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
        }
    }
}
