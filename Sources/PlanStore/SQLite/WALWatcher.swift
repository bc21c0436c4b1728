import Glibc
import PlanCore

/// The SQLite store's change notification: inotify on the database's `-wal` file (every commit
/// writes it) and its folder, read on a thread of its own that blocks while nothing happens, so an
/// idle worker spends no CPU on it. Stops when its `StoreChanges` iteration ends.
///
/// The worker's own commits change the `-wal` file too, thousands of times a second under load.
/// While the worker has no free slot it can claim nothing, so it throttles the watcher: a change
/// then comes at most every `StoreChanges.throttledPause` (often enough to notice a `planq cancel`
/// on time), and inotify keeps what happens meanwhile as one pending event, which comes at once
/// when the throttle is lifted.
final class WALWatcher: @unchecked Sendable {
    /// The control pipe's write end, until `stop` closes it: the end of file tells the thread to stop.
    private let control: Locked<Int32?>
    private let context: Context
    private let thread = Locked<pthread_t?>(nil)
    private static let unthrottleByte: UInt8 = 1
    /// The changes of the database at `databasePath`; `nil` when inotify is unavailable.
    static func changes(databasePath: String) -> StoreChanges? {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        guard let watcher = WALWatcher(databasePath: databasePath, changed: { continuation.yield() }) else { return nil }
        continuation.onTermination = { _ in watcher.stop() }
        return StoreChanges(stream: stream, throttle: { watcher.throttle($0) })
    }

    private init?(databasePath: String, changed: @escaping @Sendable () -> Void) {
        let descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
        let folder = databasePath.contains("/") ? String(databasePath[..<databasePath.lastIndex(of: "/")!]) : "."
        // The folder catches the -wal file being created; the file itself catches every commit.
        _ = inotify_add_watch(descriptor, folder.isEmpty ? "/" : folder, UInt32(IN_CREATE | IN_MOVED_TO))
        _ = inotify_add_watch(descriptor, databasePath + "-wal", UInt32(IN_MODIFY))
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        control = Locked(fds[1])
        context = Context(descriptor: descriptor, control: fds[0], changed: changed, walPath: databasePath + "-wal")
        var handle = pthread_t()
        let retained = Unmanaged.passRetained(context)
        guard pthread_create(&handle, nil, { raw in
            Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue().loop()
            return nil
        }, retained.toOpaque()) == 0 else {
            retained.release()
            for fd in [descriptor, fds[0], fds[1]] { close(fd) }
            return nil
        }
        thread.withLock { $0 = handle }
    }

    /// Reports at most every `throttledPause` (`true`), or every change (`false`).
    func throttle(_ on: Bool) {
        let was = context.throttled.withLock { throttled in
            defer { throttled = on }
            return throttled
        }
        guard was != on, !on else { return }
        control.withLock { fd in
            guard let fd else { return }
            var byte = Self.unthrottleByte
            _ = write(fd, &byte, 1)
        }
    }

    /// Ends the watching thread without waiting for it: closing the control pipe's write end wakes
    /// it, and it closes its own descriptors as it leaves. (Joining it here could deadlock: this runs
    /// when the iteration is cancelled, while the thread may be handing a change to that very task.)
    func stop() {
        control.withLock { fd in
            if let fd { close(fd) }
            fd = nil
        }
        if let thread = thread.withLock({ thread in defer { thread = nil }; return thread }) { pthread_detach(thread) }
    }

    /// What the watching thread owns, and the flags it shares with the worker; the watcher's
    /// other fields are not touched from the thread.
    private final class Context: Sendable {
        let descriptor: Int32
        let control: Int32
        let changed: @Sendable () -> Void
        let walPath: String
        let throttled = Locked(false)

        init(descriptor: Int32, control: Int32, changed: @escaping @Sendable () -> Void, walPath: String) {
            self.descriptor = descriptor
            self.control = control
            self.changed = changed
            self.walPath = walPath
        }

        func loop() {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var quietUntil = ContinuousClock.now
            while true {
                // poll skips a negative descriptor: while resting, only the control pipe (or the
                // end of the rest) wakes the thread.
                let rest = isThrottled ? quietUntil - ContinuousClock.now : .zero
                var polls = [pollfd(fd: control, events: Int16(POLLIN), revents: 0),
                             pollfd(fd: rest > .zero ? -1 : descriptor, events: Int16(POLLIN), revents: 0)]
                guard poll(&polls, 2, rest > .zero ? Int32(clamping: PlanDuration(rest).milliseconds + 1) : -1) >= 0 || errno == EINTR else { break }
                if polls[0].revents != 0 {
                    var byte: UInt8 = 0
                    if read(control, &byte, 1) <= 0 { break }  // the write end closed: stop
                    continue
                }
                if polls[1].revents != 0, read(descriptor, &buffer, buffer.count) > 0 {
                    // A new -wal file (after a checkpoint removed it) needs a new watch.
                    _ = inotify_add_watch(descriptor, walPath, UInt32(IN_MODIFY))
                    changed()
                    quietUntil = ContinuousClock.now + StoreChanges.throttledPause
                }
            }
            close(control)
            close(descriptor)
        }

        private var isThrottled: Bool { throttled.withLock { $0 } }
    }

    deinit { stop() }
}
