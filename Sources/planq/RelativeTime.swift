import PlanCore
import PlanStore

/// Times and durations for people: `3m ago`, `in 20s`, `1.2s`. JSON output keeps absolute UTC.
enum RelativeTime {
    /// A duration in milliseconds: `850ms`, `1.2s`, `42s`, `3m 5s`, `2h 10m`, `3d 4h`.
    static func duration(milliseconds: Int64) -> String {
        let ms = max(0, milliseconds)
        if ms < 1000 { return "\(ms)ms" }
        if ms < 10_000 { return "\(ms / 1000).\(ms % 1000 / 100)s" }
        let seconds = ms / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" + (seconds % 60 == 0 ? "" : " \(seconds % 60)s") }
        if seconds < 86_400 { return "\(seconds / 3600)h" + (seconds % 3600 / 60 == 0 ? "" : " \(seconds % 3600 / 60)m") }
        return "\(seconds / 86_400)d" + (seconds % 86_400 / 3600 == 0 ? "" : " \(seconds % 86_400 / 3600)h")
    }

    /// `time` seen from `now`: `3m ago`, `in 20s`, or `now` within a second; stored text that is
    /// not a time is shown as it is.
    static func since(_ time: String, now: Timestamp) -> String {
        guard let at = Timestamp(rfc3339: time) else { return time }
        return since(at, now: now)
    }

    static func since(_ at: Timestamp, now: Timestamp) -> String {
        let delta = now.millisecondsSinceEpoch - at.millisecondsSinceEpoch
        if abs(delta) < 1000 { return "now" }
        // Whole units only: "1m 5s ago" reads worse than "1m ago" in a table.
        let text = duration(milliseconds: abs(delta)).split(separator: " ")[0]
        return delta > 0 ? "\(text) ago" : "in \(text)"
    }

    /// The time between two stored times, or `nil` when either is missing.
    static func between(_ start: String?, _ end: String?) -> String? {
        guard let start = start.flatMap(Timestamp.init(rfc3339:)), let end = end.flatMap(Timestamp.init(rfc3339:)) else { return nil }
        return duration(milliseconds: end.millisecondsSinceEpoch - start.millisecondsSinceEpoch)
    }
}
