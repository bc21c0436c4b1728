import Foundation
import Glibc
import Testing

/// The README's library example, exactly as printed: built as the `LibraryExample` executable and
/// run as a real process.
@Suite struct LibraryExample {
    static let source = Planq.repository.appendingPathComponent("Examples/LibraryWorker/main.swift")

    /// The Swift block of the README's "Your own capabilities" section.
    static func readmeExample() throws -> String {
        try Planq.readmeBlock(after: "### Your own capabilities", language: "swift")
    }

    @Test func theReadmePrintsTheExampleThatIsBuilt() throws {
        #expect(try Self.readmeExample() == String(contentsOf: Self.source, encoding: .utf8))
    }

    @Test func theExampleRunsAJobWithItsOwnCapabilityAndStopsOnSIGTERM() async throws {
        let workspace = Workspace()
        let binary = Planq.binary.deletingLastPathComponent().appendingPathComponent("LibraryExample")
        let process = Process()
        process.executableURL = binary
        process.environment = ProcessInfo.processInfo.environment.merging(["MY_APP_DB": workspace.db]) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // `planq enqueue` accepts the call once the example's worker registered mail.send.
        #expect(await eventually { (try? workspace.planq("capabilities").stdout.contains("mail.send")) == true })
        let id = try workspace.enqueue(#"{"version":1,"idempotency_key":"welcome-1","steps":[{"id":"mail","call":"mail.send","input":{"to":"ada@example.com"}}]}"#)
        #expect(try await workspace.planq("wait", "\(id)", "--timeout", "60s").stdout == "succeeded\n")
        #expect(try workspace.sqlite3("SELECT output FROM step_results WHERE job_id = \(id)")
                == #"{"idempotency_key":"welcome-1/mail","sent_to":"ada@example.com"}"# + "\n")
        kill(process.processIdentifier, SIGTERM)
        #expect(await eventually { !process.isRunning })
        #expect(process.terminationStatus == 0)
    }
}
