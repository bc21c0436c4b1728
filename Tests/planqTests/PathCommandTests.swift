import Foundation
import Glibc
import Testing

/// What `--db` and plan files may be, seen from the command line: clear errors, exit 69 or 65, nothing touched.
@Suite(.timeLimit(.minutes(3))) struct PathCommands {
    @Test func aDeviceAsTheDatabaseExits69AndIsNotChmodded() throws {
        var before = stat()
        stat("/dev/null", &before)
        for arguments in [["enqueue", "Examples/welcome.json"], ["list"], ["migrate"]] {
            let outcome = try Planq.run(arguments + ["--db", "/dev/null"])
            #expect(outcome.status == 69)
            #expect(outcome.stderr.contains("is a character device, not a database file"))
        }
        var after = stat()
        stat("/dev/null", &after)
        #expect(after.st_mode == before.st_mode)
    }

    @Test func aFIFOAsTheDatabaseExits69WithoutBlocking() throws {
        let workspace = Workspace()
        let fifo = workspace.path("fifo.db")
        #expect(mkfifo(fifo, 0o600) == 0)
        for arguments in [["enqueue", "Examples/welcome.json"], ["list"], ["worker", "--drain"]] {
            let outcome = try Planq.run(arguments + ["--db", fifo])
            #expect(outcome.status == 69, "\(arguments)")
            #expect(outcome.stderr.contains("FIFO"))
        }
    }

    @Test func aHalfCreatedDatabaseIsRefusedByReadersAndFinishedByWriters() throws {
        let workspace = Workspace()
        _ = try workspace.sqlite3("PRAGMA journal_mode = WAL; PRAGMA user_version = 1;")
        let list = try workspace.planq("list")
        #expect(list.status == 69)
        #expect(list.stderr.contains("holds no planq database"), "\(list.stderr)")
        #expect(try workspace.planq("show", "1").status == 69)
        #expect(try workspace.planq("prune", "--older-than", "1d", "--dry-run").status == 69, "a dry run writes nothing")
        #expect(try workspace.planq("prune", "--older-than", "1d").stdout == "deleted 0 jobs\n", "a command that writes finishes it")
        #expect(try workspace.planq("enqueue", "Examples/welcome.json").status == 0)
        #expect(try workspace.planq("list").status == 0)
    }

    @Test func aFileThatIsNotADatabaseExits69() throws {
        let workspace = Workspace()
        _ = FileManager.default.createFile(atPath: workspace.db, contents: Data(repeating: 0xA5, count: 8192))
        for arguments in [["list"], ["enqueue", "Examples/welcome.json"]] {
            let outcome = try workspace.planq(arguments[0], arguments.count > 1 ? arguments[1] : "--json")
            #expect(outcome.status == 69, "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.contains("not a database"))
        }
    }

    @Test func twoProcessesCreatingOneDatabaseBothSucceed() async throws {
        let workspace = Workspace()
        for round in 0..<30 {
            let db = workspace.path("race-\(round).db")
            let processes = (0..<2).map { _ in
                let process = Process()
                process.executableURL = Planq.binary
                process.arguments = ["enqueue", "--db", db, Planq.repository.appendingPathComponent("Examples/welcome.json").path]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                return process
            }
            for process in processes { try process.run() }
            while processes.contains(where: \.isRunning) { try await Task.sleep(for: .milliseconds(5)) }
            #expect(processes.map(\.terminationStatus) == [0, 0], "round \(round)")
        }
    }

    @Test func standardInputIsReadUpToTheLimitNeverWhole() throws {
        let process = Process()
        process.executableURL = Planq.binary
        let workspace = Workspace()
        process.arguments = ["enqueue", "-", "--db", workspace.db]
        process.standardInput = FileHandle(forReadingAtPath: "/dev/zero")
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 65)
        #expect(text.contains("more than 1048576 bytes"))
        #expect(!FileManager.default.fileExists(atPath: workspace.db), "nothing written")
    }

    @Test(arguments: ["0", "1025", "100000"])
    func theWorkersConcurrencyIsBounded(value: String) throws {
        let outcome = try Workspace().planq("worker", "--drain", "--concurrency", value)
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("1...1024"))
    }

    @Test(arguments: ["/srv/../bin/*", "bin/*", "/srv//x"])
    func allowExecPatternsWithStepsUpAreUsageErrors(pattern: String) throws {
        let outcome = try Workspace().planq("worker", "--drain", "--allow-exec", pattern)
        #expect(outcome.status == 64)
    }

    @Test func textFromAPlanNeverReachesTheTerminalRaw() throws {
        let workspace = Workspace()
        let id = try workspace.enqueue(planJSON([#"{"id":"a","call":"fail","input":{"message":"\u001b]0;pwned\u0007 \u202egnp.exe"}}"#]))
        let worker = try WorkerProcess(workspace, ["--drain"])
        #expect(worker.waitForExit() == 0, "\(worker.log)")
        let hostile: Set<Unicode.Scalar> = ["\u{1B}", "\u{07}", "\u{202E}"]
        #expect(worker.log.contains("\\u001b]0;pwned"), "\(worker.log)")
        let json = try workspace.planq("show", "\(id)", "--json").stdout
        #expect(json.contains(#"\u001b]0;pwned\u0007 \u202egnp.exe"#), "the same JSON, escaped: \(json)")
        for text in [worker.log, try workspace.planq("show", "\(id)").stdout, try workspace.planq("list").stdout, json] {
            #expect(!text.unicodeScalars.contains(where: hostile.contains), "\(text)")
        }
    }
}
