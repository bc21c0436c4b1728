import Glibc
import PlanCore

/// Why a store operation failed. Bound values (job inputs may hold secrets) never appear here.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// The database file does not exist and the command does not create it.
    case databaseMissing(path: String)
    /// The path names something other than a regular file (a directory, device, FIFO or socket).
    case notARegularFile(path: String, kind: String)
    /// The file exists but holds no planq schema (created by a process that died, or not planq's);
    /// a command that may write finishes it.
    case notInitialized(path: String)
    /// A stored value does not read back as what was recorded: the database was altered or damaged.
    case corruptValue(String)
    /// SQLite failed; `isBusy` when the database stayed locked past the busy timeout.
    case sqlite(SQLiteError)
    /// The database server failed, or the connection to it.
    case server(ServerError)
    /// A migration problem: an edited applied migration, or a database newer than this binary.
    case migration(String)
    /// No job has this id or key.
    case jobNotFound(String)
    /// The queue has `limit` pending jobs already.
    case queueFull(queue: String, limit: Int)
    /// The job is in a state that does not allow the operation.
    case wrongState(jobID: Int64, state: JobState, operation: String)
    /// A step named by `retry --from` is not in the plan.
    case unknownStep(String)
    /// The job's lease moved on (expired, or taken by another worker): the write was refused.
    case leaseLost(Lease.ID)
    /// No schedule has this name.
    case scheduleNotFound(String)
    /// A schedule has this name already (`add --replace` replaces it).
    case scheduleExists(String)
    /// The SQLite library is older than planq needs; the message names both versions.
    case sqliteTooOld(String)
    /// A plan in a batch was invalid; nothing was written.
    case invalidPlan(line: Int?, PlanValidationError)
    /// A copy's target holds jobs, schedules or queues, and the copy does not replace them.
    case copyTargetNotEmpty(location: String, held: Int)
    /// The file is another program's SQLite database.
    case foreignDatabase(path: String)
    /// Another process has the database open (a worker, or a command in progress).
    case databaseInUse(path: String)
    /// Writing a copy's new file failed with this `errno`; the target is as it was.
    case copyFailed(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .databaseMissing(let path): "no database at \(path.printable) (enqueue, worker and migrate create it)"
        case .notARegularFile(let path, let kind):
            "\(path.printable) is a \(kind), not a database file; --db must name a regular file or one to create"
        case .notInitialized(let path):
            "\(path.printable) holds no planq database (its creation never finished); planq migrate --db \(path.printable) finishes it"
        case .corruptValue(let what): "the database holds a damaged value: \(what)"
        case .sqlite(let error) where error.isBusy: "the database stayed locked past the busy timeout: \(error)"
        case .sqlite(let error): error.description
        case .server(let error): error.description
        case .migration(let message), .sqliteTooOld(let message): message
        case .jobNotFound(let what): "no job \(what)"
        case .scheduleNotFound(let name): "no schedule \(name.quoted)"
        case .scheduleExists(let name): "schedule \(name.quoted) exists already (schedule add --replace replaces it)"
        case .queueFull(let queue, let limit): "queue \(queue) is full: \(limit) jobs are pending (planq queue limit \(queue) N)"
        case .wrongState(let id, let state, let operation): "job \(id) is \(state.rawValue); it cannot be \(operation)"
        case .unknownStep(let step): "the plan has no step \"\(step)\""
        case .leaseLost(let lease): "job \(lease.jobID) is no longer leased to this run (token \(lease.token)); the write was refused"
        case .copyTargetNotEmpty(let location, let held):
            "\(location.printable) holds \(held) jobs, schedules and queues; planq copy writes only into an empty database (--replace deletes them first)"
        case .foreignDatabase(let path): "\(path.printable) holds tables that are not planq's; planq copy does not replace it"
        case .databaseInUse(let path): "\(path.printable) is in use by another process (a worker?); stop it first"
        case .copyFailed(let path, let code): "writing \(path.printable) failed: \(String(cString: strerror(code))); the target is as it was"
        case .invalidPlan(let line, let error):
            error.issues.map { (line.map { "line \($0): " } ?? "") + $0.description }.joined(separator: "\n")
        }
    }
}

extension StoreError {
    /// A fault of the database or the machine (locked, full, read-only, I/O, damaged) rather than of
    /// the request: a worker backs off and tries again; the command line exits 69.
    public var isFault: Bool {
        switch self {
        case .sqlite(let error): error.isFault
        case .server(let error): error.isFault
        case .notARegularFile, .notInitialized, .corruptValue, .databaseMissing, .sqliteTooOld, .copyFailed, .databaseInUse: true
        default: false
        }
    }

    /// A short name of the error's class, from a small fixed set (a metric's label): `busy`,
    /// `full`, `read_only`, `io`, `corrupt`, `cant_open`, `lease_lost`, `other`.
    public var kind: String {
        switch self {
        case .sqlite(let error): error.kind
        case .server(let error): error.kind
        case .corruptValue, .notInitialized: "corrupt"
        case .databaseMissing, .notARegularFile: "cant_open"
        case .leaseLost: "lease_lost"
        default: "other"
        }
    }

    /// What tells one fault from another, for logging a fault once: the database's own error
    /// class (the same fault meets different statements), or the whole error.
    public var faultKind: String {
        if case .sqlite(let error) = self { return "sqlite \(error.primaryCode)" }
        if case .server(let error) = self { return "server \(error.sqlState ?? "connection")" }
        return description
    }
}
