/// A cron expression as Vixie cron reads it: five fields (minute, hour, day of month, month, day of
/// week) or six with a leading seconds field, each `*`, a number or name, a range `a-b`, a step
/// (`*/n`, `a-b/n`, `a/n`), or a list of those; or `@hourly`, `@daily` (`@midnight`), `@weekly`,
/// `@monthly`, `@yearly` (`@annually`). Day of month and day of week combine as in Vixie cron:
/// when both are restricted a day matching either fires, when one starts with `*` both must match.
/// Pure: it knows nothing of time zones (`CalendarSchedule` maps it onto instants).
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    public let seconds: Set<Int>
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let daysOfMonth: Set<Int>
    public let months: Set<Int>
    /// 0 (Sunday) to 6; 7 is read as 0.
    public let daysOfWeek: Set<Int>
    let dayOfMonthStar: Bool
    let dayOfWeekStar: Bool
    public let description: String

    /// Why `text` is not a cron expression, field by field.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(_ text: String) throws(ParseError) {
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        let expanded = trimmed.hasPrefix("@") ? Self.macros[trimmed.lowercased()] : trimmed
        guard let expanded else {
            throw ParseError(description: "\(text.quoted) is not one of @yearly, @monthly, @weekly, @daily, @hourly")
        }
        var fields = expanded.split(separator: " ").map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw ParseError(description: "\(text.quoted) has \(fields.count) fields; a cron expression has five (minute hour day-of-month month day-of-week) or six (seconds first)")
        }
        if fields.count == 5 { fields.insert("0", at: 0) }
        seconds = try Self.field(fields[0], name: "seconds", range: 0...59)
        minutes = try Self.field(fields[1], name: "minute", range: 0...59)
        hours = try Self.field(fields[2], name: "hour", range: 0...23)
        daysOfMonth = try Self.field(fields[3], name: "day of month", range: 1...31)
        months = try Self.field(fields[4], name: "month", range: 1...12, names: Self.monthNames, firstName: 1)
        daysOfWeek = Set(try Self.field(fields[5], name: "day of week", range: 0...7, names: Self.dayNames, firstName: 0).map { $0 % 7 })
        dayOfMonthStar = fields[3].hasPrefix("*")
        dayOfWeekStar = fields[5].hasPrefix("*")
        description = trimmed
    }

    /// One field: a list of `*`, `N`, `A-B`, each with an optional `/STEP`.
    private static func field(_ text: String, name: String, range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0)
        throws(ParseError) -> Set<Int>
    {
        func value(_ token: Substring) throws(ParseError) -> Int {
            if let number = Int(token), range.contains(number) { return number }
            if let index = names.firstIndex(of: token.lowercased()) { return index + firstName }
            throw ParseError(description: "\(name) field \(String(text).quoted): \(String(token).quoted) is not \(range.lowerBound)-\(range.upperBound)\(names.isEmpty ? "" : " or a name")")
        }
        var result = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else {
                throw ParseError(description: "\(name) field \(text.quoted): \(String(part).quoted) is not N, A-B, * or one of them with /STEP")
            }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1, parsed <= range.upperBound else {
                    throw ParseError(description: "\(name) field \(text.quoted): the step \(String(pieces[1]).quoted) is not a number from 1 to \(range.upperBound)")
                }
                step = parsed
            }
            let bounds: ClosedRange<Int>
            if pieces[0] == "*" {
                bounds = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                let (low, high) = (try value(pieces[0][..<dash]), try value(pieces[0][pieces[0].index(after: dash)...]))
                guard low <= high else { throw ParseError(description: "\(name) field \(text.quoted): the range \(String(pieces[0]).quoted) runs backwards") }
                bounds = low...high
            } else {
                let start = try value(pieces[0])
                bounds = start...(pieces.count == 2 ? range.upperBound : start)
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    /// Whether a civil day matches the day-of-month, month and day-of-week fields.
    public func matchesDay(_ day: CivilTime) -> Bool {
        guard months.contains(day.month) else { return false }
        let dom = daysOfMonth.contains(day.day), dow = daysOfWeek.contains(day.weekday)
        return dayOfMonthStar || dayOfWeekStar ? dom && dow : dom || dow
    }

    /// Whether a civil time matches every field.
    public func matches(_ time: CivilTime) -> Bool {
        matchesDay(time) && hours.contains(time.hour) && minutes.contains(time.minute) && seconds.contains(time.second)
    }

    /// The first civil time after `after` (in seconds since 1970-01-01T00:00:00 of the civil
    /// calendar) that matches, looking at most `years` ahead; `nil` when none does (`30 2 31 2 *`).
    public func nextMatch(after: Int64, years: Int = 5) -> Int64? {
        let start = after + 1
        var day = start.floorDivided(by: 86_400)
        let lastDay = day + Int64(years) * 366
        let (sortedHours, sortedMinutes, sortedSeconds) = (hours.sorted(), minutes.sorted(), seconds.sorted())
        while day <= lastDay {
            let civil = CivilTime(secondsSinceEpoch: day * 86_400)
            if matchesDay(civil) {
                let base = day * 86_400
                for hour in sortedHours where base + Int64(hour) * 3600 + 3599 >= start {
                    for minute in sortedMinutes where base + Int64(hour) * 3600 + Int64(minute) * 60 + 59 >= start {
                        for second in sortedSeconds {
                            let time = base + Int64(hour) * 3600 + Int64(minute) * 60 + Int64(second)
                            if time >= start { return time }
                        }
                    }
                }
            }
            day += 1
        }
        return nil
    }
}

/// A time on the civil (proleptic Gregorian) calendar, without a zone.
public struct CivilTime: Sendable, Hashable {
    public let year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
    /// 0 (Sunday) to 6.
    public let weekday: Int

    /// The civil time `seconds` after 1970-01-01T00:00:00 (days from civil, after Howard Hinnant).
    public init(secondsSinceEpoch seconds: Int64) {
        let days = seconds.floorDivided(by: 86_400)
        let rest = Int(seconds - days * 86_400)
        hour = rest / 3600
        minute = rest % 3600 / 60
        second = rest % 60
        weekday = Int((days + 4).floorModulo(7))  // 1970-01-01 was a Thursday
        let shifted = days + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
    }
}

extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    func floorModulo(_ divisor: Int64) -> Int64 { self - floorDivided(by: divisor) * divisor }
}
