import Glibc

/// A connection used by one thread at a time: every use holds a mutex.
final class SerialConnection: @unchecked Sendable {
    private let connection: Connection
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init(_ connection: Connection) {
        self.connection = connection
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withConnection<T>(_ body: (Connection) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(connection)
    }
}
