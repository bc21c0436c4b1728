import Foundation
import Glibc
import PlanCore
import PlanStore
import Testing

/// Schedules through the built binary and real worker processes.
@Suite struct ScheduleCommandTests {
    private let tick = planJSON([#"{"id":"a","call":"echo","input":1}"#])

    @Test func threeWorkersAndAOneSecondScheduleMakeExactlyOneJobPerFireTime() async throws {
        let workspace = Workspace()
        let plan = workspace.write("tick.json", tick)
        let added = try await workspace.planq("schedule", "add", "tick", "--every", "1s", plan)
        #expect(added.status == 0 && added.stdout.hasPrefix("schedule tick added; next fire "), "\(added.stderr)")
        let started = Timestamp.now()
        let workers = try (0..<3).map { _ in try WorkerProcess(workspace) }
        try await Task.sleep(for: .microseconds(20_000_000))
        let stopped = Timestamp.now()
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { #expect(await worker.waitForExit() == 0, "\(worker.log)") }
        // One job per second, none missing between the first and the last, none twice (the keys are unique).
        let times = try workspace.sqlite3("SELECT detail ->> '$.fire_time' FROM job_events WHERE kind = 'schedule_fired' ORDER BY 1")
            .split(separator: "\n").compactMap { Timestamp(rfc3339: String($0)) }
        #expect(times.count >= 18, "\(times)")
        // Every fire time while the workers ran: from within two seconds of their start (they start
        // in well under a second) to within two seconds of their stop.
        #expect((times.first?.millisecondsSinceEpoch ?? .max) <= started.millisecondsSinceEpoch + 2000, "\(times)")
        #expect((times.last?.millisecondsSinceEpoch ?? 0) >= stopped.millisecondsSinceEpoch - 2000, "\(times)")
        #expect(zip(times, times.dropFirst()).allSatisfy { $1.millisecondsSinceEpoch - $0.millisecondsSinceEpoch == 1000 }, "\(times)")
        #expect(try workspace.sqlite3("SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'schedule:tick:%'") == "\(times.count)\n")
        #expect(try workspace.sqlite3("SELECT count(*) FROM jobs WHERE state IN ('running', 'failed', 'cancelled')") == "0\n", "the workers ran them or handed them back")
        let listed = try await workspace.planq("schedule", "list")
        #expect(listed.stdout.contains("tick") && listed.stdout.contains("1s") && listed.stdout.contains("active"), "\(listed.stdout)")
    }

    @Test func aRestartCatchesUpAsEachScheduleSays() async throws {
        let workspace = Workspace()
        let plan = workspace.write("tick.json", tick)
        for mode in ["none", "latest", "all"] {
            #expect(try await workspace.planq("schedule", "add", mode, "--every", "2s", "--catch-up", mode, plan).status == 0)
        }
        let first = try WorkerProcess(workspace)
        #expect(try await eventually(timeout: .seconds(10)) { try workspace.count("SELECT count(*) FROM jobs") >= 3 })
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0)
        let stoppedAt = Timestamp.now()
        try await Task.sleep(for: .microseconds(7_000_000))  // three or four fire times pass with no worker
        let second = try WorkerProcess(workspace)
        #expect(try await eventually(timeout: .seconds(10)) {
            try workspace.count("SELECT count(*) FROM job_events WHERE kind = 'schedule_fired' AND at > '\(stoppedAt.iso8601)'") >= 3
        })
        second.signal(SIGTERM)
        #expect(await second.waitForExit() == 0)
        // The restarted worker's first pass fires every schedule in one transaction (one `at`):
        // what each catch-up mode enqueued then, by schedule, however late that pass came.
        let firstPass = try workspace.sqlite3("SELECT min(at) FROM job_events WHERE kind = 'schedule_fired' AND at > '\(stoppedAt.iso8601)'")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        func caughtUp(_ name: String) throws -> [(fire: Timestamp, at: Timestamp)] {
            try workspace.sqlite3("""
                SELECT detail ->> '$.fire_time' || ' ' || at FROM job_events WHERE kind = 'schedule_fired' AND detail ->> '$.schedule' = '\(name)'
                AND at = '\(firstPass)' ORDER BY 1
                """).split(separator: "\n").compactMap { line in
                let parts = line.split(separator: " ").map(String.init)
                guard parts.count == 2, let fire = Timestamp(rfc3339: parts[0]), let at = Timestamp(rfc3339: parts[1]) else { return nil }
                return (fire, at)
            }
        }
        #expect(try caughtUp("none").allSatisfy { $0.at.millisecondsSinceEpoch - $0.fire.millisecondsSinceEpoch < 1000 }, "none enqueues nothing late")
        let latest = try caughtUp("latest")
        #expect(latest.count == 1 && latest.allSatisfy { $0.at.millisecondsSinceEpoch - $0.fire.millisecondsSinceEpoch < 2000 },
                "latest: the most recent fire time only: \(latest)")
        let missed = try caughtUp("all")
        #expect(missed.count >= 3, "all: every missed one: \(missed)")
        // all: one job per fire time from its first to its last, no gap across the downtime.
        let all = try workspace.sqlite3("SELECT detail ->> '$.fire_time' FROM job_events WHERE kind = 'schedule_fired' AND detail ->> '$.schedule' = 'all' ORDER BY 1")
            .split(separator: "\n").compactMap { Timestamp(rfc3339: String($0)) }
        #expect(zip(all, all.dropFirst()).allSatisfy { $1.millisecondsSinceEpoch - $0.millisecondsSinceEpoch == 2000 }, "\(all)")
    }

    @Test func commandsShowPauseFireAndRemoveAndRefuseBadInput() throws {
        let workspace = Workspace()
        let plan = workspace.write("tick.json", tick)
        let added = try workspace.planq("schedule", "add", "nightly", "--cron", "30 2 * * *", "--tz", "Europe/Berlin", "--queue", "ops", plan, "--json")
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.contains(#""time_zone":"Europe/Berlin""#) && added.stdout.contains(#""queue":"ops""#))
        let next = try workspace.planq("schedule", "next", "nightly", "--count", "3")
        #expect(next.stdout.split(separator: "\n").count == 3 && next.stdout.contains(" 02:30:00 "), "\(next.stdout)")
        let nextJSON = try workspace.planq("schedule", "next", "nightly", "--count", "2", "--json").stdout
        #expect(nextJSON.hasPrefix("[\"") && nextJSON.contains(":30:00.000Z"))
        #expect(try workspace.planq("schedule", "show", "nightly").stdout.contains("cron 30 2 * * *  tz Europe/Berlin  catch-up latest  active"))
        #expect(try workspace.planq("schedule", "pause", "nightly").stdout == "schedule nightly paused\n")
        #expect(try workspace.planq("schedule", "list", "--json").stdout.contains(#""paused":true"#))
        #expect(try workspace.planq("schedule", "resume", "nightly").status == 0)
        let fired = try workspace.planq("schedule", "fire", "nightly")
        #expect(fired.status == 0)
        #expect(try workspace.sqlite3("SELECT queue, idempotency_key LIKE 'schedule:nightly:%' FROM jobs") == "ops|1\n")
        #expect(try workspace.sqlite3("SELECT kind FROM job_history ORDER BY event_id") == "enqueued\nschedule_fired\n")

        let again = try workspace.planq("schedule", "add", "nightly", "--every", "1h", plan)
        #expect(again.status == 1 && again.stderr.contains("exists already (schedule add --replace replaces it)"))
        #expect(try workspace.planq("schedule", "add", "nightly", "--every", "1h", "--replace", plan).status == 0)
        for (arguments, message) in [(["--cron", "61 * * * *"], "minute field"), (["--every", "10ms"], "at least 1s"),
                                     (["--cron", "@daily", "--tz", "Mars/Olympus"], "not a time zone"), ([String](), "either --cron")] {
            let bad = try Planq.run(["schedule", "add", "x"] + arguments + [plan, "--db", workspace.db])
            #expect(bad.status == 64 && bad.stderr.contains(message), "\(arguments): \(bad.stderr)")
        }
        let invalid = try workspace.planq("schedule", "add", "y", "--every", "1h", workspace.write("bad.json", #"{"version":1,"steps":[]}"#))
        #expect(invalid.status == 65)
        #expect(try workspace.planq("schedule", "remove", "nightly").status == 0)
        #expect(try workspace.planq("schedule", "remove", "nightly").status == 1)
        #expect(try workspace.sqlite3("SELECT count(*) FROM schedules") == "0\n", "the invalid one was not stored")
    }
}

extension Workspace {
    /// The number `sql` selects.
    func count(_ sql: String) throws -> Int { Int(try sqlite3(sql).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }
}

@Suite struct RateLimitTests {
    @Test func threeWorkersUnderAFivePerSecondRateNeverStartMoreThanFiveInAnySecond() async throws {
        let workspace = Workspace()
        for index in 1...25 { try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#], #","queue":"mail","idempotency_key":"m\#(index)""#)) }
        let set = try await workspace.planq("queue", "rate", "mail", "5/1s")
        #expect(set.stdout == "queue mail starts at most 5/1s\n", "\(set.stderr)")
        let started = ContinuousClock.now
        let workers = try (0..<3).map { _ in try WorkerProcess(workspace, ["--concurrency", "8"]) }
        #expect(try await eventually(timeout: .seconds(30)) { try workspace.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == 25 })
        let took = ContinuousClock.now - started
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { #expect(await worker.waitForExit() == 0) }
        let times = try workspace.sqlite3("SELECT at FROM job_events WHERE kind = 'claimed' ORDER BY at").split(separator: "\n")
            .compactMap { Timestamp(rfc3339: String($0))?.millisecondsSinceEpoch }
        #expect(times.count == 25)
        // Every one-second window ending at a start holds at most five starts.
        let worst = times.map { end in times.filter { $0 > end - 1000 && $0 <= end }.count }.max() ?? 0
        #expect(worst <= 5, "\(times)")
        #expect(took >= .seconds(4), "25 jobs at 5 a second take over four seconds: \(took)")
        let stats = try await workspace.planq("stats", "--json").stdout
        #expect(stats.contains(#""rate":"5/1s""#), "\(stats)")
        #expect(try await workspace.planq("queue", "rate", "mail", "none").stdout == "queue mail has no rate limit\n")
        #expect(try await workspace.planq("queue", "rate", "mail", "5 per second").status == 64)
    }

    @Test func aQueueHeldByItsRateIsShownByStatsAndWorkers() throws {
        let workspace = Workspace()
        for index in 1...2 { try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#], #","queue":"mail","idempotency_key":"h\#(index)""#)) }
        #expect(try workspace.planq("queue", "rate", "mail", "1/1h").status == 0)
        let worker = try WorkerProcess(workspace)
        #expect(try eventually { try workspace.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == 1 })
        let workers = try workspace.planq("workers")
        #expect(workers.stdout.contains("queue mail is held by its rate 1/1h: the next job starts in 59m"), "\(workers.stdout)")
        let json = try workspace.planq("workers", "--json", "--live").stdout
        #expect(json.contains(#""held_by_rate":["mail"]"#), "\(json)")
        let stats = try workspace.planq("stats").stdout
        #expect(stats.contains("1/1h (held, next start in 59m)"), "\(stats)")
        #expect(try workspace.count("SELECT count(*) FROM jobs WHERE state = 'pending'") == 1)
        worker.signal(SIGTERM)
        #expect(worker.waitForExit() == 0)
    }
}
