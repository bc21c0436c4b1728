import ArgumentParser
import Foundation
import PlanCore
import PlanStore

/// Validates plan files without storing them.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate plan files as enqueue would, without storing them: prints each file with ok, or its issues on stderr.",
        discussion: """
            The capabilities a plan may call are the built-ins and those registered by the workers of the database (--db), \
            when it exists. Every file is checked, past a missing one. Exits 65 when any plan is invalid, \
            else 64 when a file could not be read.
            """)

    @Argument(help: "Plan files (JSON), or - for standard input.")
    var files: [String] = ["-"]
    @Flag(help: "Accept calls of capabilities that are neither built in nor registered by a worker.")
    var allowUnknown = false
    @Flag(help: "Print each valid plan's canonical JSON (what enqueue would store) instead of ok.")
    var canonical = false
    @Flag(help: "Print nothing on success.")
    var quiet = false
    @OptionGroup var database: DatabaseOption

    func run() async throws {
        let store = database.mayExist ? try await database.open(create: false) : nil
        let known = allowUnknown ? nil : try await PlanFile.knownCapabilities(store)
        var (invalid, unreadable) = (false, false)
        for file in files {
            let bytes: [UInt8]
            do {
                bytes = try PlanFile.read(file)
            } catch let status as ExitCode where status == ExitStatus.usage {
                unreadable = true
                continue
            } catch {
                invalid = true
                continue
            }
            guard let plan = PlanFile.validate(bytes[...], named: file, known: known) else {
                invalid = true
                continue
            }
            if quiet { continue }
            if canonical { Console.printJSON(plan.json) } else { print("\(file.printable): ok") }
        }
        if invalid { throw ExitStatus.invalidPlan }
        if unreadable { throw ExitStatus.usage }
    }
}
