import Foundation
import PlanCore
import Testing

private let hello = #"{"version":1,"idempotency_key":"hello","steps":[{"id":"a","call":"echo","input":{"x":1}}]}"#

@Suite struct EnqueueCommand {
    @Test func enqueuesFromAFileAndFromStdinWithJSONOutput() throws {
        let workspace = Workspace()
        let file = try workspace.planq("enqueue", "Examples/welcome.json", "--json")
        #expect(file.status == 0, "\(file.stderr)")
        #expect(try JSONParser.parse(file.stdout) == ["id": 1, "idempotency_key": "example/welcome-ada", "created": true])
        let stdin = try workspace.planq("enqueue", "-", "--json", "--queue", "q2", "--priority", "7", input: hello)
        #expect(try JSONParser.parse(stdin.stdout) == ["id": 2, "idempotency_key": "hello", "created": true])
        let again = try workspace.planq("enqueue", "--key", "hello", input: #"{"version":1,"steps":[{"id":"z","call":"echo"}]}"#)
        #expect(again.status == 0)
        #expect(again.stdout == "2\n")
        #expect(try workspace.sqlite3("SELECT queue, priority FROM jobs WHERE id = 2") == "q2|7\n")
    }

    static let malformed: [(String, String)] = [
        (#"{"version":1,"steps":[{"id":"a","call":"echo","input":{"$ref":"nope"}}]}"#, #"steps[0].input: $ref "nope" names no earlier step"#),
        (#"{"version":3,"steps":[{"id":"a","call":"echo"}]}"#, "version: unsupported version 3 (this planq reads version 1)"),
        (#"{"version":1,"steps":[{"id":"a","call":"echo"},{"id":"a","call":"echo"}]}"#, #"steps[1].id: duplicate step id "a" (also steps[0])"#),
        (#"{"version":1,"steps":[{"id":"a","call":"echo","timeout":"soon"}]}"#, #"steps[0].timeout: "soon" is not a duration"#),
        (#"{"version":1,"steps":[{"id":"a","call":"echo"}],"colour":1}"#, "colour: unknown field"),
        (#"{"version":1,"steps":[{"id":"a","call":"no.such.thing"}]}"#, #"steps[0].call: no capability "no.such.thing" is built in or registered by a worker"#),
        (#"{"version":1,"steps":["#, "invalid JSON at line 1, column 23"),
        ("", "invalid JSON at line 1, column 1"),
    ]

    @Test(arguments: malformed)
    func aMalformedPlanExits65NamingThePlaceAndWritesNothing(plan: String, message: String) throws {
        let workspace = Workspace()
        let fresh = try workspace.planq("enqueue", "-", input: plan)
        #expect(fresh.status == 65)
        #expect(fresh.stderr.hasPrefix("planq: -: \(message)"), "\(fresh.stderr)")
        #expect(fresh.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: workspace.db), "no database was created")
        #expect(try workspace.planq("enqueue", "-", input: hello).status == 0)
        let existing = try workspace.planq("enqueue", "-", input: plan)
        #expect(existing.status == 65)
        #expect(try workspace.sqlite3("SELECT count(*) FROM jobs; SELECT count(*) FROM job_events") == "1\n1\n")
    }

    @Test func unknownCapabilitiesPassWithAllowUnknown() throws {
        let workspace = Workspace()
        let plan = #"{"version":1,"steps":[{"id":"a","call":"mail.send"}]}"#
        #expect(try workspace.planq("enqueue", "-", input: plan).status == 65)
        #expect(try workspace.planq("enqueue", "-", "--allow-unknown", input: plan).status == 0)
    }

    @Test func linesAreAllOrNothingAndTheErrorNamesTheLine() throws {
        let workspace = Workspace()
        let good = (1...3).map { #"{"version":1,"idempotency_key":"l\#($0)","steps":[{"id":"a","call":"echo"}]}"# }
        let bad = good[0] + "\n" + good[1] + "\n\n" + #"{"version":1,"steps":[{"id":"a","call":"echo","retry":{"max_attempts":0}}]}"# + "\n"
        let refused = try workspace.planq("enqueue", "--lines", "-", input: bad)
        #expect(refused.status == 65)
        #expect(refused.stderr == "planq: -:4: steps[0].retry.max_attempts: 0 is out of range 1...1000\n")
        #expect(!FileManager.default.fileExists(atPath: workspace.db))
        let accepted = try workspace.planq("enqueue", "--lines", "-", "--json", input: good.joined(separator: "\n"))
        #expect(accepted.status == 0)
        #expect(accepted.stdout.split(separator: "\n").count == 3)
        #expect(try workspace.sqlite3("SELECT group_concat(idempotency_key) FROM jobs") == "l1,l2,l3\n")
    }

    @Test func aFullQueueExits75() throws {
        let workspace = Workspace()
        #expect(try workspace.planq("enqueue", "-", input: hello).status == 0)
        #expect(try workspace.planq("queue", "limit", "default", "1").status == 0)
        let refused = try workspace.planq("enqueue", "-", "--key", "second", input: hello)
        #expect(refused.status == 75)
        #expect(refused.stderr == "planq: queue default is full: 1 jobs are pending (planq queue limit default N)\n")
        #expect(try workspace.planq("queue", "limit", "default", "none").status == 0)
        #expect(try workspace.planq("enqueue", "-", "--key", "second", input: hello).status == 0)
    }

    @Test func twoProcessesRacingOneKeyMakeOneJob() async throws {
        let workspace = Workspace()
        #expect(try await workspace.planq("migrate").status == 0)
        let outcomes = try await withThrowingTaskGroup(of: Planq.Outcome.self) { group in
            for _ in 0..<6 { group.addTask { try workspace.planq("enqueue", "-", "--json", input: hello) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.allSatisfy { $0.status == 0 })
        #expect(outcomes.filter { $0.stdout.contains(#""created":true"#) }.count == 1)
        #expect(try workspace.sqlite3("SELECT count(*) FROM jobs") == "1\n")
    }
}

@Suite struct ReadCommands {
    @Test(arguments: [["list"], ["show", "1"], ["stats"], ["wait", "1"], ["cancel", "1"], ["retry", "1"], ["capabilities"],
                      ["prune", "--older-than", "30d"], ["migrate", "--status"], ["queue", "pause", "default"]])
    func onAMissingDatabaseExit69(arguments: [String]) throws {
        let workspace = Workspace()
        let outcome = try Planq.run(arguments + ["--db", workspace.db])
        #expect(outcome.status == 69)
        #expect(outcome.stderr == "planq: no database at \(workspace.db) (enqueue, worker and migrate create it)\n")
        #expect(!FileManager.default.fileExists(atPath: workspace.db))
    }

    @Test func usageErrorsExit64() throws {
        let workspace = Workspace()
        #expect(try workspace.planq("list", "--limit", "0").status == 64)
        #expect(try workspace.planq("show").status == 64)
        #expect(try workspace.planq("prune", "--older-than", "soon").status == 64)
    }

    @Test func showJSONHasTheDocumentedShape() throws {
        let workspace = Workspace()
        _ = try workspace.planq("enqueue", "Examples/welcome.json")
        let shown = try workspace.planq("show", "--key", "example/welcome-ada", "--json")
        #expect(shown.status == 0)
        let document = try JSONParser.parse(shown.stdout).objectValue ?? [:]
        for key in ["id", "idempotency_key", "queue", "priority", "state", "run_at", "created_at", "finished_at", "result", "error", "steps", "events"] {
            #expect(document[JSONKey(key)] != nil, "show --json has \(key)")
        }
        #expect(document["state"] == "pending")
        #expect(document["events"]?.arrayValue?.first?.objectValue?["kind"] == "enqueued")
        // Every step of the plan, none started yet.
        #expect(document["steps"]?.arrayValue?.map { $0.objectValue?["id"] } == ["profile", "render", "pause", "send"])
        #expect(document["steps"]?.arrayValue?.allSatisfy { $0.objectValue?["state"] == "not_started" && $0.objectValue?["attempts"] == 0 } == true)
    }

    @Test func cancelAndRetryFollowTheirExitRules() throws {
        let workspace = Workspace()
        _ = try workspace.planq("enqueue", "-", input: hello)
        #expect(try workspace.planq("retry", "1").status == 1)
        #expect(try workspace.planq("cancel", "1").stdout == "cancelled\n")
        #expect(try workspace.planq("cancel", "1").status == 0)
        let waited = try workspace.planq("wait", "1")
        #expect(waited.status == 1)
        #expect(waited.stdout == "cancelled\n")
        #expect(try workspace.planq("retry", "1").status == 0)
        #expect(try workspace.planq("wait", "1", "--timeout", "100ms").status == 124)
        #expect(try workspace.planq("show", "99").status == 1)
    }
}
