@testable import PlanStore
import Testing

@Suite struct LeaseOwners {
    @Test func aReusedPidOrAnotherBootCountsAsDead() {
        #expect(me.deathReason(ofBootID: me.bootID, pid: me.pid, pidStart: me.pidStart) == nil)
        #expect(me.deathReason(ofBootID: me.bootID, pid: me.pid, pidStart: me.pidStart + 1) == "owner pid \(me.pid) is another process now")
        #expect(me.deathReason(ofBootID: "another-boot", pid: me.pid, pidStart: me.pidStart) == "the owner ran before the last boot")
    }
}
