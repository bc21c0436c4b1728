import Foundation
import Glibc
import Testing

/// Commands that behave alike: versions, checks, queues, bulk operations, options, logs and
/// `planq run`, each through the built binary.
@Suite struct CommandConventionTests {
    @Test func versionNamesPlanqTheSchemaAndSQLite() throws {
        let outcome = try Planq.run(["--version"])
        #expect(outcome.status == 0)
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        let migrations = try FileManager.default.contentsOfDirectory(atPath: Planq.repository.appendingPathComponent("Migrations").path)
            .filter { $0.hasSuffix(".sql") }.count
        #expect(lines.count == 3 && lines[0].hasPrefix("planq ") && lines[1] == "schema \(migrations)", "\(outcome.stdout)")
        let sqlite = try Planq.run(["--version"], input: "").stdout.split(separator: "\n")[2]
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        shell.arguments = ["sqlite3", ":memory:", "SELECT sqlite_version()"]
        let pipe = Pipe()
        shell.standardOutput = pipe
        try shell.run()
        let version = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        shell.waitUntilExit()
        #expect(sqlite == "SQLite \(version)", "the library the shell loads, as the sqlite3 shell reports it")
    }

    @Test func checkValidatesAsEnqueueDoesNamesEveryFileAndGoesOnPastAMissingOne() throws {
        let workspace = Workspace()
        let good = workspace.write("good.json", planJSON([#"{"id":"a","call":"echo","input":1}"#]))
        let unknown = workspace.write("unknown.json", planJSON([#"{"id":"a","call":"mail.send","input":1}"#]))
        let outcome = try workspace.planq("check", good, workspace.path("missing.json"), unknown)
        #expect(outcome.status == 65, "an invalid plan outranks a missing file")
        #expect(outcome.stdout == "\(good): ok\n")
        #expect(outcome.stderr.contains("missing.json: cannot read the file"))
        #expect(outcome.stderr.contains("unknown.json: steps[0].call: no capability \"mail.send\""), "\(outcome.stderr)")
        let missingOnly = try workspace.planq("check", good, workspace.path("missing.json"))
        #expect(missingOnly.status == 64 && missingOnly.stdout == "\(good): ok\n")
        #expect(try workspace.planq("check", "--allow-unknown", unknown).status == 0)
        // With a database, the capabilities its workers registered count.
        _ = try workspace.planq("migrate")
        _ = try workspace.sqlite3("INSERT INTO capabilities (name, worker, registered_at) VALUES ('mail.send', 'h/1', '2026-01-01T00:00:00.000Z')")
        #expect(try workspace.planq("check", unknown).stdout == "\(unknown): ok\n")
        #expect(try workspace.planq("check", "--canonical", good).stdout.hasPrefix("{\"idempotency_key\":"))
    }

    @Test func queueCommandsOnANeverUsedQueueWarnAndNeedCreate() throws {
        let workspace = Workspace()
        try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#]))
        let phantom = try workspace.planq("queue", "pause", "nosuchqueue")
        #expect(phantom.status == 1 && phantom.stderr.contains("has never had a job") && phantom.stderr.contains("--create"))
        #expect(try workspace.sqlite3("SELECT count(*) FROM queues WHERE name = 'nosuchqueue'") == "0\n", "nothing written")
        #expect(try workspace.planq("queue", "pause", "nosuchqueue", "--create").stdout == "queue nosuchqueue paused\n")
        #expect(try workspace.planq("queue", "pause", "default").status == 0)
        let negative = try workspace.planq("queue", "limit", "default", "-5")
        #expect(negative.status == 64 && negative.stderr.contains("the limit \"-5\" is not a whole number from 0, or none"), "\(negative.stderr)")
        #expect(try workspace.planq("queue", "limit", "default", "5").stdout == "queue default limit 5\n")
    }

    @Test func cancelAndRetryTakeFiltersAndSayHowManyTheyChanged() throws {
        let workspace = Workspace()
        for key in ["nightly/1", "nightly/2", "nightly/3", "other/1"] {
            try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#], #","idempotency_key":"\#(key)""#))
        }
        try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#], #","queue":"mail""#))
        let cancelled = try workspace.planq("cancel", "--key-prefix", "nightly/", "--json")
        #expect(cancelled.stdout == #"{"already_finished":0,"cancelled":3,"requested":0}"# + "\n", "\(cancelled.stderr)")
        #expect(try workspace.sqlite3("SELECT group_concat(idempotency_key, ',') FROM jobs WHERE state = 'cancelled'") == "nightly/1,nightly/2,nightly/3\n")
        #expect(try workspace.planq("cancel", "--key", "nightly/1", "--json").stdout == #"{"result":"already_cancelled"}"# + "\n")
        #expect(try workspace.planq("cancel", "--queue", "mail").stdout == "cancelled 1 pending jobs; asked the workers of 0 running jobs to stop them\n")
        #expect(try workspace.planq("cancel", "--older-than", "1h").stdout.hasPrefix("cancelled 0 "))
        #expect(try workspace.planq("retry", "--state", "cancelled", "--queue", "default").stdout == "retried 3 jobs; they are pending\n")
        #expect(try workspace.planq("retry", "--state", "pending", "--json").stdout == #"{"retried":0}"# + "\n", "only failed or cancelled jobs")
        let both = try workspace.planq("cancel", "1", "--queue", "mail")
        #expect(both.status == 64 && both.stderr.contains("or jobs by filters"))
        #expect(try workspace.planq("retry", "--queue", "mail", "--from", "a").status == 64)
    }

    @Test func eachCommandOffersOnlyTheOptionsThatMeanSomethingToIt() throws {
        let workspace = Workspace()
        try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#]))
        for arguments in [["list", "--group-writable"], ["show", "1", "--synchronous", "normal"], ["stats", "--group-writable"],
                          ["wait", "1", "--synchronous", "full"], ["cancel", "1", "--group-writable"]] {
            let outcome = try Planq.run(arguments + ["--db", workspace.db])
            #expect(outcome.status == 64 && outcome.stderr.contains("Unknown option"), "\(arguments): \(outcome.stderr)")
        }
        for command in ["enqueue", "worker", "migrate", "run"] {
            #expect(try Planq.run([command, "--help"]).stdout.contains("--group-writable"), "\(command)")
        }
    }

    @Test func enqueueOnATerminalWithNoFileSaysItReadsStandardInput() throws {
        let workspace = Workspace()
        // script(1) gives planq a terminal; its standard input ends at once.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", "\(Planq.binary.path) enqueue --db \(workspace.db)", "/dev/null"]
        let output = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.contains("reading a plan from standard input"), "\(text)")
        // Not on a terminal: nothing said, the plan read.
        let piped = try workspace.planq("enqueue", input: planJSON([#"{"id":"a","call":"echo","input":1}"#]))
        #expect(piped.status == 0 && piped.stderr.isEmpty)
    }

    @Test func workerLogLinesCarryATimestampOrAreJSON() throws {
        let workspace = Workspace()
        try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#]))
        let text = try WorkerProcess(workspace, ["--drain"])
        #expect(text.waitForExit() == 0)
        let lines = text.log.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.firstMatch(of: #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|NOTICE|WARNING|ERROR|DEBUG) /#) != nil },
                "\(text.log)")
        // The drained line comes after the last job's end is recorded.
        let succeeded = try #require(lines.firstIndex { $0.contains("job succeeded") })
        let drained = try #require(lines.firstIndex { $0.contains("worker drained") })
        #expect(succeeded < drained, "\(text.log)")

        try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":2}"#]))
        let json = try WorkerProcess(workspace, ["--drain", "--log-format", "json"])
        #expect(json.waitForExit() == 0)
        for line in json.log.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(object["at"] is String && object["level"] is String && object["message"] is String, "\(line)")
        }
        #expect(json.log.contains(#""message":"job succeeded""#))
    }

    @Test func runEnqueuesACommandAndWithWaitPrintsItsOutputAndExitsWithItsStatus() throws {
        let workspace = Workspace()
        let queued = try workspace.planqRun("--", "echo", "hello")
        #expect(queued.status == 0, "\(queued.stderr)")
        let id = try #require(Int64(queued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let argv = try workspace.sqlite3("SELECT plan ->> '$.steps[0].input.argv' FROM jobs WHERE id = \(id)")
        #expect(argv.hasPrefix("[\"/") && argv.contains("/echo\",\"hello\"]"), "the program by its absolute path: \(argv)")
        #expect(try workspace.sqlite3("SELECT plan ->> '$.retry.max_attempts' FROM jobs WHERE id = \(id)") == "1\n", "runs once")

        let worker = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--allow-exec", "/usr/bin/echo", "--allow-exec", "/bin/echo"])
        #expect(try eventually { try workspace.planq("workers", "--live").stdout.contains("live") }, "\(worker.log)")
        let failing = try workspace.planqRun("--wait", "--queue", "default", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3")
        #expect(failing.status == 3 && failing.stdout == "out\n" && failing.stderr == "err\n", "\(failing)")
        let ok = try workspace.planqRun("--wait", "--key", "greeting", "--", "/bin/sh", "-c", "echo hi")
        #expect(ok.status == 0 && ok.stdout == "hi\n")
        #expect(try workspace.sqlite3("SELECT state FROM jobs WHERE idempotency_key = 'greeting'") == "succeeded\n")
        // The worker still decides what may run.
        let refused = try workspace.planqRun("--wait", "--", "/usr/bin/true")
        #expect(refused.status == 1 && refused.stderr.contains("exec_not_allowed"), "\(refused.stderr)")
        worker.signal(SIGTERM)
        _ = worker.waitForExit()
        let missing = try workspace.planqRun("--", "no-such-command-here")
        #expect(missing.status == 64 && missing.stderr.contains("no such command in PATH"))
        #expect(try workspace.planqRun().status == 64)
    }
}

extension Workspace {
    /// `planq run --db <this database> arguments...`: the command after `--` takes everything after it.
    func planqRun(_ arguments: String...) throws -> Planq.Outcome {
        try Planq.run(["run", "--db", db] + arguments)
    }
}
