import Glibc

/// Group commit: write operations submitted from many threads are packed by one writer thread
/// into one `BEGIN IMMEDIATE … COMMIT`, so one fsync serves them all. Each operation runs in a
/// savepoint of its own: one that throws is rolled back alone and gets its error; the others
/// commit. `submit` returns only after the transaction holding its operation has committed.
final class GroupCommitter: @unchecked Sendable {
    private final class Request {
        /// Dropped once run: callers pass non-escaping closures (`withoutActuallyEscaping`).
        var body: ((Connection) throws -> Any)?
        var result: Result<Any, any Error>?
        var done = false

        init(body: @escaping (Connection) throws -> Any) { self.body = body }
    }

    private let connection: SerialConnection
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let pending = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Request] = []
    private var stopping = false
    private var thread: pthread_t?
    /// The most operations one transaction took, and how many transactions ran (for the bench).
    private(set) var largestBatch = 0
    private(set) var transactions = 0

    init(connection: SerialConnection) {
        self.connection = connection
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(pending, nil)
        pthread_cond_init(finished, nil)
        var handle = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { raw in
            let committer = Unmanaged<GroupCommitter>.fromOpaque(raw!).takeRetainedValue()
            committer.loop()
            return nil
        }, context)
        thread = handle
    }

    /// Runs `body` in the next group transaction and returns its result once that committed.
    func submit<T>(_ body: @escaping (Connection) throws -> T) throws -> T {
        let request = Request(body: { try body($0) })
        pthread_mutex_lock(mutex)
        queue.append(request)
        pthread_cond_signal(pending)
        while !request.done { pthread_cond_wait(finished, mutex) }
        pthread_mutex_unlock(mutex)
        return try request.result!.get() as! T
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
            let batch = queue
            queue.removeAll()
            pthread_mutex_unlock(mutex)
            run(batch)
            pthread_mutex_lock(mutex)
            for request in batch { request.done = true }
            largestBatch = max(largestBatch, batch.count)
            transactions += 1
            pthread_cond_broadcast(finished)
            pthread_mutex_unlock(mutex)
        }
    }

    private func run(_ batch: [Request]) {
        connection.withConnection { connection in
            do {
                try connection.execute("BEGIN IMMEDIATE")
            } catch {
                for request in batch {
                    request.body = nil
                    request.result = .failure(error)
                }
                return
            }
            for request in batch {
                do {
                    try connection.execute("SAVEPOINT operation")
                    let body = request.body!
                    request.body = nil
                    request.result = .success(try body(connection))
                    try connection.execute("RELEASE operation")
                } catch {
                    request.result = .failure(error)
                    try? connection.execute("ROLLBACK TO operation")
                    try? connection.execute("RELEASE operation")
                }
            }
            do {
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                for request in batch { request.result = .failure(error) }
            }
        }
    }
}
