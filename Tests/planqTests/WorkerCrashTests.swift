import Foundation
import Glibc
import Testing

/// Crashes, poison pills and several workers: the replay promise through real processes.
@Suite(.serialized) struct WorkerCrashes {
    @Test func killNineMidJobThenRestartReplaysTheFinishedSteps() throws {
        let workspace = Workspace()
        let log = workspace.path("effects.log")
        let id = try workspace.enqueue(planJSON([
            shellStep("a", "echo a >> \(log)"),
            shellStep("b", "if [ -f \(log).b ]; then echo b-again >> \(log); else touch \(log).b; echo b >> \(log); sleep 30; fi"),
            shellStep("c", "echo c >> \(log)"),
        ]))
        let first = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh"])
        #expect(eventually { workspace.read("effects.log") == "a\nb\n" })
        first.signal(SIGKILL)
        #expect(first.waitForExit() != nil)
        #expect(try workspace.state(id) == "running", "the dead worker's lease is still there")
        let second = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--drain"])
        #expect(second.waitForExit() == 0, "\(second.log)")
        #expect(try workspace.state(id) == "succeeded")
        #expect(workspace.read("effects.log") == "a\nb\nb-again\nc\n", "a ran once; b, in flight at the kill, ran again")
        #expect(try workspace.sqlite3("SELECT step_id, count(*) FROM step_results GROUP BY step_id ORDER BY step_id") == "a|1\nb|2\nc|1\n")
        #expect(try workspace.sqlite3("SELECT detail ->> '$.reason' FROM job_events WHERE kind = 'lease_expired'")
                    .hasPrefix("owner pid \(first.pid) is gone"))
    }

    @Test func aPoisonStepThatKillsItsWorkerRunsExactlyMaxAttemptsTimes() throws {
        let workspace = Workspace()
        let log = workspace.path("poison.log")
        let id = try workspace.enqueue(planJSON([shellStep("poison", "echo run >> \(log); kill -9 $PPID", extra: #","retry":{"max_attempts":3}"#)]))
        var deaths = 0
        while try workspace.state(id) != "failed" && deaths < 6 {
            let worker = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--drain"])
            let status = worker.waitForExit()
            if status != 0 { deaths += 1 }
        }
        #expect(deaths == 3)
        #expect(workspace.read("poison.log") == "run\nrun\nrun\n")
        #expect(try workspace.state(id) == "failed")
        #expect(try workspace.sqlite3("SELECT last_error ->> '$.code' FROM jobs") == "attempts_exhausted\n")
    }

    @Test func threeWorkersShareOneDatabaseAndRunEverySideEffectOnce() throws {
        let workspace = Workspace()
        let log = workspace.path("once.log")
        let step = shellStep("s", "echo $PLANQ_IDEMPOTENCY_KEY >> \(log)")
        let plans = (1...150).map { planJSON([step], #","idempotency_key":"job-\#($0)""#) }
        _ = try workspace.planq("enqueue", "--lines", "-", input: plans.joined(separator: "\n"))
        let workers = try (0..<3).map { _ in try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--drain", "--concurrency", "4"]) }
        for worker in workers { #expect(worker.waitForExit(timeout: .seconds(120)) == 0, "\(worker.log)") }
        let lines = workspace.read("once.log").split(separator: "\n")
        #expect(lines.count == 150)
        #expect(Set(lines).count == 150)
        #expect(try workspace.sqlite3("SELECT state, count(*) FROM jobs GROUP BY state") == "succeeded|150\n")
        #expect(try workspace.sqlite3("SELECT count(DISTINCT lease_owner) FROM (SELECT detail ->> '$.owner' AS lease_owner FROM job_events WHERE kind = 'claimed')") != "1\n",
                "more than one worker took part")
    }
}
