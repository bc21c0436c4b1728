import Foundation
import PlanCore
@testable import PlanStore
import Testing

/// Starts `sleep 60` as a real child process.
private func child() throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sleep")
    process.arguments = ["60"]
    try process.run()
    return process
}

@Suite struct Leases {
    @Test func anExpiredLeaseIsClaimableAgainAndTheOldTokenIsRefusedEverywhere() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        let now = Timestamp.now()
        _ = try store.enqueue([samplePlan(key: "k", steps: 2)], now: now)
        let first = try await store.claim([("default", 1)], owner: me, lease: .seconds(10), now: now)[0]
        try await store.beginStep(jobID: first.id, token: first.token, stepKey: "s0", attempt: 1, now: now)
        #expect(try store.expireLeases(now: now.plus(seconds: 5)) == [])
        #expect(try store.expireLeases(now: now.plus(seconds: 11)) == [first.id])
        let second = try await store.claim([("default", 1)], owner: me, lease: .seconds(10), now: now.plus(seconds: 12))[0]
        #expect(second.id == first.id)
        #expect(second.token == first.token + 1)
        #expect(second.runs == 2)

        let stale = first.token
        let refusals: [@Sendable () async throws -> Void] = [
            { try await store.beginStep(jobID: first.id, token: stale, stepKey: "s1", attempt: 1) },
            { try await store.finishStep(jobID: first.id, token: stale, stepKey: "s0", attempt: 1, outcome: .success("late")) },
            { try await store.finish(jobID: first.id, token: stale, .succeeded("late")) },
            { try await store.reschedule(jobID: first.id, token: stale, runAt: now, error: ErrInfo(code: "x", message: "x", retryable: true)) },
            { try await store.release(jobID: first.id, token: stale) },
        ]
        for write in refusals {
            await #expect { try await write() } throws: { if case StoreError.leaseLost = $0 { true } else { false } }
        }
        #expect(try await store.heartbeat(jobID: first.id, token: stale, lease: .seconds(10)).leaseHeld == false)
        #expect(try await store.heartbeat(jobID: first.id, token: second.token, lease: .seconds(10)).leaseHeld)
        #expect(database.scalar("SELECT state FROM jobs") == "running")
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE outcome IS NOT NULL") == "0")
        #expect(database.scalar("SELECT detail ->> '$.reason' FROM job_events WHERE kind = 'lease_expired'") == "the lease expired")
    }

    @Test func aDeadOwnerOnThisHostIsRecoveredAtOnceAndALiveOneIsNot() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue([samplePlan(key: "dead"), samplePlan(key: "alive")])
        let dying = try child(), living = try child()
        defer { living.terminate() }
        for process in [dying, living] {
            let owner = LeaseOwner(host: me.host, bootID: me.bootID, pid: process.processIdentifier,
                                   pidStart: LeaseOwner.startTime(of: process.processIdentifier)!)
            _ = try await store.claim([("default", 1)], owner: owner, lease: .seconds(3600))
        }
        kill(dying.processIdentifier, SIGKILL)
        dying.waitUntilExit()
        let recovered = try store.recoverDeadOwners(me: me)
        #expect(recovered == [1])
        #expect(database.scalar("SELECT state FROM jobs WHERE id = 1") == "pending")
        #expect(database.scalar("SELECT state FROM jobs WHERE id = 2") == "running")
        #expect(database.scalar("SELECT detail ->> '$.reason' FROM job_events WHERE kind = 'lease_expired'") == "owner pid \(dying.processIdentifier) is gone")
    }

    @Test func aReusedPidOrAnotherBootCountsAsDead() {
        #expect(me.deathReason(ofBootID: me.bootID, pid: me.pid, pidStart: me.pidStart) == nil)
        #expect(me.deathReason(ofBootID: me.bootID, pid: me.pid, pidStart: me.pidStart + 1) == "owner pid \(me.pid) is another process now")
        #expect(me.deathReason(ofBootID: "another-boot", pid: me.pid, pidStart: me.pidStart) == "the owner ran before the last boot")
    }

    @Test func aCancelRequestReachesTheHeartbeat() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue([samplePlan(key: "k")])
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        #expect(try store.cancel(.id(job.id)) == .requested)
        #expect(try await store.heartbeat(jobID: job.id, token: job.token, lease: .seconds(30)) == Heartbeat(leaseHeld: true, cancelRequested: true))
    }
}

