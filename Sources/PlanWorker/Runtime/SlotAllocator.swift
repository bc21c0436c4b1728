/// Shares free slots among queues with due work by smooth weighted round-robin (a queue's weight is
/// its limit), so a flooded queue cannot starve another. Keeps its rotation between calls.
struct SlotAllocator {
    private var current: [String: Int] = [:]

    /// How many jobs to claim from each queue: at most `free` in all, and at most
    /// `capacity[queue]` from each.
    mutating func allocate(free: Int, capacity: [String: Int], weight: (String) -> Int) -> [String: Int] {
        var granted: [String: Int] = [:]
        let queues = capacity.keys.sorted()
        for _ in 0..<max(0, free) {
            let open = queues.filter { (capacity[$0] ?? 0) > (granted[$0] ?? 0) }
            guard !open.isEmpty else { break }
            let total = open.reduce(0) { $0 + weight($1) }
            for queue in open { current[queue, default: 0] += weight(queue) }
            let chosen = open.max { (current[$0] ?? 0, $1) < (current[$1] ?? 0, $0) }!
            current[chosen, default: 0] -= total
            granted[chosen, default: 0] += 1
        }
        return granted
    }
}
