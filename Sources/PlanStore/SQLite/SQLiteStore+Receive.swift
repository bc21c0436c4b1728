import Glibc

extension SQLiteStore {
    public func identity() async throws(StoreError) -> String {
        guard let identity = Self.fileIdentity(path) else { throw .databaseMissing(path: path) }
        return identity
    }

    /// The device and inode of the file at `path` (symlinks followed), or `nil` when there is none.
    public static func fileIdentity(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return "file \(info.st_dev):\(info.st_ino)"
    }

    /// Writes a copy into the file at `path` all at once: `body` fills a new file beside it
    /// (`PATH.copying`), which is synced and renamed over it once complete, and the folder synced.
    /// Whatever happens, kill -9 included, `path` is as it was or the whole copy. An existing
    /// file must be a planq database (or empty), hold no jobs, schedules or queues unless
    /// `replacing`, and be in use by no other process (a `-wal` file left beside it once this
    /// process closed it tells one has it open). A symlink is followed: its target is replaced.
    public static func receiveCopy(at path: String, replacing: Bool, groupWritable: Bool,
                                   _ body: (any CopyWriter) async throws -> Void) async throws(StoreError) {
        let target = resolvedPath(path)
        var existing = stat()
        let exists = stat(target, &existing) == 0
        if exists {
            if let kind = kindName(existing.st_mode) { throw .notARegularFile(path: path, kind: kind) }
            if existing.st_size > 0 {
                let held = try heldRows(inFileAt: target)
                if held > 0 && !replacing { throw .copyTargetNotEmpty(location: path, held: held) }
                if access(target + "-wal", F_OK) == 0 { throw .databaseInUse(path: path) }
            }
        }
        let building = target + ".copying"
        removeFiles(building)
        do {
            try await fill(building, groupWritable: groupWritable, body)
            if exists {
                chmod(building, existing.st_mode & 0o7777)
                _ = chown(building, existing.st_uid, existing.st_gid)
            }
            try syncFile(building)
            guard rename(building, target) == 0 else { throw StoreError.copyFailed(path: path, errno: errno) }
            try syncFile(parentFolder(of: target))
        } catch {
            removeFiles(building)
            throw storeError(error)
        }
    }

    /// Creates the database at `building`, lets `body` fill it, and closes it (its WAL folded in).
    private static func fill(_ building: String, groupWritable: Bool, _ body: (any CopyWriter) async throws -> Void) async throws {
        let store = try SQLiteStore(StoreOptions(path: building, create: true, migrate: true, groupWritable: groupWritable, durability: .normal))
        try await body(store)
        try store.read { connection in try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    /// What a planq database file holds that a copy would replace (an unfinished one holds nothing);
    /// a file with tables of another program's is refused.
    private static func heldRows(inFileAt path: String) throws(StoreError) -> Int {
        do {
            let connection = try Connection(path: path, create: false, groupWritable: false, durability: .full, busyTimeoutMilliseconds: 5000)
            let tables = try connection.query("SELECT name FROM sqlite_master WHERE type = 'table'").map { try $0.text("name") }
            if tables.contains("jobs") { return Int(try connection.query(heldRowsQuery)[0].int("n")) }
            if tables.contains(where: { $0 != "schema_migrations" && !$0.hasPrefix("sqlite_") }) { throw StoreError.foreignDatabase(path: path) }
            return 0
        } catch {
            throw storeError(error)
        }
    }

    private static func resolvedPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func parentFolder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func removeFiles(_ database: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(database + suffix) }
    }

    /// fsync of a file or a folder.
    private static func syncFile(_ path: String) throws(StoreError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .copyFailed(path: path, errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .copyFailed(path: path, errno: errno) }
    }
}
