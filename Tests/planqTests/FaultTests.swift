import Foundation
import Glibc
import Testing

/// Faults made real — a full disk, a read-only mount, a lock held past the busy timeout, a prune of
/// a large history, a stopped worker — and hostile plans: nothing acknowledged is lost and no
/// recorded step runs twice.
@Suite(.serialized, .timeLimit(.minutes(5))) struct Faults {
    /// Starts another process (Python's sqlite3) that holds `BEGIN EXCLUSIVE` on `db` for `seconds`,
    /// creating `flag` once it has the lock.
    static func holdExclusiveLock(on db: String, for seconds: Int, flag: String) throws -> Process {
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        locker.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
            connection.execute("BEGIN EXCLUSIVE")
            open(sys.argv[2], "w").close()
            time.sleep(int(sys.argv[3]))
            connection.execute("COMMIT")
            """, db, flag, String(seconds)]
        try locker.run()
        return locker
    }

    @Test(.enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
    func aFullDiskMakesTheWorkerBackOffAndRecoverWithNothingLost() async throws {
        let workspace = Workspace()
        let script = Planq.repository.appendingPathComponent("Tests/planqTests/Fixtures/full-disk.sh").path
        let text = try await Planq.run(["unshare", "--mount", "--propagation", "private", "bash", script, Planq.binary.path, workspace.folder.path],
                                       program: URL(fileURLWithPath: "/usr/bin/env")).stdout
        var figures: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { figures[String(parts[0])] = Int(parts[1]) }
        }
        #expect(figures["enqueue_on_full_disk"] == 69, "\(text)")
        #expect((figures["cpu_ticks_in_5s"] ?? 999) < 25, "a worker on a full disk must not spin (about 5 ticks, 1 % CPU, here): \(text)")
        #expect((figures["log_lines_while_full"] ?? 999) <= 4, "one line when the fault starts: \(text)\n\(workspace.read("worker.log"))")
        #expect(figures["fault_lines"] == 1, "\(text)")
        #expect(figures["succeeded"] == 6, "\(text)")
        #expect(figures["recovered_lines"] == 1, "\(text)")
        #expect(figures["repeated_steps"] == 0, "\(text)")
        #expect(figures["worker_exit"] == 0, "\(text)")
        #expect((figures["heartbeat_cpu_ticks_in_2s"] ?? 999) < 40, "heartbeats on a full disk must back off: \(text)\n\(workspace.read("heartbeat.log"))")
        #expect(text.contains("heartbeat_job=succeeded 2\n"), "stopped when its lease ran out, finished by the next run: \(text)\n\(workspace.read("heartbeat.log"))")
        #expect(figures["lapsed_lines"] == 1, "\(text)\n\(workspace.read("heartbeat.log"))")
        #expect(figures["enqueue_read_only"] == 69, "\(text)")
        #expect(figures["read_only_message"] == 1, "\(text)")
    }

    @Test func aLockHeldPastTheBusyTimeoutNeverRunsAFinishedStepAgain() async throws {
        let workspace = Workspace()
        let side = workspace.path("side")
        let flag = workspace.path("locked")
        let listener = NotifyListener(abstract: true, folder: workspace.folder)
        let worker = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--concurrency", "1"],
                                       environment: ["NOTIFY_SOCKET": listener.address])
        let id = try workspace.enqueue(planJSON([
            shellStep("one", "echo 1 >> \(side)"),
            // Finishes once the lock is held: its success rides with the next step's start, which meets the lock.
            shellStep("two", "while [ ! -f \(flag) ]; do sleep 0.02; done; echo 2 >> \(side)"),
            shellStep("three", "echo 3 >> \(side)"),
        ]))
        #expect(await eventually { workspace.read("side") == "1\n" })
        let locker = try Self.holdExclusiveLock(on: workspace.db, for: 12, flag: flag)
        while locker.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        #expect(locker.terminationStatus == 0)
        #expect(try await eventually(timeout: .seconds(60)) { try workspace.state(id) == "succeeded" }, "\(worker.log)")
        #expect(workspace.read("side") == "1\n2\n3\n", "every finished step ran once: \(worker.log)")
        let faults = worker.log.components(separatedBy: "store fault").count - 1
        #expect(faults <= 2, "logged once per change of state, not per attempt: \(worker.log)")
        let statuses = listener.receive(until: "never", timeout: .milliseconds(500))
        #expect(statuses.contains { $0.hasPrefix("STATUS=store fault") }, "systemd's status line shows the fault: \(statuses)")
        #expect(statuses.last?.hasPrefix("STATUS=running") == true, "and its end: \(statuses)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit() == 0)
    }

    @Test func aDamagedDatabaseIsRefusedByWritersAndAWorkerWaitsOnItWithoutSpinning() async throws {
        let workspace = Workspace()
        let filler = String(repeating: "y", count: 500)
        let lines = (0..<50).map { #"{"version":1,"idempotency_key":"k\#($0)","steps":[{"id":"a","call":"echo","input":"\#(filler)"}]}"# }
        #expect(try await workspace.planq("enqueue", "--lines", "-", input: lines.joined(separator: "\n")).status == 0)
        _ = try workspace.sqlite3("PRAGMA wal_checkpoint(TRUNCATE)")
        let file = try #require(FileHandle(forWritingAtPath: workspace.db))
        try file.seek(toOffset: 3 * 4096)
        try file.write(contentsOf: Data((0..<(4 * 4096)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }))
        try file.close()
        let enqueue = try await workspace.planq("enqueue", "Examples/welcome.json")
        #expect(enqueue.status == 69)
        #expect(enqueue.stderr.contains("malformed"), "\(enqueue.stderr)")
        let worker = try WorkerProcess(workspace)
        try await Task.sleep(for: .seconds(3))
        #expect(worker.process.isRunning, "the worker waits for the operator: \(worker.log)")
        #expect(worker.log.components(separatedBy: "\n").filter { $0.contains("malformed") }.count == 1, "\(worker.log)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit() == 0)
    }

    @Test func aWorkerStartedWhileTheDatabaseIsLockedWaitsItOut() async throws {
        let workspace = Workspace()
        let id = try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#]))
        let flag = workspace.path("locked")
        _ = try Self.holdExclusiveLock(on: workspace.db, for: 7, flag: flag)
        #expect(await eventually { FileManager.default.fileExists(atPath: flag) })
        let worker = try WorkerProcess(workspace)
        #expect(try await eventually(timeout: .seconds(30)) { try workspace.state(id) == "succeeded" }, "\(worker.log)")
        #expect(worker.process.isRunning, "the worker waited instead of exiting: \(worker.log)")
        #expect(worker.log.contains("store fault; backing off doing=register capabilities"), "\(worker.log)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit() == 0)
    }

    @Test func aPruneOfALargeHistoryBesideABusyWorkerCostsItNothing() async throws {
        let workspace = Workspace()
        _ = try await workspace.planq("migrate")
        let old = "2020-01-01T00:00:00.000Z"
        _ = try workspace.sqlite3("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
            INSERT INTO jobs (idempotency_key, queue, priority, state, run_at, created_at, updated_at, finished_at, plan, result, runs, lease_token)
            SELECT 'old-' || i, 'default', 0, 'succeeded', '\(old)', '\(old)', '\(old)', '\(old)',
                '{"version":1,"steps":[{"id":"a","call":"echo"},{"id":"b","call":"echo"}]}', '{}', 1, 1 FROM n;
            INSERT INTO step_results (job_id, step_id, attempt, outcome, output, started_at, finished_at, lease_token)
            SELECT jobs.id, s.value, 1, 'ok', '{}', '\(old)', '\(old)', 1 FROM jobs, json_each('["a","b"]') s;
            INSERT INTO job_events (job_id, at, kind) SELECT jobs.id, '\(old)', k.value FROM jobs, json_each('["enqueued","claimed","succeeded"]') k;
            """)
        #expect(try workspace.sqlite3("SELECT count(*) FROM step_results").hasPrefix("200000"))
        let dryRun = try await workspace.planq("prune", "--older-than", "1d", "--dry-run", "--json")
        #expect(dryRun.stdout == #"{"events":300000,"step_results":200000,"would_delete":100000}"# + "\n")
        let worker = try WorkerProcess(workspace, ["--lease", "1s", "--concurrency", "4"])
        let lines = (0..<400).map { #"{"version":1,"idempotency_key":"new-\#($0)","steps":[{"id":"a","call":"echo"},{"id":"b","call":"sleep","input":{"for":"20ms"}},{"id":"c","call":"echo"}]}"# }
        #expect(try await workspace.planq("enqueue", "--lines", "-", input: lines.joined(separator: "\n")).status == 0)
        let started = ContinuousClock.now
        let prune = try await workspace.planq("prune", "--older-than", "1d", "--json")
        let took = ContinuousClock.now - started
        #expect(prune.stdout == #"{"deleted":100000}"# + "\n", "\(prune.stderr)")
        #expect(try await eventually(timeout: .seconds(120)) {
            try workspace.sqlite3("SELECT count(*) FROM jobs WHERE state = 'succeeded'").hasPrefix("400\n")
        })
        #expect(try workspace.sqlite3("SELECT count(*) FROM step_results WHERE attempt > 1 OR superseded = 1") == "0\n", "no step ran twice")
        #expect(try workspace.sqlite3("SELECT count(*) FROM job_events WHERE kind IN ('lease_expired', 'released')") == "0\n")
        for trouble in ["store fault", "heartbeat failed", "lease lost", "not recorded"] {
            #expect(!worker.log.contains(trouble), "\(trouble) while pruning for \(took): \(worker.log)")
        }
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit() == 0)
    }

    @Test func aValueDeeperThanTheStoreReadsBackFailsTheStepInsteadOfTurningIntoAString() async throws {
        let workspace = Workspace()
        let deep = String(repeating: #"{"w":"#, count: 60) + "1" + String(repeating: "}", count: 60)
        let wrap = String(repeating: #"{"w":"#, count: 5) + #"{"$ref":"a"}"# + String(repeating: "}", count: 5)
        let id = try workspace.enqueue(planJSON([
            #"{"id":"a","call":"echo","input":{"$input":""}}"#, #"{"id":"b","call":"echo","input":\#(wrap)}"#,
            #"{"id":"c","call":"echo","input":{"$ref":"b"}}"#,
        ], #","input":\#(deep)"#))
        let worker = try WorkerProcess(workspace, ["--drain"])
        #expect(await worker.waitForExit() == 0)
        #expect(try workspace.state(id) == "failed")
        #expect(try workspace.sqlite3("SELECT last_error ->> '$.code' FROM jobs WHERE id = \(id)") == "input_too_deep\n")
        let shown = try await workspace.planq("show", "\(id)", "--json")
        #expect(shown.status == 0)
        #expect(shown.stdout.contains(#""output":{"w":{"w""#), "step a's output reads back as an object")
    }

    /// Runs `plan` with a draining worker; the job's state, error code and failing step (`failed|code|step`).
    private func runToTheEnd(_ plan: String, worker arguments: [String]) async throws -> String {
        let workspace = Workspace()
        let id = try workspace.enqueue(plan)
        let worker = try WorkerProcess(workspace, ["--drain"] + arguments)
        #expect(await worker.waitForExit() == 0)
        return try workspace.sqlite3("SELECT state, last_error ->> '$.code', last_error ->> '$.step' FROM jobs WHERE id = \(id)")
    }

    @Test func aChainThatDoublesItsOutputStopsAtTheSizeCap() async throws {
        var steps = [#"{"id":"s0","call":"echo","input":"\#(String(repeating: "x", count: 1000))"}"#]
        for index in 1..<40 { steps.append(#"{"id":"s\#(index)","call":"echo","input":[{"$ref":"s\#(index - 1)"},{"$ref":"s\#(index - 1)"}]}"#) }
        #expect(try await runToTheEnd(planJSON(steps), worker: ["--max-value-size", "1MiB"]) == "failed|input_too_large|s11\n")
    }

    @Test func aRunHoldsAtMostFourValuesWorthOfOutputs() async throws {
        let steps = (0..<6).map { #"{"id":"s\#($0)","call":"echo","input":{"$input":""}}"# }
        let plan = planJSON(steps, #","input":"\#(String(repeating: "x", count: 900_000))""#)
        #expect(try await runToTheEnd(plan, worker: ["--max-value-size", "1MiB"]) == "failed|outputs_too_large|s4\n")
    }

    @Test func aWorkerStoppedPastItsLeaseIsFencedOutAndNoFinishedStepRunsAgain() async throws {
        let workspace = Workspace()
        let side = workspace.path("side")
        let first = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--lease", "1s"])
        let id = try workspace.enqueue(planJSON([
            shellStep("one", "echo 1 >> \(side)"),
            shellStep("two", "echo 2 >> \(side); sleep 1"),
            shellStep("three", "echo 3 >> \(side)"),
        ]))
        #expect(await eventually { workspace.read("side") == "1\n2\n" })
        first.signal(SIGSTOP)
        let second = try WorkerProcess(workspace, ["--allow-exec", "/bin/sh", "--lease", "1s"])
        // Stopped in the middle of a write, the first worker holds the database's write lock: then
        // nobody can write until it resumes, and the second waits it out instead of dying.
        let takenOver = try await eventually(timeout: .seconds(15)) { try workspace.state(id) == "succeeded" }
        first.signal(SIGCONT)
        #expect(try await eventually(timeout: .seconds(30)) { try workspace.state(id) == "succeeded" }, "\(second.log)")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try workspace.state(id) == "succeeded", "the stopped worker's late writes are refused")
        // Step two was in flight when its worker stopped: it may run again (at least once); one and
        // three never do.
        let lines = workspace.read("side").split(separator: "\n")
        #expect(lines.filter { $0 == "1" }.count == 1)
        #expect(lines.filter { $0 == "3" }.count == 1, "\(lines)\n\(first.log)\n\(second.log)")
        if takenOver {
            #expect(try workspace.sqlite3("SELECT count(*) FROM job_events WHERE job_id = \(id) AND kind = 'lease_expired'") == "1\n")
        }
        for worker in [first, second] {
            worker.signal(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }
}
