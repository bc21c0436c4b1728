import Foundation
import Glibc
import Testing

private let fastRetry = #","retry":{"max_attempts":5,"backoff":"fixed","initial":"100ms","jitter":"none"}"#

/// Retries, timeouts, cancellation and shutdown, through the built binary.
@Suite struct WorkerSemantics {
    @Test func aStepFailingTwiceThenSucceedingIsRetriedAndEarlierStepsRunOnce() throws {
        let workspace = Workspace()
        let log = workspace.path("effects.log"), count = workspace.path("count")
        let id = try workspace.enqueue(planJSON([
            shellStep("first", "echo first >> \(log)"),
            shellStep("flaky", "n=$(cat \(count) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(count); [ $n -ge 3 ]"),
        ], fastRetry))
        let worker = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--drain"])
        #expect(worker.waitForExit() == 0, "\(worker.log)")
        #expect(try workspace.state(id) == "succeeded")
        #expect(workspace.read("effects.log") == "first\n")
        #expect(try workspace.sqlite3("SELECT group_concat(outcome) FROM step_results WHERE step_id = 'flaky'") == "error,error,ok\n")
        #expect(try workspace.sqlite3("SELECT count(*) FROM job_events WHERE kind = 'retry_scheduled'") == "2\n")
        #expect(try workspace.sqlite3("SELECT error ->> '$.code' FROM step_results WHERE step_id = 'flaky' AND attempt = 1") == "exit_status\n")
    }

    @Test func aNonRetryableErrorFailsAfterOneAttemptAndMaxAttemptsIsHonoured() throws {
        let workspace = Workspace()
        let fatal = try workspace.enqueue(planJSON([#"{"id":"s","call":"fail","input":{"code":"bad","retryable":false}}"#], fastRetry), "--key", "fatal")
        let listed = try workspace.enqueue(planJSON(
            [#"{"id":"s","call":"fail","input":{"code":"not_found","retryable":true}}"#],
            #","retry":{"non_retryable":["not_found"],"initial":"100ms","jitter":"none"}"#), "--key", "listed")
        let limited = try workspace.enqueue(planJSON(
            [#"{"id":"s","call":"fail","input":{"code":"flaky","retryable":true},"retry":{"max_attempts":2}}"#], fastRetry), "--key", "limited")
        let worker = try WorkerProcess(workspace, ["--drain"])
        #expect(worker.waitForExit() == 0, "\(worker.log)")
        for (id, attempts) in [(fatal, 1), (listed, 1), (limited, 2)] {
            #expect(try workspace.state(id) == "failed")
            #expect(try workspace.sqlite3("SELECT count(*) FROM step_results WHERE job_id = \(id)") == "\(attempts)\n")
        }
        #expect(try workspace.sqlite3("SELECT last_error ->> '$.code' FROM jobs WHERE id = \(limited)") == "flaky\n")
    }

    @Test func aStepOverItsTimeoutFailsWithTimeout() throws {
        let workspace = Workspace()
        let id = try workspace.enqueue(planJSON([shellStep("slow", "sleep 30", extra: #","timeout":"300ms","retry":{"max_attempts":1}"#)]))
        let started = ContinuousClock.now
        let worker = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--drain"])
        #expect(worker.waitForExit() == 0, "\(worker.log)")
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(try workspace.state(id) == "failed")
        #expect(try workspace.sqlite3("SELECT error ->> '$.code', error ->> '$.retryable' FROM step_results") == "timeout|1\n")
    }

    /// With one slot the worker is full and its database watcher throttled; with four it is not.
    @Test(arguments: ["1", "4"]) func aRunningJobIsCancelledWithinTwoSeconds(concurrency: String) throws {
        let workspace = Workspace()
        let id = try workspace.enqueue(planJSON([shellStep("long", "sleep 60")]))
        let worker = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--concurrency", concurrency])
        #expect(try eventually { try workspace.sqlite3("SELECT count(*) FROM step_results") == "1\n" })
        let asked = ContinuousClock.now
        #expect(try workspace.planq("cancel", "\(id)").stdout == "cancel requested; the worker stops the job\n")
        #expect(try eventually(timeout: .seconds(2)) { try workspace.state(id) == "cancelled" }, "\(worker.log)")
        #expect(ContinuousClock.now - asked < .seconds(2))
        #expect(try workspace.sqlite3("SELECT outcome FROM step_results") == "cancelled\n")
        worker.signal(SIGTERM)
        #expect(worker.waitForExit(timeout: .seconds(15)) == 0)
    }

    @Test func sigtermDuringALongStepHandsTheJobBackAndExitsZero() throws {
        let workspace = Workspace()
        let id = try workspace.enqueue(planJSON([shellStep("long", "sleep 60")]))
        let worker = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--grace", "1s"])
        #expect(try eventually { try workspace.sqlite3("SELECT count(*) FROM step_results") == "1\n" })
        let sent = ContinuousClock.now
        worker.signal(SIGTERM)
        #expect(worker.waitForExit(timeout: .seconds(10)) == 0, "\(worker.log)")
        #expect(ContinuousClock.now - sent < .seconds(3), "within grace + 2 s")
        #expect(try workspace.state(id) == "pending")
        #expect(try workspace.sqlite3("SELECT lease_owner IS NULL, lease_expires_at IS NULL, runs FROM jobs") == "1|1|0\n")
        #expect(try workspace.sqlite3("SELECT kind FROM job_events ORDER BY id DESC LIMIT 1") == "released\n")
        #expect(try workspace.sqlite3("SELECT superseded, outcome FROM step_results") == "1|cancelled\n", "the interrupted execution does not count")
        // Handed back, not failed: the history and the log say released, and nothing failed.
        #expect(try workspace.sqlite3("SELECT group_concat(kind, ' ') FROM (SELECT kind FROM job_history WHERE job_id = \(id) ORDER BY event_id)")
                == "enqueued claimed step_started released\n")
        #expect(worker.log.contains("INFO step released") && worker.log.contains("INFO job released"), "\(worker.log)")
        #expect(!worker.log.contains("step failed") && !worker.log.contains("WARNING"), "\(worker.log)")
    }

    @Test func sigtermLetsShortJobsFinishWithinTheGrace() throws {
        let workspace = Workspace()
        let id = try workspace.enqueue(planJSON([shellStep("short", "sleep 1")]))
        let worker = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--grace", "10s"])
        #expect(try eventually { try workspace.sqlite3("SELECT count(*) FROM step_results") == "1\n" })
        worker.signal(SIGINT)
        #expect(worker.waitForExit(timeout: .seconds(15)) == 0)
        #expect(try workspace.state(id) == "succeeded")
    }
}
