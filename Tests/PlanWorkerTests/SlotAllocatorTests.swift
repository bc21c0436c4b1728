@testable import PlanWorker
import Testing

@Suite struct SlotAllocation {
    @Test func equalWeightsAlternate() {
        var allocator = SlotAllocator()
        var totals: [String: Int] = [:]
        for _ in 0..<10 {
            for (queue, count) in allocator.allocate(free: 1, capacity: ["flood": 100, "other": 100], weight: { _ in 4 }) {
                totals[queue, default: 0] += count
            }
        }
        #expect(totals == ["flood": 5, "other": 5])
    }

    @Test func weightsShareSlotsInProportion() {
        var allocator = SlotAllocator()
        let grants = allocator.allocate(free: 8, capacity: ["big": 100, "small": 100], weight: { $0 == "big" ? 3 : 1 })
        #expect(grants == ["big": 6, "small": 2])
    }

    @Test func capacityAndFreeSlotsBoundTheGrants() {
        var allocator = SlotAllocator()
        #expect(allocator.allocate(free: 10, capacity: ["a": 1, "b": 2], weight: { _ in 1 }) == ["a": 1, "b": 2])
        #expect(allocator.allocate(free: 0, capacity: ["a": 5], weight: { _ in 1 }) == [:])
        #expect(allocator.allocate(free: 3, capacity: ["a": 0], weight: { _ in 1 }) == [:])
    }
}
