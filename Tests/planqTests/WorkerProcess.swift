import Foundation
import Glibc

/// A `planq worker` running as a real process; its stderr goes to a log file in the workspace.
final class WorkerProcess {
    let process = Process()
    let logPath: String

    /// `launcher`: a command that execs the worker (`prlimit --nofile=64:64`), keeping its pid.
    init(_ workspace: Workspace, _ arguments: [String] = [], environment: [String: String] = [:], launcher: [String] = []) throws {
        logPath = workspace.folder.appendingPathComponent("worker-\(UUID().uuidString.prefix(8)).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let command = ["worker", "--db", workspace.db] + arguments
        if launcher.isEmpty {
            process.executableURL = Planq.binary
            process.arguments = command
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = launcher + [Planq.binary.path] + command
        }
        process.currentDirectoryURL = Planq.repository
        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"] { env[key] = nil }
        process.environment = env.merging(environment) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits up to `timeout` for the process to exit; its status, or `nil` if it is still running.
    func waitForExit(timeout: Duration = .seconds(60)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            usleep(10_000)
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; whether it held.
func eventually(timeout: Duration = .seconds(30), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

extension Workspace {
    /// The text of a file in the workspace, or "" when it does not exist.
    func read(_ name: String) -> String {
        (try? String(contentsOfFile: folder.appendingPathComponent(name).path, encoding: .utf8)) ?? ""
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Enqueues `plan` and returns its id.
    @discardableResult
    func enqueue(_ plan: String, _ extra: String...) throws -> Int64 {
        let outcome = try Planq.run(["enqueue", "-", "--db", db] + extra, input: plan)
        precondition(outcome.status == 0, outcome.stderr)
        return Int64(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    func state(_ id: Int64) throws -> String {
        try sqlite3("SELECT state FROM jobs WHERE id = \(id)").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A `process.run` step running `script` with `/bin/sh -c`, as plan JSON.
func shellStep(_ id: String, _ script: String, extra: String = "") -> String {
    let escaped = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    return #"{"id":"\#(id)","call":"process.run","input":{"argv":["/bin/sh","-c","\#(escaped)"]}\#(extra)}"#
}

/// A plan document with these steps (JSON texts) and extra top-level members (`,"key":...`).
func planJSON(_ steps: [String], _ extra: String = "") -> String {
    #"{"version":1,"steps":["# + steps.joined(separator: ",") + "]" + extra + "}"
}

// Async forms of the waits above, for long tests: they suspend between polls instead of holding one
// of the few threads Swift concurrency shares, so tests running beside them (in-process workers
// above all) are not starved.

extension WorkerProcess {
    /// Waits up to `timeout` for the process to exit, suspended; its status, or `nil` if it still runs.
    func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }
}

/// Polls `condition` every 10 ms, suspended in between, until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(30), _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try condition()
}

extension Planq {
    /// Runs a program (`planq` itself by default) to its end, suspended while it runs; its stdin
    /// comes from `input`, its output goes through files in a temporary folder.
    static func run(_ arguments: [String], program: URL = binary, input: String = "") async throws -> Outcome {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let paths = ["in", "out", "err"].map { folder.appendingPathComponent($0).path }
        _ = FileManager.default.createFile(atPath: paths[0], contents: Data(input.utf8))
        for path in paths.dropFirst() { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.currentDirectoryURL = repository
        process.standardInput = FileHandle(forReadingAtPath: paths[0])
        process.standardOutput = FileHandle(forWritingAtPath: paths[1])
        process.standardError = FileHandle(forWritingAtPath: paths[2])
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return Outcome(status: process.terminationStatus, stdout: read(paths[1]), stderr: read(paths[2]))
    }
}

extension Workspace {
    /// Runs `planq arguments... --db <this database>`, suspended while it runs.
    func planq(_ arguments: String..., input: String = "") async throws -> Planq.Outcome {
        try await Planq.run(arguments + ["--db", db], input: input)
    }
}
