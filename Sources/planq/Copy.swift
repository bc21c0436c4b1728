import ArgumentParser
import PlanCore
import PlanPostgres
import PlanStore

/// Moves every job, step result, event, queue, schedule and worker record from one database to
/// another, ids, tokens and history positions intact.
struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a planq database to another (SQLite to PostgreSQL or back), with every id, token and event intact.",
        discussion: """
            Stop the workers first: what they write during the copy may be missed. The source is only read; it must \
            be migrated to this binary's schema. --from and --to naming one database (through a link, another path or \
            another host name for one server) is refused before anything is written (exit 64). A target that holds jobs, \
            schedules or queues is refused (exit 1) unless --replace, which deletes them. The target is as it was or holds \
            the whole copy, whatever happens: a file is written beside it and renamed over it once complete; on \
            PostgreSQL the copy is one transaction.
            """)

    @Option(help: ArgumentHelp("The database to read: a file or postgres://…", valueName: "path|url"))
    var from: String
    @Option(help: ArgumentHelp("The database to write: a file or postgres://…", valueName: "path|url"))
    var to: String
    @Flag(help: "Delete what the target holds before copying into it.")
    var replace = false
    @Option(help: "Rows per transaction.")
    var batch = 1000

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() async throws {
        try await Console.run {
            let source = try await open(from, create: false)
            if try await source.migrationStatus().contains(where: { $0.appliedAt == nil }) {
                Console.complain("\(from) has migrations to apply; planq copy reads only a migrated database (planq migrate --db \(from))")
                throw ExitCode.failure
            }
            var counts: [String] = []
            let write: (any CopyWriter) async throws -> Void = { target in
                for table in CopiedTable.all {
                    counts.append("\(try await copy(table, from: source, to: target)) \(table.name)")
                }
                try await target.finishCopy(lastPosition: try await source.lastHistoryPosition())
            }
            if PostgresURL.isPostgres(to) {
                // Migrating first writes nothing into a source named twice: it has no migration to apply.
                guard let target = try await open(to, create: true) as? PostgresStore else { throw ValidationError("\(to) cannot be copied into") }
                try await refuseOneDatabase(source, target.identity())
                try await target.receiveCopy(replacing: replace, write)
                await target.close()
            } else {
                try await refuseOneDatabase(source, SQLiteStore.fileIdentity(to))
                try await SQLiteStore.receiveCopy(at: to, replacing: replace, groupWritable: false, write)
            }
            print("copied " + counts.joined(separator: ", "))
        }
    }

    /// Copies `table` in pages of `batch` rows; returns how many.
    private func copy(_ table: CopiedTable, from source: any StoreCopying, to target: any CopyWriter) async throws -> Int {
        var copied = 0
        var after: Int64? = nil
        while true {
            let rows = try await source.copiedRows(of: table, afterKey: after, limit: table.key == nil ? Int.max : batch)
            for start in stride(from: 0, to: rows.count, by: batch) {
                try await target.insertCopiedRows(Array(rows[start..<min(rows.count, start + batch)]), into: table)
            }
            copied += rows.count
            guard let key = table.key, rows.count == batch, case .integer(let last)? = rows.last?[key] else { return copied }
            after = last
        }
    }

    /// Exits 64 when the target is the source under another name.
    private func refuseOneDatabase(_ source: any StoreCopying, _ target: String?) async throws {
        guard try await source.identity() == target else { return }
        Console.complain("--from \(from) and --to \(to) are one database; planq copy would destroy it")
        throw ExitStatus.usage
    }

    private func open(_ location: String, create: Bool) async throws -> any StoreCopying {
        var option = DatabaseOption()
        option.path = location
        try option.validate()
        guard let store = try await option.open(create: create, write: create) as? any StoreCopying else {
            throw ValidationError("\(location) cannot be copied")
        }
        return store
    }
}
