import Foundation
import PlanCore
import PropertyBased
import Testing

/// A zone's offsets as the system's time zone data gives them.
private struct SystemZone: ZoneOffsets {
    let zone: TimeZone
    init(_ identifier: String) { zone = TimeZone(identifier: identifier)! }
    func offset(at instant: Int64) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))) }
}

/// The same offsets as a table of transitions, found by scanning a span hour by hour and narrowing
/// each change to the second: what the reference steps through cheaply.
private struct TransitionTable: ZoneOffsets {
    let starts: [Int64]
    let offsets: [Int]

    init(_ zone: SystemZone, from start: Int64, to end: Int64) {
        var starts = [start], offsets = [zone.offset(at: start)]
        var instant = start
        while instant < end {
            let next = instant + 3600
            if zone.offset(at: next) != offsets.last! {
                var (low, high) = (instant, next)
                while high - low > 1 {
                    let middle = (low + high) / 2
                    if zone.offset(at: middle) == offsets.last! { low = middle } else { high = middle }
                }
                starts.append(high)
                offsets.append(zone.offset(at: high))
            }
            instant = next
        }
        self.starts = starts
        self.offsets = offsets
    }

    func offset(at instant: Int64) -> Int {
        var index = 0
        while index + 1 < starts.count && starts[index + 1] <= instant { index += 1 }
        return offsets[index]
    }

    /// The transitions, after the first entry.
    var transitions: [Int64] { Array(starts.dropFirst()) }
}

/// The fire times in (`start`, `end`] by the definition, stepping minute by minute: an instant
/// fires when a matching local minute lies after every local time shown before it and at or before
/// the one shown at it.
private func referenceFires(_ cron: CronExpression, zone: some ZoneOffsets, from start: Int64, to end: Int64) -> [Int64] {
    var fires: [Int64] = []
    let first = (start - 86_400) / 60 * 60
    var latest = first + Int64(zone.offset(at: first))
    for instant in stride(from: first + 60, through: end, by: 60) {
        let local = instant + Int64(zone.offset(at: instant))
        guard local > latest else { continue }
        var minute = (latest / 60 + 1) * 60
        while minute <= local {
            if cron.matches(CivilTime(secondsSinceEpoch: minute)) {
                if instant > start { fires.append(instant) }
                break
            }
            minute += 60
        }
        latest = local
    }
    return fires
}

private func computedFires(_ cron: CronExpression, zone: some ZoneOffsets, from start: Int64, to end: Int64) -> [Int64] {
    var fires: [Int64] = []
    var last = Timestamp(millisecondsSinceEpoch: start * 1000)
    while let next = CalendarSchedule.cron(cron).nextFire(after: last, in: zone), next.millisecondsSinceEpoch <= end * 1000 {
        fires.append(next.millisecondsSinceEpoch / 1000)
        last = next
    }
    return fires
}

private let year2026 = (start: Int64(1_767_225_600), end: Int64(1_798_761_600))  // 2026-01-01 to 2027-01-01 UTC
private let zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]

@Suite struct CronExpressions {
    @Test func fieldsNamesRangesStepsListsAndMacros() throws {
        let cron = try CronExpression("*/15 9-17 * JAN-mar,dec mon-FRI")
        #expect(cron.minutes == [0, 15, 30, 45] && cron.hours == Set(9...17) && cron.months == [1, 2, 3, 12] && cron.daysOfWeek == Set(1...5))
        let hourly = try CronExpression("@hourly"), spelled = try CronExpression("0 * * * *")
        #expect([hourly.seconds, hourly.minutes, hourly.hours, hourly.daysOfMonth] == [spelled.seconds, spelled.minutes, spelled.hours, spelled.daysOfMonth])
        #expect(try CronExpression("@daily").description == "@daily")
        #expect(try CronExpression("0 0 * * 7").daysOfWeek == [0], "7 is Sunday")
        #expect(try CronExpression("5/20 * * * *").minutes == [5, 25, 45])
        #expect(try CronExpression("*/10 * * * * *").seconds == [0, 10, 20, 30, 40, 50], "six fields: seconds first")
        for bad in ["* * * *", "60 * * * *", "* * * * * * *", "5-1 * * * *", "*/0 * * * *", "@often", "* * * foo *", "1,,2 * * * *"] {
            #expect(throws: CronExpression.ParseError.self, "\(bad)") { try CronExpression(bad) }
        }
        let error = try #require(throws: CronExpression.ParseError.self) { try CronExpression("0 25 * * *") }
        #expect(error.description == #"hour field "25": "25" is not 0-23"#)
    }

