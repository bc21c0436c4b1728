import ArgumentParser
import Foundation
import PlanCore
import PlanStore
import PlanWorker

/// Plans that enqueue themselves on a calendar.
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Plans that enqueue themselves on a cron or interval calendar, one job per fire time (key schedule:NAME:<UTC time>).",
        discussion: "Any running worker fires due schedules (unless started with --no-schedules).",
        subcommands: [Add.self, ListSchedules.self, ShowSchedule.self, Next.self, Pause.self, Resume.self, Remove.self, Fire.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add a schedule: its plan is validated as enqueue validates one.")
        @Argument(help: "The schedule's name (1-64 of A-Z a-z 0-9 _ - .).") var name: String
        @Argument(help: "The plan file, or - for standard input.") var file = "-"
        @Option(help: "A cron expression: five fields, or six with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly.")
        var cron: String?
        @Option(help: "A fixed interval instead, e.g. 30s or 5m (counted from the Unix epoch).") var every: String?
        @Option(help: "The IANA time zone the cron expression is read in.") var tz = "UTC"
        @Option(help: "After downtime: none skips missed fire times, latest enqueues the most recent, all enqueues each (at most 1,000).")
        var catchUp: Schedule.CatchUp = .latest
        @Option(help: "The queue (overrides the plan's).") var queue: String?
        @Flag(help: "Replace a schedule of this name.") var replace = false
        @Flag(help: "Accept calls of capabilities that are neither built in nor registered by a worker.") var allowUnknown = false
        @OptionGroup var database: DatabaseOption
        @OptionGroup var storage: StorageOptions
        @OptionGroup var output: OutputOption

        func validate() throws {
            guard (cron == nil) != (every == nil) else { throw ValidationError("give either --cron EXPR or --every DURATION") }
            guard name.utf8.count <= 64, !name.isEmpty, name.utf8.allSatisfy({ $0 < 0x80 && (isalnum(Int32($0)) != 0 || "_-.".utf8.contains($0)) }) else {
                throw ValidationError("the name \(name.quoted) is not 1-64 of A-Z a-z 0-9 _ - .")
            }
            if SystemZones.lookup(tz) == nil { throw ValidationError("--tz \(tz.quoted) is not a time zone this system knows (an IANA name such as Europe/Berlin)") }
            if let every, (PlanDuration(every)?.milliseconds ?? 0) < 1000 { throw ValidationError("--every \(every.quoted) is not a duration of at least 1s") }
        }

        func run() async throws {
            let calendar: CalendarSchedule
            if let cron {
                do { calendar = .cron(try CronExpression(cron)) } catch {
                    Console.complain("--cron: \(error)")
                    throw ExitStatus.usage
                }
            } else {
                calendar = .every(PlanDuration(every!)!)
            }
            let store = try await database.open(create: true, storage: storage)
            let bytes = try PlanFile.read(file)
            let known = allowUnknown ? nil : try await PlanFile.knownCapabilities(store)
            let overrides: [JSONKey: JSONValue] = queue.map { ["queue": .string($0)] } ?? [:]
            guard let plan = PlanFile.validate(bytes[...], named: file, overriding: overrides, known: known) else { throw ExitStatus.invalidPlan }
            let now = Timestamp.now()
            let schedule = Schedule(name: name, calendar: calendar, timeZone: tz, catchUp: catchUp, plan: plan,
                                    nextFireAt: calendar.nextFire(after: now, in: SystemZones.lookup(tz)!))
            try await Console.run { try await store.saveSchedule(schedule, replace: replace, now: now) }
            if output.json { Console.printJSON(schedule.json) } else {
                print("schedule \(name) added; next fire \(schedule.nextFireAt.map { "\($0.iso8601) (\(RelativeTime.since($0, now: now)))" } ?? "never")")
            }
        }
    }

    struct ListSchedules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the schedules with their next fire times.")
        @OptionGroup var database: DatabaseOption
        @OptionGroup var output: OutputOption

        func run() async throws {
            let store = try await database.open(create: false)
            let schedules = try await Console.run { try await store.schedules() }
            if output.json { return Console.printJSON(.array(schedules.map(\.json))) }
            let now = Timestamp.now()
            print(Table.render(header: ["NAME", "CALENDAR", "TZ", "CATCH-UP", "STATE", "NEXT", "LAST", "FIRED", "QUEUE"], rows: schedules.map {
                [$0.name, $0.spec.text, $0.timeZone, $0.catchUp.rawValue, $0.paused ? "paused" : "active",
                 $0.nextFireAt.map { RelativeTime.since($0, now: now) } ?? "never", $0.lastFiredAt.map { RelativeTime.since($0, now: now) } ?? "-",
                 String($0.fired), $0.plan.queue]
            }))
        }
    }

    struct ShowSchedule: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one schedule with its plan.")
        @Argument(help: "The schedule.") var name: String
        @OptionGroup var database: DatabaseOption
        @OptionGroup var output: OutputOption

        func run() async throws {
            let schedule = try await ScheduleCommand.find(name, database)
            if output.json { return Console.printJSON(schedule.json) }
            let now = Timestamp.now()
            print("schedule \(schedule.name)  \(schedule.spec.kind) \(schedule.spec.text)  tz \(schedule.timeZone)  catch-up \(schedule.catchUp.rawValue)  \(schedule.paused ? "paused" : "active")")
            print("next \(schedule.nextFireAt.map { "\($0.iso8601) (\(RelativeTime.since($0, now: now)))" } ?? "never")  last \(schedule.lastFiredAt?.iso8601 ?? "-")  fired \(schedule.fired)")
            print("plan \(schedule.plan.canonicalText.printable)")
        }
    }

    struct Next: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "next", abstract: "Print a schedule's next fire times (UTC, and local in its zone).")
        @Argument(help: "The schedule.") var name: String
        @Option(help: "How many.") var count = 5
        @OptionGroup var database: DatabaseOption
        @OptionGroup var output: OutputOption

        func validate() throws {
            guard (1...1000).contains(count) else { throw ValidationError("--count must be from 1 to 1000") }
        }

        func run() async throws {
            let schedule = try await ScheduleCommand.find(name, database)
            let zone = SystemZones.lookup(schedule.timeZone) ?? FixedOffset()
            let times = schedule.calendar.fireTimes(after: .now(), count: count, in: zone)
            if output.json { return Console.printJSON(.array(times.map { .string($0.iso8601) })) }
            for time in times { print("\(time.iso8601)  \(SystemZones.localText(time, zone: schedule.timeZone))") }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop a schedule from firing.")
        @Argument(help: "The schedule.") var name: String
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let store = try await database.open(create: false, write: true)
            try await Console.run { try await store.setSchedulePaused(true, name: name, now: .now()) }
            print("schedule \(name.printable) paused")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resume", abstract: "Let a paused schedule fire again (fire times missed meanwhile follow its catch-up).")
        @Argument(help: "The schedule.") var name: String
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let store = try await database.open(create: false, write: true)
            try await Console.run { try await store.setSchedulePaused(false, name: name, now: .now()) }
            print("schedule \(name.printable) resumed")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Delete a schedule; the jobs it enqueued stay.")
        @Argument(help: "The schedule.") var name: String
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let store = try await database.open(create: false, write: true)
            try await Console.run { try await store.removeSchedule(name) }
            print("schedule \(name.printable) removed")
        }
    }

    struct Fire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fire", abstract: "Enqueue one job of a schedule now; prints the job id.")
        @Argument(help: "The schedule.") var name: String
        @OptionGroup var database: DatabaseOption
        @OptionGroup var output: OutputOption

        func run() async throws {
            let store = try await database.open(create: false, write: true)
            let result = try await Console.run { try await store.fireSchedule(name, now: .now()) }
            if output.json { Console.printJSON(result.json) } else { print(result.id) }
        }
    }

    static func find(_ name: String, _ database: DatabaseOption) async throws -> Schedule {
        let store = try await database.open(create: false)
        guard let schedule = try await Console.run({ try await store.schedules() }).first(where: { $0.name == name }) else {
            throw Console.failure(.scheduleNotFound(name))
        }
        return schedule
    }
}

