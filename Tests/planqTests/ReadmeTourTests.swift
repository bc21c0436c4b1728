import Foundation
import Testing

/// The README's five-minute tour, run as it is printed: every command in it works.
@Suite struct ReadmeTour {
    /// The ```sh block of the README's "A five-minute tour" section.
    static func tour() throws -> String {
        try Planq.readmeBlock(after: "## A five-minute tour", language: "sh")
    }

    @Test func theTourRunsAsPrinted() throws {
        let workspace = Workspace()
        let script = try Self.tour()
        #expect(script.split(separator: "\n").count >= 20)
        // bash -e: any command of the tour that fails stops it. Its temporary folder is the workspace.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-euo", "pipefail", "-c", script]
        process.currentDirectoryURL = Planq.repository
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = workspace.folder.path
        environment["PLANQ_DB"] = nil
        // The tour's PATH line names .build/debug; the planq under test comes first either way.
        environment["PATH"] = Planq.binary.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        let output = workspace.path("tour.out")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let sink = FileHandle(forWritingAtPath: output)  // one handle: stdout and stderr interleave, none overwrites
        process.standardOutput = sink
        process.standardError = sink
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let text = workspace.read("tour.out")
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("Examples/welcome.json: ok") && text.contains("Examples/fanout.json: ok"))
        #expect(text.contains(#""created":true"#) && text.contains("worker drained"))
        #expect(text.range(of: #"send\s+ok\s+1\s+\d+ms"#, options: .regularExpression) != nil, "show lists the steps: \(text)")
        #expect(text.contains(#""stdout":"hello\n""#), "the command ran: \(text)")
        #expect(text.contains("cancelled 1 pending jobs") && text.contains("retried 1 jobs"))
        #expect(text.contains("would delete 0 jobs") && text.contains("schema "))
        #expect(text.contains("schedule nightly added; next fire ") && text.components(separatedBy: " 02:30:00 ").count == 4, "\(text)")
        // Nothing outside the workspace: the database went to the tour's own temporary folder.
        let databases = try FileManager.default.subpathsOfDirectory(atPath: workspace.folder.path).filter { $0.hasSuffix("planq.db") }
        #expect(databases.count == 1, "\(databases)")
    }
}
