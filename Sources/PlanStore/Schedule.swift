import PlanCore

/// A plan that enqueues itself on a calendar: one job per fire time, with the idempotency key
/// `schedule:NAME:<fire time in UTC>`, however many workers run.
public struct Schedule: Sendable, Hashable {
    /// What a worker does with fire times that passed while no worker ran.
    public enum CatchUp: String, Sendable, CaseIterable {
        /// Skip them: a fire time is enqueued only within `Schedule.onTime` (a second) of it.
        case none
        /// Enqueue the most recent one.
        case latest
        /// Enqueue each of them, at most `Schedule.catchUpLimit`.
        case all
    }

    /// The most fire times `catchUp: .all` enqueues at once.
    public static let catchUpLimit = 1000

    public let name: String
    public let calendar: CalendarSchedule
    /// An IANA zone name (`Europe/Berlin`) for a cron calendar; `UTC` by default.
    public let timeZone: String
    public let catchUp: CatchUp
    /// The plan each fire enqueues, validated; its key is replaced by the fire time's.
    public let plan: PlanDescription
    public var paused: Bool
    /// The next fire time; `nil` when the calendar has none left.
    public var nextFireAt: Timestamp?
    public var lastFiredAt: Timestamp?
    /// How many jobs it has enqueued.
    public var fired: Int

    public init(name: String, calendar: CalendarSchedule, timeZone: String = "UTC", catchUp: CatchUp = .latest, plan: PlanDescription,
                paused: Bool = false, nextFireAt: Timestamp?, lastFiredAt: Timestamp? = nil, fired: Int = 0) {
        self.name = name
        self.calendar = calendar
        self.timeZone = timeZone
        self.catchUp = catchUp
        self.plan = plan
        self.paused = paused
        self.nextFireAt = nextFireAt
        self.lastFiredAt = lastFiredAt
        self.fired = fired
    }

    /// The idempotency key of the job for one fire time.
    public func key(for fireTime: Timestamp) -> String { "schedule:\(name):\(fireTime.iso8601)" }

    /// The calendar as stored: kind (`cron`, `every`) and spec.
    public var spec: (kind: String, text: String) {
        switch calendar {
        case .cron(let expression): ("cron", expression.description)
        case .every(let interval): ("every", interval.description)
        }
    }

    /// The fire times due at `now` (from `nextFireAt` on), as `catchUp` says to enqueue them, and the
    /// next fire time after `now`.
    public func due(at now: Timestamp, in zone: some ZoneOffsets) -> (fire: [Timestamp], next: Timestamp?) {
        guard var time = nextFireAt, time <= now else { return ([], nextFireAt) }
        var passed: [Timestamp] = []
        while time <= now {
            passed.append(time)
            if catchUp == .all && passed.count > Self.catchUpLimit { passed.removeFirst() }
            if catchUp != .all && passed.count > 1 { passed.removeFirst() }
            guard let next = calendar.nextFire(after: time, in: zone) else { return (Self.chosen(passed, catchUp, now), nil) }
            // Far behind (a long downtime of a frequent schedule): jump to the fire times near now.
            if catchUp != .all, next < now, let skipTo = calendar.nextFire(after: now.before(.seconds(120)), in: zone), skipTo > next {
                time = skipTo
                continue
            }
            time = next
        }
        return (Self.chosen(passed, catchUp, now), time)
    }

    private static func chosen(_ passed: [Timestamp], _ catchUp: CatchUp, _ now: Timestamp) -> [Timestamp] {
        switch catchUp {
        case .all, .latest: passed
        case .none: passed.filter { now.millisecondsSinceEpoch - $0.millisecondsSinceEpoch < Schedule.onTime.milliseconds }
        }
    }

    /// With `catchUp: .none`, how late a fire time may be enqueued: a worker wakes for each fire
    /// time within milliseconds, so one older than this passed while no worker ran.
    public static let onTime = PlanDuration(milliseconds: 1000)
}

/// How a schedule's time zone is read: by its IANA name, from the system's zone data (the shell
/// supplies it; the store knows no zones).
public typealias ZoneLookup = @Sendable (String) -> (any ZoneOffsets)?

/// What one `fireDueSchedules` did.
public struct ScheduleFiring: Sendable, Hashable {
    public let enqueued: Int
    /// The earliest next fire time of an unpaused schedule.
    public let nextFireAt: Timestamp?

    public init(enqueued: Int, nextFireAt: Timestamp?) {
        self.enqueued = enqueued
        self.nextFireAt = nextFireAt
    }
}
