import CSQLite
import Glibc
import Migrations
import PlanCore

/// The job store in one SQLite file: every job, step execution and event.
///
/// Thread-safe: calls are serialized on one connection; with `groupCommit`, the writes of many
/// callers share transactions on one writer thread.
public final class SQLiteStore: JobStore {
    let connection: Locked<Connection>
    let committer: GroupCommitter?
    public let path: String
    public var location: String { path }

    /// Opens (and with `options.create`, creates and migrates) the database.
    public init(_ options: StoreOptions, now: Timestamp = .now()) throws(StoreError) {
        path = options.path
        if let problem = Versions.loadedSQLiteProblem { throw .sqliteTooOld(problem) }
        var info = stat()
        if stat(options.path, &info) == 0 {
            if let kind = Self.kindName(info.st_mode) { throw .notARegularFile(path: options.path, kind: kind) }
        } else if !options.create {
            throw .databaseMissing(path: options.path)
        }
        let milliseconds = Int32(clamping: PlanDuration(options.busyTimeout).milliseconds)
        do {
            let connection = try Connection(
                path: options.path, create: options.create, groupWritable: options.groupWritable,
                durability: options.durability, busyTimeoutMilliseconds: milliseconds)
            if options.migrate {
                try Migrator(connection: connection, files: Migrations.files).migrate(now: now)
            } else if try connection.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").isEmpty {
                throw StoreError.notInitialized(path: options.path)
            }
            let serial = Locked(connection)
            self.connection = serial
            committer = options.groupCommit ? GroupCommitter(connection: serial, observer: options.commitObserver) : nil
        } catch {
            throw Self.storeError(error)
        }
    }

    /// What a file mode names when it is not a regular file.
    static func kindName(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: nil
        case S_IFDIR: "directory"
        case S_IFCHR: "character device"
        case S_IFBLK: "block device"
        case S_IFIFO: "FIFO"
        case S_IFSOCK: "socket"
        default: "special file"
        }
    }

    package static func storeError(_ error: any Error) -> StoreError {
        switch error {
        case let error as StoreError: error
        case let error as SQLiteError: .sqlite(error)
        default: .migration("\(error)")
        }
    }

    /// Runs `body` on the connection, mapping errors to `StoreError`.
    package func read<T>(_ body: (Connection) throws -> T) throws(StoreError) -> T {
        do {
            return try connection.withLock { try body($0) }
        } catch {
            throw Self.storeError(error)
        }
    }

    deinit { committer?.stop() }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction of its own on the caller's thread, beside
    /// group commit if it is on; returns once it committed.
    package func write<T>(_ body: (Connection) throws -> T) throws(StoreError) -> T {
        try read { connection in try connection.writeTransaction { try body(connection) } }
    }

    /// Runs `body` like `write`, but suspends instead of blocking: with group commit, no thread waits
    /// for the shared transaction. Without it, the transaction runs on the caller's thread.
    func commit<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws(StoreError) -> T {
        guard let committer else { return try write(body) }
        do {
            return try await committer.perform(body)
        } catch {
            throw Self.storeError(error)
        }
    }

    public func migrationStatus() async throws(StoreError) -> [MigrationStatus] {
        try read { try Migrator(connection: $0, files: Migrations.files).status() }
    }

    public func migrate(now: Timestamp) async throws(StoreError) -> [String] {
        try read { try Migrator(connection: $0, files: Migrations.files).migrate(now: now) }
    }

    /// inotify on the database's `-wal` file: every commit of another process writes it.
    public func changes() -> StoreChanges? {
        WALWatcher.changes(databasePath: path)
    }
}
