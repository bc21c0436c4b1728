/// How to open the SQLite store.
public struct StoreOptions: Sendable {
    public var path: String
    /// Create the file when it is missing, and apply pending migrations.
    public var create: Bool
    /// Apply pending migrations (and so finish a database whose creation was cut short); `create`
    /// implies it. Without it, a file without planq's tables is refused (`notInitialized`).
    public var migrate: Bool
    /// A new database is readable and writable by its group too (0660 instead of 0600).
    public var groupWritable: Bool
    public var durability: Durability
    /// How long a statement waits for a lock before failing with a busy error.
    public var busyTimeout: Duration
    /// Pack concurrent writes from many threads into shared transactions (the worker's mode):
    /// each still commits before its call returns, but one fsync serves many.
    public var groupCommit: Bool
    /// Told of every group transaction that committed: how many operations it carried and how
    /// long it took from `BEGIN` to the end of `COMMIT` (for metrics).
    public var commitObserver: (@Sendable (_ operations: Int, _ duration: Duration) -> Void)?

    public init(path: String, create: Bool, migrate: Bool = false, groupWritable: Bool = false, durability: Durability = .full,
                busyTimeout: Duration = .seconds(5), groupCommit: Bool = false) {
        self.path = path
        self.create = create
        self.migrate = create || migrate
        self.groupWritable = groupWritable
        self.durability = durability
        self.busyTimeout = busyTimeout
        self.groupCommit = groupCommit
    }
}
