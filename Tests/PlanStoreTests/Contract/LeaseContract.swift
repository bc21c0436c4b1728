import Foundation
import PlanCore
import PlanPostgres
import PostgresNIO
@testable import PlanStore
import Testing

/// Starts `sleep 60` as a real child process (its output not the test runner's: a runner waits for
/// every holder of its pipe to end).
private func child() throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sleep")
    process.arguments = ["60"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// What `body` came to for each lease, all run at once, by job: "done", "lease lost" or "refused".
private func atOnce(_ leases: [Lease], _ body: @escaping @Sendable (Lease) async throws -> Void) async -> [Int64: String] {
    await withTaskGroup(of: (Int64, String).self) { group in
        for lease in leases {
            group.addTask {
                do {
                    try await body(lease)
                    return (lease.jobID, "done")
                } catch {
                    return (lease.jobID, isLeaseLost(error) ? "lease lost" : "refused")
                }
            }
        }
        var outcomes: [Int64: String] = [:]
        for await (job, outcome) in group { outcomes[job] = outcome }
        return outcomes
    }
}

@Suite struct LeaseContract {
    /// Replay never changes a value: numbers read back as the same kind and value they were recorded as.
    @Test(arguments: StoreKind.allCases)
    func recordedValuesReadBackExactly(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "values")])
        let lease = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        let output: JSONValue = ["big": .number(1e18), "tiny": .number(1.5e-7), "huge": .number(1e300), "max": .integer(Int64.max), "one": .number(1.0)]
        try await lease.beginStep("s0", attempt: 1)
        try await lease.recordStep("s0", attempt: 1, outcome: .success(output))
        try await lease.release()
        #expect(try await store.steps(of: lease.jobID)["s0"]?.output == output)
        let again = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(again.records["s0"]?.output == output, "what a run replays")
    }

    @Test(arguments: StoreKind.allCases)
    func anExpiredLeaseIsClaimableAgainAndTheOldTokenIsRefusedEverywhere(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp.now()
        _ = try await store.enqueue([samplePlan(key: "k", steps: 2)], now: now)
        let first = try await store.claim([("default", 1)], owner: me, lease: .seconds(10), now: now)[0]
        try await first.beginStep("s0", attempt: 1, now: now)
        #expect(try await store.expireLeases(now: now.plus(seconds: 5)) == [])
        #expect(try await store.expireLeases(now: now.plus(seconds: 11)) == [first.jobID])
        let second = try await store.claim([("default", 1)], owner: me, lease: .seconds(10), now: now.plus(seconds: 12))[0]
        #expect(second.jobID == first.jobID)
        #expect(second.id.token == first.id.token + 1)
        #expect(second.runs == 2)

        let refusals: [@Sendable () async throws -> Void] = [
            { try await first.beginStep("s1", attempt: 1) },
            { try await first.recordStep("s0", attempt: 1, outcome: .success("late")) },
            { try await first.finish(.succeeded("late")) },
            { try await first.reschedule(runAt: now, error: ErrInfo(code: "x", message: "x", retryable: true)) },
            { try await first.release() },
            { try await first.commit([.stepStarted("s1", attempt: 1, at: now), .finished(.succeeded("late"), at: now)]) },
        ]
        for write in refusals {
            await #expect { try await write() } throws: { isLeaseLost($0) }
        }
        #expect(try await first.heartbeat(duration: .seconds(10)).leaseHeld == false)
        #expect(try await second.heartbeat(duration: .seconds(10)).leaseHeld)
        #expect(database.scalar("SELECT state FROM jobs") == "running")
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE outcome IS NOT NULL") == "0")
        #expect(database.scalar("SELECT detail ->> 'reason' FROM job_events WHERE kind = 'lease_expired'") == "the lease expired")
    }

    /// A worker stopped past its lease that resumes before anyone recovered the job must not begin
    /// another step: the recovery, due at any moment, would begin it again.
    @Test(arguments: StoreKind.allCases)
    func noStepStartsOnAnExpiredLeaseUntilAHeartbeatRenewsIt(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp.now()
        _ = try await store.enqueue([samplePlan(key: "k", steps: 2)], now: now)
        let lease = try await store.claim([("default", 1)], owner: me, lease: .seconds(10), now: now)[0]
        try await lease.beginStep("s0", attempt: 1, now: now)
        await #expect { try await lease.beginStep("s1", attempt: 1, now: now.plus(seconds: 11)) } throws: { isLeaseLost($0) }
        // The step's end is still the run's to record, and a heartbeat takes the lease up again.
        try await lease.recordStep("s0", attempt: 1, outcome: .success("done"), now: now.plus(seconds: 11))
        #expect(try await lease.heartbeat(duration: .seconds(10), now: now.plus(seconds: 11)).leaseHeld)
        try await lease.beginStep("s1", attempt: 1, now: now.plus(seconds: 12))
        #expect(database.scalar("SELECT outcome FROM step_results WHERE step_id = 's0'") == "ok")
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE step_id = 's1' AND outcome IS NULL") == "1")
    }

    @Test(arguments: StoreKind.allCases)
    func aDeadOwnerOnThisHostIsRecoveredAtOnceAndALiveOneIsNot(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "dead"), samplePlan(key: "alive")])
        let dying = try child(), living = try child()
        defer { living.terminate() }
        for process in [dying, living] {
            let owner = LeaseOwner(host: me.host, bootID: me.bootID, pid: process.processIdentifier,
                                   pidStart: try startTime(of: process.processIdentifier))
            _ = try await store.claim([("default", 1)], owner: owner, lease: .seconds(3600))
        }
        kill(dying.processIdentifier, SIGKILL)
        dying.waitUntilExit()
        let recovered = try await store.recoverDeadOwners(me: me)
        #expect(recovered == [1])
        #expect(database.scalar("SELECT state FROM jobs WHERE id = 1") == "pending")
        #expect(database.scalar("SELECT state FROM jobs WHERE id = 2") == "running")
        #expect(database.scalar("SELECT detail ->> 'reason' FROM job_events WHERE kind = 'lease_expired'")
                == "owner pid \(dying.processIdentifier) is gone")
    }

    @Test(arguments: StoreKind.allCases)
    func aCancelRequestReachesTheHeartbeatAndTheWorker(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "k"), samplePlan(key: "other")])
        let jobs = try await store.claim([("default", 2)], owner: me, lease: .seconds(30))
        #expect(try await store.cancel(.id(jobs[0].jobID)) == .requested)
        #expect(try await store.cancelRequested(among: jobs.map(\.jobID)) == [jobs[0].jobID])
        #expect(try await jobs[0].heartbeat(duration: .seconds(30)) == Heartbeat(leaseHeld: true, cancelRequested: true))
        try await jobs[0].finish(.cancelled(.cancelled))
        #expect(try await store.state(of: .id(jobs[0].jobID)) == .cancelled)
    }

    @Test(arguments: StoreKind.allCases)
    func atMostOneCurrentSuccessPerStepEvenFromAStaleWorker(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        let now = Timestamp.now()
        _ = try await store.enqueue([samplePlan(key: "k")], now: now)
        let stale = try await store.claim([("default", 1)], owner: me, lease: .seconds(1), now: now)[0]
        try await stale.beginStep("s0", attempt: 1, now: now)
        _ = try await store.expireLeases(now: now.plus(seconds: 2))
        let fresh = try await store.claim([("default", 1)], owner: me, lease: .seconds(30), now: now.plus(seconds: 2))[0]
        #expect(fresh.records["s0"] == StepRecord(attempts: 1))
        try await fresh.beginStep("s0", attempt: 2)
        try await fresh.recordStep("s0", attempt: 2, outcome: .success("fresh"))
        await #expect { try await stale.recordStep("s0", attempt: 1, outcome: .success("stale")) } throws: { isLeaseLost($0) }
        await #expect(throws: StoreError.self) { try await fresh.recordStep("s0", attempt: 2, outcome: .success("twice")) }
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE outcome = 'ok'") == "1")
        let step = try #require(try await store.steps(of: fresh.jobID)["s0"])
        #expect(step.output == "fresh" && step.attempts == 2 && step.outcome == .ok)
    }

    @Test(arguments: StoreKind.allCases)
    func recordsStartsOutcomesAndEvents(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "k", steps: 2)])
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        let failure = ErrInfo(code: "unavailable", message: "503", retryable: true)
        try await job.beginStep("s0", attempt: 1)
        #expect(try await store.steps(of: job.jobID)["s0"]?.attempts == 1)
        try await job.recordStep("s0", attempt: 1, outcome: .failure(failure))
        try await job.reschedule(runAt: .now(), error: failure)
        let again = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(again.records == ["s0": StepRecord(attempts: 1, lastError: failure)])
        try await again.beginStep("s0", attempt: 2)
        try await again.recordStep("s0", attempt: 2, outcome: .success(["n": 0]))
        try await again.finish(.succeeded(["n": 0]))
        let step = try #require(try await store.steps(of: job.jobID)["s0"])
        #expect(step.output == ["n": 0] && step.attempts == 2 && step.outcome == .ok)
        #expect(try await store.eventKinds(of: job.jobID) == ["enqueued", "claimed", "step_started", "step_failed", "retry_scheduled", "claimed",
                                                             "step_started", "step_succeeded", "succeeded"])
        let detail = try await store.detail(.id(job.jobID))
        #expect(detail.result == ["n": 0] && detail.summary.state == .succeeded && detail.summary.finishedAt != nil)
        #expect(database.scalar("SELECT count(*) FROM jobs WHERE lease_owner IS NULL AND lease_expires_at IS NULL") == "1")
    }

    @Test(arguments: StoreKind.allCases)
    func writesPreparedAheadCommitWithTheNextWriteAllOrNone(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "k", steps: 2)])
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        try await job.beginStep("s0", attempt: 1)
        let carried = RunWrite.stepFinished("s0", attempt: 1, outcome: .success("zero"), at: .now())
        // A refused write takes what it carried down with it.
        await #expect(throws: StoreError.self) { try await job.beginStep("s1", attempt: 1, after: [carried, carried]) }
        #expect(try await store.steps(of: job.jobID)["s0"]?.outcome == nil)
        try await job.beginStep("s1", attempt: 1, after: [carried])
        #expect(try await store.steps(of: job.jobID)["s0"]?.output == "zero")
        #expect(try await store.steps(of: job.jobID)["s1"]?.attempts == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func aRunsEndCarriesItsLastSuccessAndAFencedEndChangesNothing(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "a"), samplePlan(key: "b")])
        let jobs = try await store.claim([("default", 2)], owner: me, lease: .seconds(30))
        for job in jobs { try await job.beginStep("s0", attempt: 1) }
        let success = RunWrite.stepFinished("s0", attempt: 1, outcome: .success("zero"), at: .now())
        try await jobs[0].finish(.succeeded("done"), after: [success])
        #expect(try await store.steps(of: jobs[0].jobID)["s0"]?.output == "zero")
        #expect(try await store.detail(.id(jobs[0].jobID)).summary.state == .succeeded)
        #expect(try await store.eventKinds(of: jobs[0].jobID).suffix(3) == ["step_started", "step_succeeded", "succeeded"])

        // The second run's lease lapses and another claim takes the job: its end, and the success
        // it carries, are refused together.
        #expect(try await store.expireLeases(now: Timestamp.now().adding(PlanDuration(.seconds(60)))) == [jobs[1].jobID])
        let again = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))
        #expect(again.map(\.jobID) == [jobs[1].jobID])
        let refused = await #expect(throws: StoreError.self) { try await jobs[1].finish(.succeeded("late"), after: [success]) }
        #expect(refused.map { "\($0)" } == "\(StoreError.leaseLost(jobs[1].id))")
        #expect(try await store.steps(of: jobs[1].jobID)["s0"]?.outcome == nil)
        #expect(try await store.detail(.id(jobs[1].jobID)).summary.state == .running)
        try await again[0].finish(.succeeded("in time"))
        #expect(try await store.detail(.id(jobs[1].jobID)).result == "in time")
    }

    @Test(arguments: StoreKind.allCases)
    func releaseHandsTheRunBackWithoutCountingIt(kind: StoreKind) async throws {
        let database = try await kind.database()
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "k", steps: 2)])
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        try await job.beginStep("s0", attempt: 1)
        try await job.recordStep("s0", attempt: 1, outcome: .success("done"))
        try await job.beginStep("s1", attempt: 1)
        try await job.release()
        #expect(database.scalar("SELECT state || ' ' || runs FROM jobs WHERE lease_owner IS NULL") == "pending 0")
        let steps = try await store.steps(of: job.jobID)
        #expect(steps["s0"]?.output == "done" && steps["s0"]?.attempts == 1)
        #expect(steps["s1"]?.state == .setAside && steps["s1"]?.attempts == 0, "handed back: set aside, not counted")
        #expect(database.scalar("SELECT outcome FROM step_results WHERE step_id = 's1'") == "cancelled")
        let again = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(again.records == ["s0": StepRecord(output: "done", attempts: 1)])
        #expect(again.runs == 1)
    }

    /// PostgreSQL: a run's write whose statement began before another worker's claim of its job
    /// committed waits for that claim, then finds the lease gone, instead of landing on a row it
    /// read before the claim.
    @Test func aWriteThatRacesAClaimOfItsJobIsRefused() async throws {
        let database = try await StoreKind.postgres.database() as! PostgresDatabase
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "raced", steps: 2)])
        let lease = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        try await lease.beginStep("s0", attempt: 1)
        try await lease.recordStep("s0", attempt: 1, outcome: .success(1))

        let refusal = await #expect(throws: StoreError.self) {
            try await Self.whileAClaimCommits(in: database) { try await lease.beginStep("s1", attempt: 1) }
        }
        #expect(refusal.map(isLeaseLost) == true)
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE step_id = 's1'") == "0")
    }

    /// A run's end that waits on its job's row while another worker's claim of the job commits is
    /// refused whole: the step's result that it carries is not written either.
    @Test func anEndThatRacesAClaimOfItsJobIsRefusedAndWritesNothing() async throws {
        let database = try await StoreKind.postgres.database() as! PostgresDatabase
        let store = try await database.open()
        _ = try await store.enqueue([samplePlan(key: "raced")])
        let lease = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        try await lease.beginStep("s0", attempt: 1)

        let refusal = await #expect(throws: StoreError.self) {
            try await Self.whileAClaimCommits(in: database) {
                try await lease.finish(.succeeded(1), after: [.stepFinished("s0", attempt: 1, outcome: .success(1), at: .now())])
            }
        }
        #expect(refusal.map(isLeaseLost) == true)
        #expect(database.scalar("SELECT state FROM jobs") == "running")
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE outcome IS NOT NULL") == "0")
        #expect(database.scalar("SELECT count(*) FROM job_events WHERE kind = 'succeeded'") == "0")
    }

    /// Starts `write` while another worker's claim of the job (its token moved on) is not yet
    /// committed, commits the claim 300 ms later, and returns once `write` did.
    private static func whileAClaimCommits(in database: PostgresDatabase, _ write: @escaping @Sendable () async throws -> Void) async throws {
        let claim = try await database.connection()
        try await claim.query("BEGIN", logger: PostgresDatabase.logger)
        try await claim.query("UPDATE jobs SET lease_token = lease_token + 1", logger: PostgresDatabase.logger)
        let written = Task { try await write() }
        try await Task.sleep(for: .milliseconds(300))
        try await claim.query("COMMIT", logger: PostgresDatabase.logger)
        try await claim.close()
        try await written.value
    }

    /// PostgreSQL's group commit: runs that write at once share statements; a run whose lease
    /// moved on is refused alone, and a write the server refuses reaches only its own run.
    @Test func runsWritingAtOnceShareAStatementAndARefusalReachesOnlyItsRun() async throws {
        let database = try await StoreKind.postgres.database() as! PostgresDatabase
        let largest = Locked(0)
        let store = try await PostgresStore.connect(try PostgresURL(database.url), migrate: true,
                                                    commitObserver: { operations, _ in largest.withLock { $0 = max($0, operations) } })
        _ = try await store.enqueue((0..<12).map { samplePlan(key: "k\($0)") })
        let leases = try await store.claim([("default", 12)], owner: me, lease: .seconds(30))
        #expect(leases.count == 12)
        // One run's lease moves on; another already began the execution it is about to begin.
        let (stale, clashing) = (leases[3], leases[7])
        database.execute("UPDATE jobs SET lease_token = lease_token + 1 WHERE id = \(stale.jobID)")
        try await clashing.beginStep("extra", attempt: 1)

        let begun = await atOnce(leases) { try await $0.beginStep("extra", attempt: 1) }
        #expect(begun[stale.jobID] == "lease lost")
        #expect(begun[clashing.jobID] == "refused")
        #expect(begun.values.filter { $0 == "done" }.count == 10)
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE step_id = 'extra'") == "11")
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE step_id = 'extra' AND job_id = \(stale.jobID)") == "0")

        // The ten record their results at once, and so does the stale run: statements shared by
        // several commit the ten, and tell the stale run alone that it lost its lease.
        let recorded = await atOnce(leases.filter { begun[$0.jobID] == "done" || $0.jobID == stale.jobID }) { lease in
            try await lease.recordStep("extra", attempt: 1, outcome: .success(.integer(lease.jobID)))
        }
        #expect(recorded[stale.jobID] == "lease lost")
        #expect(recorded.values.filter { $0 == "done" }.count == 10)
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE step_id = 'extra' AND outcome = 'ok'") == "10")
        #expect(largest.withLock { $0 } > 1, "some runs' writes shared a statement")
    }
}

/// The start time of a running process, as a lease records it.
private func startTime(of pid: Int32) throws -> Int64 {
    guard case .started(let start) = LeaseOwner.look(at: pid) else { throw CocoaError(.fileReadUnknown) }
    return start
}
