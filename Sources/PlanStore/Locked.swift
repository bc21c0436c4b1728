import Glibc

/// A value guarded by a pthread mutex: planq's one lock, for the store, the worker and the tests.
/// A thread may also wait, without holding it, until the value is ready (`wait(until:then:)`);
/// every `withLock` wakes such waiters to look again.
///
/// Not `Synchronization.Mutex`: on Linux that is a futex ThreadSanitizer cannot see, so every
/// access it guards is reported as a race and the sanitizer run says nothing useful.
package final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var waiters = 0

    package init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer {
            if waiters > 0 { pthread_cond_broadcast(condition) }
            pthread_mutex_unlock(mutex)
        }
        return try body(&value)
    }

    /// Blocks the calling thread until `ready` holds for the value, then runs `body` with it,
    /// holding the lock. Only for threads of planq's own (never a task's).
    package func wait<T>(until ready: (Value) -> Bool, then body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer {
            if waiters > 0 { pthread_cond_broadcast(condition) }
            pthread_mutex_unlock(mutex)
        }
        waiters += 1
        while !ready(value) { pthread_cond_wait(condition, mutex) }
        waiters -= 1
        return try body(&value)
    }
}
