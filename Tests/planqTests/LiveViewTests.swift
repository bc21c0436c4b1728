import Foundation
import Glibc
import Testing

/// `planq events`, `workers`, `capabilities`, `wait`, `show` and `list` as an operator watches work
/// happen: real worker processes, the built binary, real signals.
@Suite struct LiveViewTests {
    /// `planq ARGS --db DB` running in the background, its stdout going to a file in the workspace.
    final class Background {
        let process = Process()
        let outputPath: String

        init(_ workspace: Workspace, _ arguments: [String]) throws {
            outputPath = workspace.path("out-\(UUID().uuidString.prefix(8))")
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            process.executableURL = Planq.binary
            process.arguments = arguments + ["--db", workspace.db]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle(forWritingAtPath: outputPath)
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    @Test func eventsFollowPrintsNewEventsAsTheyCommitUntilInterrupted() throws {
        let workspace = Workspace()
        let first = try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#], #","idempotency_key":"before""#))
        let follow = try Background(workspace, ["events", "--follow", "--json"])
        #expect(eventually(timeout: .seconds(10)) { follow.output.contains(#""kind":"enqueued""#) }, "the history so far first")
        let second = try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#, #"{"id":"b","call":"fail","input":{}}"#],
                                                    #","idempotency_key":"after""#))
        #expect(eventually(timeout: .seconds(5)) { follow.output.contains(#""job_id":\#(second)"#) }, "a new enqueue arrives")
        let worker = try WorkerProcess(workspace, ["--drain"])
        #expect(worker.waitForExit() == 0, "\(worker.log)")
        #expect(eventually(timeout: .seconds(5)) { follow.output.contains(#""kind":"failed""#) && follow.output.contains(#""kind":"succeeded""#) })
        kill(follow.process.processIdentifier, SIGINT)
        follow.process.waitUntilExit()
        #expect(follow.process.terminationReason == .uncaughtSignal && follow.process.terminationStatus == SIGINT)

        // Every event once, in the history's order, the same as job_history holds.
        let lines = follow.output.split(separator: "\n").map(String.init)
        let ids = lines.compactMap { $0.firstMatch(of: #/"event_id":(\d+)/#).map { Int($0.1)! } }
        #expect(ids == ids.sorted() && Set(ids).count == ids.count, "\(follow.output)")
        let history = try workspace.sqlite3("SELECT group_concat(event_id, ',') FROM (SELECT event_id FROM job_history ORDER BY event_id)")
        #expect(ids.map(String.init).joined(separator: ",") + "\n" == history)
        #expect(lines.count == Int(try workspace.sqlite3("SELECT count(*) FROM job_history").dropLast())!)

        // Filters, and the text form with the time and how long ago.
        let onlyFirst = try workspace.planq("events", "--job", "\(first)", "--json")
        #expect(onlyFirst.status == 0 && !onlyFirst.stdout.contains(#""job_id":\#(second)"#) && onlyFirst.stdout.contains(#""kind":"succeeded""#))
        let byKey = try workspace.planq("events", "--key", "after")
        #expect(byKey.stdout.contains("job \(second)  step_failed") && byKey.stdout.contains("ago") || byKey.stdout.contains("now)"), "\(byKey.stdout)")
        #expect(try workspace.planq("events", "--since", "1h", "--limit", "2").stdout.split(separator: "\n").count == 2)
        #expect(try workspace.planq("events", "--queue", "nosuch").stdout.isEmpty)
        let future = try workspace.planq("events", "--since", "2999-01-01T00:00:00Z")
        #expect(future.status == 0 && future.stdout.isEmpty)
        let bad = try workspace.planq("events", "--since", "yesterday")
        #expect(bad.status == 64 && bad.stderr.contains("--since \"yesterday\""))
    }

    @Test func workersListTheLiveOnesWithTheirJobsAndMarkTheDead() throws {
        let workspace = Workspace()
        _ = try workspace.planq("migrate")
        let worker = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--queues", "default,mail", "--concurrency", "3"])
        let id = try workspace.enqueue(planJSON([shellStep("long", "sleep 30")]))
        #expect(try eventually { try workspace.state(id) == "running" })
        let live = try workspace.planq("workers", "--json")
        #expect(live.status == 0)
        let entry = try #require(try JSONSerialization.jsonObject(with: Data(live.stdout.utf8)) as? [[String: Any]]).first
        #expect(entry?["state"] as? String == "live")
        #expect(entry?["pid"] as? Int == Int(worker.pid))
        #expect(entry?["queues"] as? [String] == ["default", "mail"])
        #expect(entry?["concurrency"] as? Int == 3)
        #expect(entry?["running_jobs"] as? [Int] == [Int(id)])
        #expect((entry?["capabilities"] as? [String])?.contains("process.run") == true)
        #expect((entry?["version"] as? String)?.isEmpty == false)
        let text = try workspace.planq("workers").stdout
        #expect(text.contains("live") && text.contains("default,mail") && text.contains("\(id)"), "\(text)")
        let capabilities = try workspace.planq("capabilities", "--json").stdout
        #expect(capabilities.contains(#""live_workers":["\#(ProcessInfo.processInfo.hostName)/\#(worker.pid)"]"#), "\(capabilities)")

        // Killed: its process is gone from this host, so it reads as lost at once (and its job is recovered by the next worker).
        worker.signal(SIGKILL)
        _ = worker.waitForExit()
        let lost = try workspace.planq("workers", "--json").stdout
        #expect(lost.contains(#""state":"lost""#), "\(lost)")
        #expect(try workspace.planq("workers", "--live", "--json").stdout == "[]\n")
        #expect(try workspace.planq("capabilities").stdout.contains("none"))

        // A worker that stops cleanly is marked stopped; the lost one's row is marked when a live worker renews its own.
        let second = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--grace", "1s"])
        #expect(try eventually { try workspace.sqlite3("SELECT count(*) FROM workers WHERE ended = 'lost'") == "1\n" }, "\(second.log)")
        second.signal(SIGTERM)
        #expect(second.waitForExit() == 0)
        #expect(try workspace.sqlite3("SELECT group_concat(ended, ',') FROM (SELECT ended FROM workers ORDER BY id)") == "lost,stopped\n")
    }

    @Test func waitWarnsWhenNoWorkerServesTheQueueAndPrintsAFailedJobsError() throws {
        let workspace = Workspace()
        let id = try workspace.enqueue(planJSON([#"{"id":"a","call":"fail","input":{"code":"no_luck","message":"it broke"}}"#]))
        let waiting = try workspace.planq("wait", "\(id)", "--timeout", "1s")
        #expect(waiting.status == 124)
        #expect(waiting.stderr.components(separatedBy: "no live worker serves queue default").count == 2, "warned once: \(waiting.stderr)")
        let worker = try WorkerProcess(workspace, ["--drain"])
        #expect(worker.waitForExit() == 0)
        let failed = try workspace.planq("wait", "\(id)")
        #expect(failed.status == 1 && failed.stdout == "failed\n")
        #expect(failed.stderr.contains("job \(id) failed: no_luck: it broke") && !failed.stderr.contains("warning"), "\(failed.stderr)")
    }

    @Test func showListsEveryStepWithItsStateAttemptsAndDuration() throws {
        let workspace = Workspace()
        let plan = planJSON([#"{"id":"first","call":"sleep","input":{"for":"50ms"}}"#,
                             #"{"id":"second","call":"fail","input":{"retryable":false}}"#, #"{"id":"third","call":"echo","input":3}"#])
        let id = try workspace.enqueue(plan)
        let pending = try workspace.planq("show", "\(id)").stdout
        for step in ["first", "second", "third"] {
            #expect(pending.range(of: "\(step) +not started +0 +-", options: .regularExpression) != nil, "\(pending)")
        }
        let worker = try WorkerProcess(workspace, ["--drain"])
        #expect(worker.waitForExit() == 0)
        let shown = try workspace.planq("show", "\(id)").stdout
        #expect(shown.range(of: #"first\s+ok\s+1\s+\d+ms"#, options: .regularExpression) != nil, "\(shown)")
        #expect(shown.range(of: #"second\s+failed\s+1\s+\d+ms"#, options: .regularExpression) != nil, "\(shown)")
        #expect(shown.range(of: #"third\s+not started\s+0\s+-"#, options: .regularExpression) != nil, "\(shown)")
        #expect(shown.contains("finished now") || shown.contains("s ago"), "relative times: \(shown)")

        // JSON keeps absolute UTC times.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try workspace.planq("show", "\(id)", "--json").stdout.utf8)) as? [String: Any])
        let steps = try #require(json["steps"] as? [[String: Any]])
        #expect(steps.map { $0["state"] as? String } == ["ok", "failed", "not_started"])
        #expect((steps[0]["started_at"] as? String)?.hasSuffix("Z") == true && steps[2]["started_at"] is NSNull)

        // After retry --from second, the set-aside step reads so until it runs again.
        #expect(try workspace.planq("retry", "\(id)", "--from", "second").status == 0)
        #expect(try workspace.planq("show", "\(id)").stdout.range(of: #"second\s+set aside\s+0"#, options: .regularExpression) != nil)

        let list = try workspace.planq("list").stdout
        #expect(list.contains("CREATED") && (list.contains("ago") || list.contains("now")) && !list.contains("T0"), "no raw timestamps: \(list)")
    }
}
