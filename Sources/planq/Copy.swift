import ArgumentParser
import PlanCore
import PlanStore

/// Moves every job, step result, event, queue, schedule and worker record from one database to
/// another, ids, tokens and history positions intact.
struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a planq database to another (SQLite to PostgreSQL or back), with every id, token and event intact.",
        discussion: """
            Stop the workers first: what they write during the copy may be missed. The target is created or migrated; \
            one that holds jobs, schedules or queues is refused (exit 1) unless --replace, which deletes them first. \
            The copy is written table by table in transactions of --batch rows.
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
        guard from != to else { throw ValidationError("--from and --to name the same database") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() async throws {
        let source = try await open(from, create: false), target = try await open(to, create: true)
        try await Console.run {
            let held = try await target.heldRows()
            if held > 0 && !replace {
                Console.complain("\(to) holds \(held) jobs, schedules and queues; planq copy writes only into an empty database (--replace deletes them first)")
                throw ExitCode.failure
            }
            if replace { try await target.deleteAllRows() }
            var counts: [String] = []
            for table in CopiedTable.all {
                var copied = 0
                var after: Int64? = nil
                while true {
                    let rows = try await source.copiedRows(of: table, afterKey: after, limit: table.key == nil ? Int.max : batch)
                    for start in stride(from: 0, to: rows.count, by: batch) {
                        try await target.insertCopiedRows(Array(rows[start..<min(rows.count, start + batch)]), into: table)
                    }
                    copied += rows.count
                    guard let key = table.key, rows.count == batch, case .integer(let last)? = rows.last?[key] else { break }
                    after = last
                }
                counts.append("\(copied) \(table.name)")
            }
            try await target.finishCopy(lastPosition: try await source.lastHistoryPosition())
            print("copied " + counts.joined(separator: ", "))
        }
    }

    private func open(_ location: String, create: Bool) async throws -> any StoreCopying {
        var option = DatabaseOption()
        option.path = location
        try option.validate()
        guard let store = try await option.open(create: create, write: true) as? any StoreCopying else {
            throw ValidationError("\(location) cannot be copied")
        }
        return store
    }
}
