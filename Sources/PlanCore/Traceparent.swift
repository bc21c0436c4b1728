/// W3C Trace Context: a job may carry the `traceparent` of the request that enqueued it, so that
/// its steps' calls join that trace. Each step execution is a span of its own, with an id derived
/// from the job, the step key and the attempt (the same on a replayed record, different on a retry).
public enum Traceparent {
    /// Why `text` is not a version-00 `traceparent` (`00-<32 hex trace id>-<16 hex parent id>-<2 hex
    /// flags>`, lower case, ids not all zeros), or `nil`.
    public static func problem(_ text: String) -> String? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        let hex = { (part: Substring, count: Int) in part.utf8.count == count && part.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) } }
        guard parts.count == 4, parts[0] == "00", hex(parts[1], 32), hex(parts[2], 16), hex(parts[3], 2) else {
            return "\(text.quoted) is not a W3C traceparent such as 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        }
        guard parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }) else {
            return "\(text.quoted) has an all-zero trace or parent id"
        }
        return nil
    }

    /// The `traceparent` a step execution sends: the job's trace id and flags, with the step's own
    /// span id in place of the parent.
    public static func forStep(_ traceparent: String, jobID: Int64, stepKey: String, attempt: Int) -> String {
        let parts = traceparent.split(separator: "-")
        // FNV-1a over the execution's identity: stable, and never zero (W3C forbids an all-zero id).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(jobID)/\(stepKey)/\(attempt)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        if hash == 0 { hash = 1 }
        let span = String(hash, radix: 16)
        return "00-\(parts[1])-\(String(repeating: "0", count: 16 - span.count) + span)-\(parts[3])"
    }
}
