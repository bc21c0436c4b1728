import Glibc

/// Rings a doorbell when another process commits to the database: inotify on the database's
/// `-wal` file and its folder, read on a thread of its own that blocks while nothing happens, so
/// an idle worker spends no CPU on it. Stops when released.
final class DatabaseWatcher: @unchecked Sendable {
    private let descriptor: Int32
    private let stopPipe: (read: Int32, write: Int32)
    private var thread: pthread_t?

    /// Watches `databasePath`; `nil` when inotify is unavailable (the worker then polls).
    init?(databasePath: String, doorbell: Doorbell) {
        descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
        let folder = databasePath.contains("/") ? String(databasePath[..<databasePath.lastIndex(of: "/")!]) : "."
        // The folder catches the -wal file being created; the file itself catches every commit.
        _ = inotify_add_watch(descriptor, folder.isEmpty ? "/" : folder, UInt32(IN_CREATE | IN_MOVED_TO))
        _ = inotify_add_watch(descriptor, databasePath + "-wal", UInt32(IN_MODIFY))
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        stopPipe = (fds[0], fds[1])
        let context = Unmanaged.passRetained(
            Context(descriptor: descriptor, stop: stopPipe.read, doorbell: doorbell, walPath: databasePath + "-wal"))
        var handle = pthread_t()
        guard pthread_create(&handle, nil, { raw in
            Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue().loop()
            return nil
        }, context.toOpaque()) == 0 else {
            context.release()
            close(descriptor)
            return nil
        }
        thread = handle
    }

    /// What the watching thread owns; the watcher's own fields are not touched from it.
    private final class Context {
        let descriptor: Int32
        let stop: Int32
        let doorbell: Doorbell
        let walPath: String

        init(descriptor: Int32, stop: Int32, doorbell: Doorbell, walPath: String) {
            self.descriptor = descriptor
            self.stop = stop
            self.doorbell = doorbell
            self.walPath = walPath
        }

        func loop() {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var polls = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0), pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
            while true {
                guard poll(&polls, 2, -1) >= 0 || errno == EINTR else { return }
                if polls[1].revents != 0 { return }
                if polls[0].revents != 0, read(descriptor, &buffer, buffer.count) > 0 {
                    // A new -wal file (after a checkpoint removed it) needs a new watch.
                    _ = inotify_add_watch(descriptor, walPath, UInt32(IN_MODIFY))
                    doorbell.ring()
                }
            }
        }
    }

    deinit {
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        if let thread { pthread_join(thread, nil) }
        close(stopPipe.read)
        close(stopPipe.write)
        close(descriptor)
    }
}
