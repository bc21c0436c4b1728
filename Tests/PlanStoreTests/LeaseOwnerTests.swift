@testable import PlanStore
import Glibc
import Testing

@Suite struct LeaseOwners {
    @Test func aReusedPidOrAnotherBootCountsAsDead() {
        #expect(me.deathReason(ofBootID: me.bootID, pid: me.pid, pidStart: me.pidStart) == nil)
        #expect(me.deathReason(ofBootID: me.bootID, pid: me.pid, pidStart: me.pidStart + 1) == "owner pid \(me.pid) is another process now")
        #expect(me.deathReason(ofBootID: "another-boot", pid: me.pid, pidStart: me.pidStart) == "the owner ran before the last boot")
    }

    @Test func anAbsentProcessIsSeenAsAbsent() {
        // pid_max is at most 2^22: this pid never exists.
        #expect(LeaseOwner.look(at: 9_999_999) == .absent)
        #expect(LeaseOwner.look(at: me.pid) == .started(me.pidStart))
        #expect(me.deathReason(ofBootID: me.bootID, pid: 9_999_999, pidStart: 5) == "owner pid 9999999 is gone")
    }

    /// Descriptors, memory or permission running out while looking is no evidence: the owner
    /// may well be alive, and its lease is left to expire.
    @Test(arguments: [EMFILE, ENFILE, ENOMEM, EACCES, EIO])
    func aFailedLookIsNoEvidenceOfDeath(code: Int32) {
        let look: (Int32) -> LeaseOwner.ProcessLook = { _ in .unknown(errno: code) }
        #expect(me.deathReason(ofBootID: me.bootID, pid: me.pid, pidStart: me.pidStart, look: look) == nil)
        #expect(me.deathReason(ofBootID: me.bootID, pid: me.pid, pidStart: me.pidStart + 1, look: look) == nil)
    }

    /// An owner that could not read its own start time or boot id is never judged by them.
    @Test func anOwnerWithoutAStartTimeOrBootIDIsNeverDeclaredDead() {
        #expect(me.deathReason(ofBootID: me.bootID, pid: me.pid, pidStart: LeaseOwner.unknownStart) == nil)
        #expect(me.deathReason(ofBootID: LeaseOwner.unknownBootID, pid: me.pid, pidStart: me.pidStart) == nil)
        #expect(me.deathReason(ofBootID: "", pid: 0, pidStart: 0) == nil)
        let blind = LeaseOwner(host: me.host, bootID: LeaseOwner.unknownBootID, pid: me.pid, pidStart: me.pidStart)
        #expect(blind.deathReason(ofBootID: "another-boot", pid: me.pid, pidStart: me.pidStart) == nil)
    }
}
