import ArgumentParser
import Foundation
import Logging
import PlanPostgres
import PlanStore

/// `--db PATH` (env `PLANQ_DB`, default `./planq.db`), taken by every subcommand.
struct DatabaseOption: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp(
        "The database: a SQLite file, or postgres://USER@HOST:PORT/DATABASE[?sslmode=require|verify-full] (env PLANQ_DB).",
        valueName: "path|url"))
    var path: String = environmentValue("PLANQ_DB") ?? "./planq.db"

    func validate() throws {
        if isPostgres {
            do { _ = try PostgresURL(path) } catch { throw ValidationError("--db: \(error)") }
        }
    }

    /// Whether it names a PostgreSQL database rather than a file.
    var isPostgres: Bool { PostgresURL.isPostgres(path) }

    /// Whether the database may exist already: the file does, or it is on a server.
    var mayExist: Bool { isPostgres || FileManager.default.fileExists(atPath: path) }

    /// Opens the store; `create` makes the file and applies pending migrations; `write` (a command
    /// that may write) applies them to an existing file, finishing one whose creation was cut short;
    /// `groupCommit` packs concurrent writes into shared transactions (the worker). `storage` holds
    /// the options of the commands that create databases and write much.
    /// A PostgreSQL URL gets its password from the URL, the systemd credential `planq-db-password`
    /// or `PGPASSFILE`; `create` and `write` apply pending migrations there; a call the server
    /// does not answer within `answerLimit` fails as a fault; calls run side by side on up to
    /// `connections` connections. Given a logger, a server out of reach
    /// is waited for (logged once), not an error.
    func open(create: Bool, write: Bool = false, groupCommit: Bool = false, storage: StorageOptions? = nil,
              commitObserver: (@Sendable (Int, Duration) -> Void)? = nil, answerLimit: Duration = .seconds(30), connections: Int = 1,
              waitingForServer logger: Logger? = nil) async throws -> any JobStore {
        if isPostgres {
            let url: PostgresURL
            do { url = try PostgresURL(path).withPassword() } catch { throw Console.failure(error) }
            var pause = Duration.seconds(1)
            while true {
                do {
                    return try await PostgresStore.connect(url, migrate: create || write, timeout: answerLimit, connections: connections,
                                                           commitObserver: commitObserver)
                } catch .server(let error) where error.sqlState == nil && logger != nil {
                    // Out of reach (no answer, refused, no route): a worker waits for its server.
                    // A refused login or a missing database still ends it.
                    if pause == .seconds(1) { logger?.error("database server out of reach; trying again", metadata: ["error": "\(error)"]) }
                    try await Task.sleep(for: pause)
                    pause = min(pause * 2, .seconds(5))
                } catch {
                    throw Console.failure(error)
                }
            }
        }
        var options = StoreOptions(path: path, create: create, migrate: write, groupWritable: storage?.groupWritable ?? false,
                                   durability: storage?.synchronous ?? .full, groupCommit: groupCommit)
        options.commitObserver = commitObserver
        do {
            return try SQLiteStore(options)
        } catch {
            throw Console.failure(error)
        }
    }
}

/// How a new database is made and how hard commits are kept: for the commands that create
/// databases (`enqueue`, `run`, `worker`, `migrate`).
struct StorageOptions: ParsableArguments {
    @Flag(help: "Create a new database readable and writable by its group too (0660), for operators who enqueue as themselves.")
    var groupWritable = false

    @Option(help: ArgumentHelp(
        "full (default): every commit survives power loss. normal: fewer fsyncs; the last commits may be lost on power loss, never on a crash (env PLANQ_SYNCHRONOUS).",
        valueName: "full|normal"))
    var synchronous: Durability = environmentValue("PLANQ_SYNCHRONOUS").flatMap(Durability.init(rawValue:)) ?? .full
}

extension Durability: ExpressibleByArgument {}

/// `--json`: machine-readable output.
struct OutputOption: ParsableArguments {
    @Flag(help: "Print JSON instead of text.")
    var json = false
}

/// One environment variable, read without copying the whole environment (`ProcessInfo` does, and
/// option defaults are read on every parse).
func environmentValue(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}
