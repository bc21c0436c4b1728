import Glibc

/// A value guarded by a pthread mutex: planq's one lock, for the store, the worker and the tests.
///
/// Not `Synchronization.Mutex`: on Linux that is a futex ThreadSanitizer cannot see, so every
/// access it guards is reported as a race and the sanitizer run says nothing useful.
package final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    package init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