    @Test func dayOfMonthAndDayOfWeekCombineAsVixieCronDoes() throws {
        // 2026-03-01 is a Sunday. Both restricted: either matches. One starting with *: both must.
        let either = try CronExpression("0 0 13 * 5")
        let fridays13 = try CronExpression("0 0 */1 * 5")
        let utc = FixedOffset()
        let march = Timestamp(rfc3339: "2026-03-01T00:00:00Z")!
        let first = CalendarSchedule.cron(either).fireTimes(after: march, count: 3, in: utc).map(\.iso8601)
        #expect(first == ["2026-03-06T00:00:00.000Z", "2026-03-13T00:00:00.000Z", "2026-03-20T00:00:00.000Z"])
        #expect(CalendarSchedule.cron(fridays13).fireTimes(after: march, count: 2, in: utc).map(\.iso8601)
                == ["2026-03-06T00:00:00.000Z", "2026-03-13T00:00:00.000Z"])
        #expect(CalendarSchedule.cron(try CronExpression("0 0 30 2 *")).nextFire(after: march, in: utc) == nil, "never")
    }

    @Test func civilTimeMatchesTheSystemCalendar() async {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        await propertyCheck(input: Gen.int(in: -5_000_000_000...5_000_000_000)) { seconds in
            let civil = CivilTime(secondsSinceEpoch: Int64(seconds))
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday],
                                                from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            #expect([civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second, civil.weekday + 1]
                    == [parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second, parts.weekday])
        }
    }
}

@Suite struct FireTimes {
    @Test func aSkippedLocalTimeFiresOnceAfterTheGapAndARepeatedOneOnce() throws {
        let berlin = SystemZone("Europe/Berlin")
        let daily = CalendarSchedule.cron(try CronExpression("30 2 * * *"))
        // Spring forward: 2026-03-29 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
        let spring = daily.fireTimes(after: Timestamp(rfc3339: "2026-03-28T00:00:00Z")!, count: 3, in: berlin).map(\.iso8601)
        #expect(spring == ["2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"],
                "02:30 CET, then 03:00 CEST (the first instant after the gap), then 02:30 CEST")
        // Fall back: 2026-10-25 03:00 CEST becomes 02:00 CET; 02:30 comes twice and fires once.
        let autumn = daily.fireTimes(after: Timestamp(rfc3339: "2026-10-24T00:00:00Z")!, count: 3, in: berlin).map(\.iso8601)
        #expect(autumn == ["2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"])
        // Every minute through the repeated hour: each local minute once.
        let minutes = CalendarSchedule.cron(try CronExpression("* 2 25 10 *"))
            .fireTimes(after: Timestamp(rfc3339: "2026-10-24T23:00:00Z")!, count: 61, in: berlin)
        #expect(minutes[0].iso8601 == "2026-10-25T00:00:00.000Z" && minutes[59].iso8601 == "2026-10-25T00:59:00.000Z")
        #expect(minutes[60].iso8601 == "2027-10-25T00:00:00.000Z", "the repeated hour does not fire again; next year's does")
    }

    @Test func intervalsCountFromTheEpoch() {
        let every = CalendarSchedule.every(PlanDuration("15m")!)
        let times = every.fireTimes(after: Timestamp(rfc3339: "2026-03-29T00:07:12.5Z")!, count: 2, in: SystemZone("Europe/Berlin"))
        #expect(times.map(\.iso8601) == ["2026-03-29T00:15:00.000Z", "2026-03-29T00:30:00.000Z"])
    }

    /// A year in several zones: the computed fire times equal the minute-by-minute reference.
    @Test(arguments: zones)
    func aYearOfFireTimesEqualsTheReference(zone identifier: String) throws {
        let zone = SystemZone(identifier)
        let table = TransitionTable(zone, from: year2026.start - 2 * 86_400, to: year2026.end + 86_400)
        for text in ["30 2 * * *", "0,15,45 1-3 * * 0", "0 */5 1,15 * mon"] {
            let cron = try CronExpression(text)
            let computed = computedFires(cron, zone: zone, from: year2026.start, to: year2026.end)
            #expect(computed == referenceFires(cron, zone: table, from: year2026.start, to: year2026.end), "\(text) in \(identifier)")
        }
    }

    /// Random expressions around every transition of the year, and at random days, in several zones.
    @Test func randomExpressionsAroundTransitionsEqualTheReference() async throws {
        let tables = zones.map { ($0, SystemZone($0), TransitionTable(SystemZone($0), from: year2026.start - 2 * 86_400, to: year2026.end + 86_400)) }
        let field = { (choices: [String]) in Gen.element(of: choices).map { $0! } }
        await propertyCheck(count: 60, input: field(["0", "30", "*/15", "5,35", "*", "59"]), field(["*", "2", "1-3", "*/6", "0,2,4", "23"]),
                            field(["*", "1", "*/10", "25-31"]), field(["*", "sun", "1-5", "6"]), Gen.int(in: 0...364)) { minute, hour, day, weekday, randomDay in
            let cron = try CronExpression("\(minute) \(hour) \(day) * \(weekday)")
            for (identifier, zone, table) in tables {
                let windows = table.transitions.map { $0 - 2 * 86_400 } + [year2026.start + Int64(randomDay) * 86_400]
                for start in windows {
                    let end = start + 4 * 86_400
                    #expect(computedFires(cron, zone: zone, from: start, to: end) == referenceFires(cron, zone: table, from: start, to: end),
                            "\(cron) in \(identifier) from \(start)")
                }
            }
        }
    }
}
