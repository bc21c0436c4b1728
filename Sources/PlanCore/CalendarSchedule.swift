/// The UTC offsets of a time zone: how many seconds east of UTC its clocks read at an instant
/// (seconds since the Unix epoch). The schedule arithmetic asks; the shell answers from the
/// system's time zone data.
public protocol ZoneOffsets: Sendable {
    func offset(at instant: Int64) -> Int
}

/// UTC, and any zone with one fixed offset.
public struct FixedOffset: ZoneOffsets {
    public let seconds: Int
    public init(seconds: Int = 0) { self.seconds = seconds }
    public func offset(at instant: Int64) -> Int { seconds }
}

/// When a schedule fires: on a cron calendar read in a time zone, or every fixed interval
/// (counted from the Unix epoch, so every process agrees on the fire times).
///
/// In a zone with daylight saving time, a local time that a spring-forward skips fires once, at
/// the first instant after the gap; a local time that a fall-back repeats fires once, the first
/// time it comes. Precisely: an instant `u` is a fire time when some matching local time lies
/// after every local time the zone's clocks showed before `u`, and at or before what they show at `u`.
public enum CalendarSchedule: Sendable, Hashable {
    case cron(CronExpression)
    /// Every this many milliseconds.
    case every(PlanDuration)

    /// The first fire time strictly after `instant`, or `nil` when there is none in five years.
    public func nextFire(after instant: Timestamp, in zone: some ZoneOffsets) -> Timestamp? {
        switch self {
        case .every(let interval):
            let step = max(1, interval.milliseconds)
            return Timestamp(millisecondsSinceEpoch: (instant.millisecondsSinceEpoch.floorDivided(by: step) + 1) * step)
        case .cron(let expression):
            // Fire times are whole seconds: the first candidate is the second after `instant`'s.
            let second = instant.millisecondsSinceEpoch.floorDivided(by: 1000)
            return Self.nextFire(of: expression, after: second, in: zone).map { Timestamp(millisecondsSinceEpoch: $0 * 1000) }
        }
    }

    /// Up to `count` fire times after `instant`, in order.
    public func fireTimes(after instant: Timestamp, count: Int, in zone: some ZoneOffsets) -> [Timestamp] {
        var times: [Timestamp] = []
        var last = instant
        while times.count < count, let next = nextFire(after: last, in: zone) {
            times.append(next)
            last = next
        }
        return times
    }

    static func nextFire(of expression: CronExpression, after instant: Int64, in zone: some ZoneOffsets) -> Int64? {
        guard let local = expression.nextMatch(after: latestLocalTime(upTo: instant, in: zone)) else { return nil }
        return firstInstant(showing: local, in: zone)
    }

    /// The latest local time the zone's clocks showed at or before `instant`: after a fall-back,
    /// the clocks read earlier times again, and those already passed once.
    static func latestLocalTime(upTo instant: Int64, in zone: some ZoneOffsets) -> Int64 {
        let now = instant + Int64(zone.offset(at: instant))
        let window: Int64 = 4 * 3600  // longer than any fall-back
        let earlier = zone.offset(at: instant - window)
        guard earlier > zone.offset(at: instant) else { return now }
        // The last instant of the earlier offset: the local time just before the clocks went back.
        var (low, high) = (instant - window, instant)  // offset(low) == earlier, offset(high) < earlier
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if zone.offset(at: middle) == earlier { low = middle } else { high = middle }
        }
        return max(now, low + Int64(earlier))
    }

    /// The first instant whose local time is `local`, or, when the zone skipped it, the first
    /// instant after the gap.
    static func firstInstant(showing local: Int64, in zone: some ZoneOffsets) -> Int64 {
        let window: Int64 = 14 * 3600
        var offsets = Set([zone.offset(at: local - window), zone.offset(at: local), zone.offset(at: local + window)])
        offsets.formUnion(offsets.map { zone.offset(at: local - Int64($0)) })
        let valid = offsets.map { local - Int64($0) }.filter { instant in Int64(zone.offset(at: instant)) == local - instant }
        if let first = valid.min() { return first }
        // Skipped: the first instant whose local time is later.
        var (low, high) = (local - Int64(offsets.max()!), local - Int64(offsets.min()!))
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if middle + Int64(zone.offset(at: middle)) > local { high = middle } else { low = middle }
        }
        return high
    }
}
