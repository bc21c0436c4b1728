import Foundation
import Glibc
import Testing

/// `planq copy` between SQLite files: it never writes its source, and a killed copy leaves its
/// target as it was or complete.
@Suite struct CopyFileTests {
    @Test func everyOtherSpellingOfTheSourceIsRefusedAndNothingIsWritten() throws {
        let workspace = Workspace()
        try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#], #","idempotency_key":"kept""#))
        let folder = workspace.folder.path
        try FileManager.default.createSymbolicLink(atPath: workspace.path("link.db"), withDestinationPath: workspace.db)
        try FileManager.default.linkItem(atPath: workspace.db, toPath: workspace.path("hard.db"))
        try FileManager.default.createDirectory(atPath: workspace.path("sub"), withIntermediateDirectories: true)
        let before = try Data(contentsOf: URL(fileURLWithPath: workspace.db))
        let spellings = ["planq.db", "./planq.db", "sub/../planq.db", workspace.db, "\(folder)/./sub/../planq.db", "link.db", "hard.db",
                         "/proc/self/fd/7"]
        for spelling in spellings {
            let copy = try Planq.run(["sh", "-c", "cd \(folder) && exec 7<planq.db && exec \(Planq.binary.path) copy --from planq.db --to \(spelling) --replace"],
                                     program: URL(fileURLWithPath: "/usr/bin/env"))
            #expect(copy.status == 64, "\(spelling): \(copy.stderr)")
            #expect(copy.stderr.contains("--from planq.db and --to \(spelling) are one database"), "\(copy.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: workspace.db)) == before, "the source is byte for byte as it was")
        #expect(try workspace.sqlite3("SELECT idempotency_key FROM jobs") == "kept\n")
    }

    @Test func aKilledCopyLeavesItsTargetAsItWasOrComplete() throws {
        let workspace = Workspace()
        let lines = (1...3000).map { #"{"version":1,"idempotency_key":"new-\#($0)","steps":[{"id":"a","call":"echo","input":\#($0)}]}"# }
        #expect(try workspace.planq("enqueue", "--lines", "-", input: lines.joined(separator: "\n")).status == 0)
        let old = workspace.path("old.db")
        for key in ["old-1", "old-2", "old-3"] {
            #expect(try Planq.run(["enqueue", "-", "--db", old], input: planJSON([#"{"id":"a","call":"echo","input":0}"#], #","idempotency_key":"\#(key)""#)).status == 0)
        }
        let target = workspace.path("target.db")
        var outcomes: [String: Int] = [:]
        for round in 0..<12 {
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: old, toPath: target)
            let copy = Process()
            copy.executableURL = Planq.binary
            copy.arguments = ["copy", "--from", workspace.db, "--to", target, "--replace", "--batch", "50"]
            copy.standardOutput = FileHandle.nullDevice
            copy.standardError = FileHandle.nullDevice
            try copy.run()
            usleep(useconds_t(round * 80_000 + Int.random(in: 0..<60_000)))
            kill(copy.processIdentifier, SIGKILL)
            copy.waitUntilExit()
            #expect(try workspace.sqlite3("PRAGMA integrity_check", on: target) == "ok\n")
            let keys = try workspace.sqlite3("SELECT count(*) || ' ' || min(idempotency_key) FROM jobs", on: target)
            #expect(keys == "3 old-1\n" || keys == "3000 new-1\n", "round \(round): the target holds \(keys)")
            outcomes[keys, default: 0] += 1
        }
        let finished = try Planq.run(["copy", "--from", workspace.db, "--to", target, "--replace"])
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(try workspace.sqlite3("SELECT count(*) FROM jobs", on: target) == "3000\n")
        let left = try FileManager.default.contentsOfDirectory(atPath: workspace.folder.path).filter { $0.contains("copying") }
        #expect(left.isEmpty, "a finished copy leaves no file of a killed one: \(left)")
        print("killed copies left the target as it was \(outcomes["3 old-1\n"] ?? 0) times, complete \(outcomes["3000 new-1\n"] ?? 0) times")
    }

    @Test func aTargetInUseOrNotPlanqsIsRefused() throws {
        let workspace = Workspace()
        try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#]))
        let foreign = workspace.path("foreign.db")
        _ = try workspace.sqlite3("CREATE TABLE mine (x); INSERT INTO mine VALUES (1)", on: foreign)
        let refused = try Planq.run(["copy", "--from", workspace.db, "--to", foreign, "--replace"])
        #expect(refused.status == 1 && refused.stderr.contains("not planq's"), "\(refused.stderr)")
        #expect(try workspace.sqlite3("SELECT x FROM mine", on: foreign) == "1\n")

        let busy = workspace.path("busy.db")
        #expect(try Planq.run(["copy", "--from", workspace.db, "--to", busy]).status == 0)
        // A process holding the target open (as a worker does) keeps its WAL file beside it.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["sqlite3", busy]
        let input = Pipe()
        holder.standardInput = input
        holder.standardOutput = FileHandle.nullDevice
        try holder.run()
        input.fileHandleForWriting.write(Data("SELECT count(*) FROM jobs;\n".utf8))
        #expect(eventually { FileManager.default.fileExists(atPath: busy + "-wal") })
        let inUse = try Planq.run(["copy", "--from", workspace.db, "--to", busy, "--replace"])
        #expect(inUse.status == 69 && inUse.stderr.contains("in use by another process"), "\(inUse.status) \(inUse.stderr)")
        try input.fileHandleForWriting.close()
        holder.waitUntilExit()
    }
}