@Suite struct Journaling {
    @Test func atMostOneCurrentSuccessPerStepEvenFromAStaleWorker() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        let now = Timestamp.now()
        _ = try store.enqueue([samplePlan(key: "k")], now: now)
        let stale = try await store.claim([("default", 1)], owner: me, lease: .seconds(1), now: now)[0]
        try await store.beginStep(jobID: stale.id, token: stale.token, stepKey: "s0", attempt: 1, now: now)
        _ = try store.expireLeases(now: now.plus(seconds: 2))
        let fresh = try await store.claim([("default", 1)], owner: me, lease: .seconds(30), now: now.plus(seconds: 2))[0]
        try await store.beginStep(jobID: fresh.id, token: fresh.token, stepKey: "s0", attempt: 2)
        try await store.finishStep(jobID: fresh.id, token: fresh.token, stepKey: "s0", attempt: 2, outcome: .success("fresh"))
        await #expect(throws: StoreError.self) {
            try await store.finishStep(jobID: stale.id, token: stale.token, stepKey: "s0", attempt: 1, outcome: .success("stale"))
        }
        // Even bypassing the fence, the schema keeps one current success per (job, step).
        #expect(throws: (any Error).self) {
            try store.read { try $0.query("UPDATE step_results SET outcome = 'ok', output = '\"stale\"' WHERE attempt = 1") }
        }
        #expect(database.scalar("SELECT count(*) FROM step_results WHERE outcome = 'ok'") == "1")
        #expect(try store.stepRecord(jobID: fresh.id, stepKey: "s0") == StepRecord(output: "fresh", attempts: 2))
    }

    @Test func recordsStartsOutcomesAndEvents() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue([samplePlan(key: "k", steps: 2)])
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        let failure = ErrInfo(code: "unavailable", message: "503", retryable: true)
        try await store.beginStep(jobID: job.id, token: job.token, stepKey: "s0", attempt: 1)
        #expect(try store.stepRecord(jobID: job.id, stepKey: "s0") == StepRecord(attempts: 1))
        try await store.finishStep(jobID: job.id, token: job.token, stepKey: "s0", attempt: 1, outcome: .failure(failure))
        try await store.reschedule(jobID: job.id, token: job.token, runAt: .now(), error: failure)
        let again = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        try await store.beginStep(jobID: job.id, token: again.token, stepKey: "s0", attempt: 2)
        try await store.finishStep(jobID: job.id, token: again.token, stepKey: "s0", attempt: 2, outcome: .success(["n": 0]))
        try await store.finish(jobID: job.id, token: again.token, .succeeded(["n": 0]))
        #expect(try store.stepRecord(jobID: job.id, stepKey: "s0") == StepRecord(output: ["n": 0], attempts: 2, lastError: failure))
        let kinds = try store.detail(.id(job.id)).events.map(\.kind)
        #expect(kinds == ["enqueued", "claimed", "step_started", "step_failed", "retry_scheduled", "claimed", "step_started",
                          "step_succeeded", "succeeded"])
        #expect(database.scalar("SELECT result FROM jobs") == #"{"n":0}"#)
        #expect(database.scalar("SELECT lease_owner IS NULL AND lease_expires_at IS NULL FROM jobs") == "1")
    }

    @Test func releaseHandsTheRunBackWithoutCountingIt() async throws {
        let database = TemporaryDatabase()
        let store = try database.open()
        _ = try store.enqueue([samplePlan(key: "k", steps: 2)])
        let job = try await store.claim([("default", 1)], owner: me, lease: .seconds(30))[0]
        try await store.beginStep(jobID: job.id, token: job.token, stepKey: "s0", attempt: 1)
        try await store.finishStep(jobID: job.id, token: job.token, stepKey: "s0", attempt: 1, outcome: .success("done"))
        try await store.beginStep(jobID: job.id, token: job.token, stepKey: "s1", attempt: 1)
        try await store.release(jobID: job.id, token: job.token)
        #expect(database.scalar("SELECT state || ' ' || runs || ' ' || (lease_owner IS NULL) FROM jobs") == "pending 0 1")
        #expect(try store.stepRecord(jobID: job.id, stepKey: "s0") == StepRecord(output: "done", attempts: 1))
        #expect(try store.stepRecord(jobID: job.id, stepKey: "s1") == StepRecord(attempts: 0))
        #expect(database.scalar("SELECT outcome FROM step_results WHERE step_id = 's1'") == "cancelled")
    }
}