extension Schedule.CatchUp: ExpressibleByArgument {}

extension Schedule {
    /// The `schedule show --json` document.
    var json: JSONValue {
        ["name": .string(name), "kind": .string(spec.kind), "spec": .string(spec.text), "time_zone": .string(timeZone),
         "catch_up": .string(catchUp.rawValue), "paused": .bool(paused), "next_fire_at": nextFireAt.map { .string($0.iso8601) } ?? .null,
         "last_fired_at": lastFiredAt.map { .string($0.iso8601) } ?? .null, "fired": .integer(Int64(fired)), "plan": plan.json]
    }
}

/// IANA time zones from the system's data, for schedules.
enum SystemZones {
    struct Zone: ZoneOffsets {
        let zone: TimeZone
        func offset(at instant: Int64) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))) }
    }

    /// The zone of this name, or `nil` when the system does not know it.
    @Sendable static func lookup(_ name: String) -> (any ZoneOffsets)? {
        TimeZone(identifier: name).map(Zone.init)
    }

    /// `time` as a local time in the zone: `2026-03-29 03:00:00 CEST`.
    static func localText(_ time: Timestamp, zone name: String) -> String {
        guard let zone = TimeZone(identifier: name) else { return "" }
        let seconds = time.millisecondsSinceEpoch / 1000
        let local = CivilTime(secondsSinceEpoch: seconds + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))))
        let two = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        let abbreviation = zone.abbreviation(for: Date(timeIntervalSince1970: TimeInterval(seconds))) ?? name
        return "\(local.year)-\(two(local.month))-\(two(local.day)) \(two(local.hour)):\(two(local.minute)):\(two(local.second)) \(abbreviation)"
    }
}
