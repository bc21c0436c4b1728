import Foundation

/// The built `planq` binary, run as a real process.
enum Planq {
    static let binary: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("planq")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
            directory.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/planq")
    }()

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The first ```LANGUAGE block after `heading` in the README, as printed.
    static func readmeBlock(after heading: String, language: String) throws -> String {
        struct Missing: Error, CustomStringConvertible { let description: String }
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        guard let section = readme.range(of: heading)?.upperBound,
              let start = readme.range(of: "```\(language)\n", range: section..<readme.endIndex)?.upperBound,
              let end = readme.range(of: "```\n", range: start..<readme.endIndex)?.lowerBound
        else { throw Missing(description: "the README has no ```\(language) block after \(heading)") }
        return String(readme[start..<end])
    }

    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `planq arguments...` (or `program`) with `input` on stdin and waits for it to exit.
    static func run(_ arguments: [String], program: URL = binary, input: String = "", environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.currentDirectoryURL = repository
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}

/// A temporary folder with a database path in it, removed when released.
final class Workspace: Sendable {
    let folder: URL
    var db: String { folder.appendingPathComponent("planq.db").path }

    init() {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-cli-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// Runs `planq arguments... --db <this database>`.
    func planq(_ arguments: String..., input: String = "") throws -> Planq.Outcome {
        try Planq.run(arguments + ["--db", db], input: input)
    }

    /// Runs the `sqlite3` shell on the database (or on another file).
    func sqlite3(_ sql: String, mode: String = "-list", on database: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", mode, database ?? db, sql]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func write(_ name: String, _ text: String) -> String {
        let path = folder.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }
}
