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
    private let descriptor: Int32
    private let controlPipe: (read: Int32, write: Int32)
    private let context: Context
    private let thread = Locked<pthread_t?>(nil)
    private static let stopByte: UInt8 = 0
    private static let unthrottleByte: UInt8 = 1
    /// The changes of the database at `databasePath`; `nil` when inotify is unavailable.
    static func changes(databasePath: String) -> StoreChanges? {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        guard let watcher = WALWatcher(databasePath: databasePath, changed: { continuation.yield() }) else { return nil }
        continuation.onTermination = { _ in watcher.stop() }
        return StoreChanges(stream: stream, throttle: { watcher.throttle($0) })
    }

    private init?(databasePath: String, changed: @escaping @Sendable () -> Void) {
        descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
        let folder = databasePath.contains("/") ? String(databasePath[..<databasePath.lastIndex(of: "/")!]) : "."
        // The folder catches the -wal file being created; the file itself catches every commit.
        _ = inotify_add_watch(descriptor, folder.isEmpty ? "/" : folder, UInt32(IN_CREATE | IN_MOVED_TO))
        _ = inotify_add_watch(descriptor, databasePath + "-wal", UInt32(IN_MODIFY))
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        controlPipe = (fds[0], fds[1])
        context = Context(descriptor: descriptor, control: controlPipe.read, changed: changed, walPath: databasePath + "-wal")
        var handle = pthread_t()
        let retained = Unmanaged.passRetained(context)
        guard pthread_create(&handle, nil, { raw in
            Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue().loop()
            return nil
        }, retained.toOpaque()) == 0 else {
            retained.release()
            close(descriptor)
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
        var byte = Self.unthrottleByte
        _ = write(controlPipe.write, &byte, 1)
    }

    /// Ends the watching thread; the descriptors close when the watcher is released.
    func stop() {
        guard let thread = thread.withLock({ thread in defer { thread = nil }; return thread }) else { return }
        var byte = Self.stopByte
        _ = write(controlPipe.write, &byte, 1)
        pthread_join(thread, nil)
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
                guard poll(&polls, 2, rest > .zero ? Int32(clamping: PlanDuration(rest).milliseconds + 1) : -1) >= 0 || errno == EINTR else { return }
                if polls[0].revents != 0 {
                    var byte: UInt8 = 0
                    if read(control, &byte, 1) == 1 && byte == WALWatcher.stopByte { return }
                    continue
                }
                if polls[1].revents != 0, read(descriptor, &buffer, buffer.count) > 0 {
                    // A new -wal file (after a checkpoint removed it) needs a new watch.
                    _ = inotify_add_watch(descriptor, walPath, UInt32(IN_MODIFY))
                    changed()
                    quietUntil = ContinuousClock.now + StoreChanges.throttledPause
                }
            }
        }

        private var isThrottled: Bool { throttled.withLock { $0 } }
    }

    deinit {
        stop()
        close(controlPipe.read)
        close(controlPipe.write)
        close(descriptor)
    }
}
