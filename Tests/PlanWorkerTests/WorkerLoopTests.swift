import Clocks
@testable import PlanWorker
import Testing

/// The claim loop's decisions, driven by a test clock: no sleeps, no store, no threads.
@Suite struct WorkerLoopDecisions {
    typealias Loop = WorkerLoop<TestClock<Duration>.Instant>

    let clock = TestClock()
    let configuration = WorkerConfiguration(concurrency: 2, lease: .seconds(30), grace: .seconds(10), idleWake: .seconds(1))

    func at(_ offset: Duration) -> TestClock<Duration>.Instant { clock.now.advanced(by: offset) }

    @Test func theFirstTurnRecoversLeasesAndClaimsEverySlotAndTheWatchdogIsFedAtHalfItsInterval() {
        var loop = Loop(configuration: configuration, watchdogInterval: .seconds(20))
        #expect(loop.handle(.tick, at: at(.zero)) == [.recoverLeases, .claim(free: 2, running: [:])])
        #expect(loop.handle(.claimed([], nextRunIn: nil), at: at(.zero)) == [.sleep(until: at(.seconds(1)))])
        #expect(!loop.handle(.tick, at: at(.milliseconds(9999))).contains(.feedWatchdog))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.milliseconds(9999)))
        #expect(loop.handle(.tick, at: at(.seconds(10))).first == .feedWatchdog)
        // The sleep never outlasts the next feed.
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.seconds(10)))
        var idle = Loop(configuration: WorkerConfiguration(idleWake: .seconds(60)), watchdogInterval: .seconds(4))
        _ = idle.handle(.tick, at: at(.zero))
        #expect(idle.handle(.claimed([], nextRunIn: nil), at: at(.milliseconds(500))) == [.sleep(until: at(.seconds(2)))])
    }

    @Test func claimedJobsMeanLookAgainAtOnceAndAFullWorkerThrottlesAndSleeps() {
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        #expect(loop.handle(.claimed([.init(id: 1, queue: "a")], nextRunIn: nil), at: at(.milliseconds(1)))
                == [.claim(free: 1, running: ["a": 1])])
        // Full: no claim, fewer change notifications, and a sleep no longer than a sixth of the lease.
        #expect(loop.handle(.claimed([.init(id: 2, queue: "b")], nextRunIn: nil), at: at(.milliseconds(2)))
                == [.throttleChanges(true), .sleep(until: at(.milliseconds(2) + .seconds(1)))])
        // A job's end frees a slot: the next turn claims into it, and the throttle is lifted after.
        #expect(loop.handle(.jobEnded(1), at: at(.milliseconds(10))) == [])
        #expect(loop.handle(.tick, at: at(.milliseconds(10))) == [.claim(free: 1, running: ["b": 1])])
        #expect(loop.handle(.claimed([], nextRunIn: nil), at: at(.milliseconds(11)))
                == [.throttleChanges(false), .sleep(until: at(.milliseconds(11) + configuration.changeRecheck))])
    }

    @Test func anIdleWorkerSleepsUntilTheNextScheduledJobOrItsIdleWake() {
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        #expect(loop.handle(.claimed([], nextRunIn: .milliseconds(400)), at: at(.zero)) == [.sleep(until: at(.milliseconds(401)))])
        _ = loop.handle(.tick, at: at(.milliseconds(401)))
        #expect(loop.handle(.claimed([], nextRunIn: .seconds(90)), at: at(.milliseconds(402))) == [.sleep(until: at(.milliseconds(1402)))])
    }

    @Test func aClaimBackingOffFromAStoreFaultSleepsUntilItsEndThoughAJobFellDue() {
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        // The job scheduled for 100 ms falls due while claims back off for 2 s: one sleep to the
        // backoff's end, not a wake every millisecond (a worker on a full disk spun so).
        #expect(loop.handle(.claimed([], nextRunIn: .milliseconds(100)), at: at(.zero)) == [.sleep(until: at(.milliseconds(101)))])
        _ = loop.handle(.tick, at: at(.milliseconds(101)))
        #expect(loop.handle(.claimFailed(backoff: .seconds(2)), at: at(.milliseconds(102))) == [.sleep(until: at(.milliseconds(102) + .seconds(1)))])
        _ = loop.handle(.changed, at: at(.milliseconds(500)))
        #expect(loop.handle(.tick, at: at(.milliseconds(500))) == [.sleep(until: at(.milliseconds(500) + .seconds(1)))],
                "a change during the backoff brings no quick looks")
        #expect(loop.handle(.tick, at: at(.milliseconds(2102))).contains(.claim(free: 2, running: [:])))
    }

    @Test func aChangeWhileASlotIsFreeIsLookedAtAgainBrieflyThenTheIdleWakeRules() {
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.zero))
        #expect(loop.handle(.changed, at: at(.milliseconds(100))) == [])
        #expect(loop.handle(.tick, at: at(.milliseconds(100))) == [.claim(free: 2, running: [:])])
        #expect(loop.handle(.claimed([], nextRunIn: nil), at: at(.milliseconds(101))) == [.sleep(until: at(.milliseconds(104)))])
        // Past the window after the change: back to the idle wake.
        _ = loop.handle(.tick, at: at(.milliseconds(400)))
        #expect(loop.handle(.claimed([], nextRunIn: nil), at: at(.milliseconds(400))) == [.sleep(until: at(.milliseconds(1400)))])
    }

    @Test func heartbeatsAreDueAThirdThroughTheLeaseAndAFailedOneIsTriedAgainAfterItsBackoff() {
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        _ = loop.handle(.claimed([.init(id: 7, queue: "a")], nextRunIn: nil), at: at(.zero))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.zero))
        let turn = loop.handle(.tick, at: at(.seconds(10)))
        #expect(turn.contains(.heartbeat([7])))
        _ = loop.handle(.heartbeatFailed(7, retryIn: .seconds(1)), at: at(.seconds(10)))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.seconds(10)))
        // A store failing every write at once (a full disk) must not be asked again at every turn.
        #expect(!loop.handle(.tick, at: at(.seconds(10))).contains(.heartbeat([7])))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.seconds(10)))
        #expect(!loop.handle(.tick, at: at(.milliseconds(10999))).contains(.heartbeat([7])))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.milliseconds(10999)))
        #expect(loop.handle(.tick, at: at(.seconds(11))).contains(.heartbeat([7])))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.seconds(11)))
        #expect(!loop.handle(.tick, at: at(.seconds(12))).contains(.heartbeat([7])), "renewed at 11 s: due again at 21 s")
    }

    @Test func aRunWhoseHeartbeatsFailIsStoppedFiveSixthsThroughItsLeaseAndAPausedWorkerAsksFirst() {
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        _ = loop.handle(.claimed([.init(id: 7, queue: "a"), .init(id: 8, queue: "a")], nextRunIn: nil), at: at(.zero))
        #expect(loop.handle(.tick, at: at(.seconds(10))).contains(.heartbeat([7, 8])))
        // Job 8's renewal, sent at 10 s, went through; job 7's failed and keeps failing.
        _ = loop.handle(.renewed([8], at: at(.seconds(10))), at: at(.seconds(11)))
        _ = loop.handle(.heartbeatFailed(7, retryIn: .seconds(5)), at: at(.seconds(11)))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.seconds(11)))
        #expect(!loop.handle(.tick, at: at(.milliseconds(24999))).contains(.leaseLapsed([7])))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.milliseconds(24999)))
        let lapsed = loop.handle(.tick, at: at(.seconds(25)))
        #expect(lapsed.contains(.leaseLapsed([7])), "30 s lease taken at 0 s: stopped at 25 s")
        #expect(!lapsed.contains(.heartbeat([7])), "a lapsed run is not renewed any more")
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.seconds(25)))
        #expect(!loop.handle(.tick, at: at(.seconds(26))).contains(.leaseLapsed([7])), "stopped once")
        #expect(loop.runningJobs == [7, 8], "a stopped run is running until it ends")

        // Asked between the actions of a turn (one slowed by a store out of reach), the same rule.
        var slowed = Loop(configuration: configuration)
        _ = slowed.handle(.tick, at: at(.zero))
        _ = slowed.handle(.claimed([.init(id: 7, queue: "a")], nextRunIn: nil), at: at(.zero))
        _ = slowed.handle(.tick, at: at(.seconds(10)))
        _ = slowed.handle(.heartbeatFailed(7, retryIn: .seconds(5)), at: at(.seconds(11)))
        #expect(slowed.lapses(at: at(.milliseconds(24999))).isEmpty)
        #expect(slowed.lapses(at: at(.seconds(25))) == [.leaseLapsed([7])])
        #expect(slowed.lapses(at: at(.seconds(26))).isEmpty, "stopped once")
        #expect(!slowed.handle(.tick, at: at(.seconds(26))).contains(.leaseLapsed([7])), "and not again by a turn")

        // A worker that was stopped (SIGSTOP) past its lease with no failed heartbeat asks the
        // store first: the heartbeat says whether another worker took the job.
        var paused = Loop(configuration: configuration)
        _ = paused.handle(.tick, at: at(.zero))
        _ = paused.handle(.claimed([.init(id: 9, queue: "a")], nextRunIn: nil), at: at(.zero))
        _ = paused.handle(.claimed([], nextRunIn: nil), at: at(.zero))
        let resumed = paused.handle(.tick, at: at(.seconds(40)))
        #expect(resumed.contains(.heartbeat([9])) && !resumed.contains(.leaseLapsed([9])))
    }

    @Test func cancelsAreCheckedEveryIntervalAndAtOnceAfterAChangeWhileFull() {
        var configuration = self.configuration
        configuration.concurrency = 1
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        _ = loop.handle(.claimed([.init(id: 3, queue: "a")], nextRunIn: nil), at: at(.zero))
        #expect(!loop.handle(.tick, at: at(.milliseconds(50))).contains(.checkCancels([3])))
        #expect(loop.handle(.tick, at: at(.milliseconds(200))).first == .checkCancels([3]))
        #expect(!loop.handle(.tick, at: at(.milliseconds(250))).contains(.checkCancels([3])))
        // A commit while full may be a `planq cancel`: looked at on the next turn, not 200 ms later.
        _ = loop.handle(.changed, at: at(.milliseconds(260)))
        #expect(loop.handle(.tick, at: at(.milliseconds(260))).first == .checkCancels([3]))
        #expect(!loop.handle(.tick, at: at(.milliseconds(300))).contains(.checkCancels([3])))
        #expect(loop.handle(.tick, at: at(.milliseconds(460))).first == .checkCancels([3]))
    }

    @Test func leasesAreRecoveredAtMostEveryHalfLeaseAndEveryFiveSeconds() {
        var configuration = self.configuration
        configuration.lease = .seconds(4)
        var loop = Loop(configuration: configuration)
        #expect(loop.handle(.tick, at: at(.zero)).contains(.recoverLeases))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.zero))
        #expect(!loop.handle(.tick, at: at(.milliseconds(1999))).contains(.recoverLeases))
        _ = loop.handle(.claimed([], nextRunIn: nil), at: at(.milliseconds(1999)))
        #expect(loop.handle(.tick, at: at(.seconds(2))).contains(.recoverLeases))
    }

    @Test func aFailedClaimBacksOffNoLongerThanASixthOfTheLease() {
        var configuration = self.configuration
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        #expect(loop.handle(.claimFailed(backoff: .seconds(60)), at: at(.zero)) == [.sleep(until: at(.seconds(1)))])
        configuration.lease = .seconds(3)
        var short = Loop(configuration: configuration)
        _ = short.handle(.tick, at: at(.zero))
        #expect(short.handle(.claimFailed(backoff: .seconds(60)), at: at(.zero)) == [.sleep(until: at(.milliseconds(500)))])
        // Rung meanwhile: no claim before the backoff is over.
        #expect(!short.handle(.tick, at: at(.milliseconds(100))).contains(.claim(free: 2, running: [:])))
        #expect(short.handle(.tick, at: at(.milliseconds(500))).last == .claim(free: 2, running: [:]))
    }

    @Test func aDrainingWorkerStopsOnceTheStoreHasNoWorkLeft() {
        var configuration = self.configuration
        configuration.drain = true
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        #expect(loop.handle(.claimed([], nextRunIn: nil), at: at(.zero)) == [.checkOutstandingWork])
        #expect(loop.handle(.outstandingWork(true), at: at(.zero)) == [.sleep(until: at(.seconds(1)))])
        _ = loop.handle(.tick, at: at(.seconds(1)))
        #expect(loop.handle(.claimed([], nextRunIn: nil), at: at(.seconds(1))) == [.checkOutstandingWork])
        #expect(loop.handle(.outstandingWork(false), at: at(.seconds(1))) == [.stop])
        #expect(loop.isStopped)
    }

    @Test func aJobThatEndsBeforeItsClaimIsToldIsNotCountedAsRunning() {
        var configuration = self.configuration
        configuration.drain = true
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        _ = loop.handle(.jobEnded(9), at: at(.zero))
        #expect(loop.handle(.claimed([.init(id: 9, queue: "a")], nextRunIn: nil), at: at(.zero)) == [.claim(free: 2, running: [:])])
        #expect(loop.runningJobs.isEmpty)
    }

    @Test func shutdownClaimsNothingLetsJobsFinishWithinTheGraceThenHandsTheRestBack() {
        var loop = Loop(configuration: configuration)
        _ = loop.handle(.tick, at: at(.zero))
        _ = loop.handle(.claimed([.init(id: 1, queue: "a"), .init(id: 2, queue: "a")], nextRunIn: nil), at: at(.zero))
        _ = loop.handle(.shutdown, at: at(.seconds(1)))
        let turn = loop.handle(.tick, at: at(.seconds(1)))
        #expect(!turn.contains { if case .claim = $0 { true } else { false } } && !turn.contains(.recoverLeases))
        #expect(turn.last == .sleep(until: at(.seconds(1) + configuration.shutdownPoll)))
        _ = loop.handle(.jobEnded(1), at: at(.seconds(2)))
        #expect(loop.handle(.tick, at: at(.seconds(11))).suffix(2) == [.handBack([2]), .stop])
        #expect(loop.isStopped)

        var quiet = Loop(configuration: configuration)
        _ = quiet.handle(.tick, at: at(.zero))
        _ = quiet.handle(.claimed([.init(id: 1, queue: "a")], nextRunIn: nil), at: at(.zero))
        _ = quiet.handle(.shutdown, at: at(.seconds(1)))
        _ = quiet.handle(.jobEnded(1), at: at(.seconds(2)))
        #expect(quiet.handle(.tick, at: at(.seconds(2))) == [.stop], "nothing left running: done before the grace")
    }
}
