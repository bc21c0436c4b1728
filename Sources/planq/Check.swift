import ArgumentParser
import Foundation
import PlanCore

/// Validates plan files without storing them.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate plan files and print their canonical form; writes nothing.",
        discussion: "Exits 65 when any plan is invalid, naming the file and the place of every issue.")

    @Argument(help: "Plan files (JSON), or - for standard input.")
    var files: [String] = ["-"]

    @Flag(help: "Print nothing on success.")
    var quiet = false

    func run() throws {
        var invalid = false
        for file in files {
            let bytes = try PlanFile.read(file)
            do {
                let description = try PlanDescription.decode(bytes, newKey: { UUID().uuidString.lowercased() })
                if !quiet { Console.printJSON(description.json) }
            } catch {
                invalid = true
                for issue in error.issues { Console.complain("\(file): \(issue)") }
            }
        }
        if invalid { throw ExitStatus.invalidPlan }
    }
}
