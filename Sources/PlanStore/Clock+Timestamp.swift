import Glibc
import PlanCore

extension Timestamp {
    /// The wall-clock time now.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(millisecondsSinceEpoch: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}

extension Timestamp {
    /// The time `duration` before this one.
    public func before(_ duration: Duration) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: millisecondsSinceEpoch - PlanDuration(duration).milliseconds)
    }
}
