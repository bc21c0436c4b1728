/// A duration as plans write it: a whole number and a unit, `250ms`, `30s`, `5m`, `2h` or `1d`.
public struct PlanDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The longest duration a plan may name.
    public static let maximum = PlanDuration(milliseconds: 366 * 86_400_000)

    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1),
    ]

    public let milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// Rounds a `Duration` to whole milliseconds.
    public init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Parses duration text; `nil` unless it is digits followed by `ms`, `s`, `m`, `h` or `d`
    /// and no longer than `maximum`.
    public init?(_ text: String) {
        let suffix = text.hasSuffix("ms") ? "ms" : String(text.suffix(1))
        guard let unit = Self.units.first(where: { $0.suffix == suffix }) else { return nil }
        let digits = text.dropLast(unit.suffix.count)
        guard !digits.isEmpty, digits.count <= 12, digits.allSatisfy(\.isASCIIDigit), let count = Int64(digits) else { return nil }
        let (total, overflow) = count.multipliedReportingOverflow(by: unit.milliseconds)
        guard !overflow, total <= Self.maximum.milliseconds else { return nil }
        milliseconds = total
    }

    /// The value as a Swift `Duration`.
    public var duration: Duration { .milliseconds(milliseconds) }

    /// The text in the largest unit that divides it exactly: `90s` → `90s`, `120s` → `2m`.
    public var text: String {
        if milliseconds == 0 { return "0s" }
        let unit = Self.units.first { milliseconds % $0.milliseconds == 0 }!
        return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
    }

    public var description: String { text }

    public static func < (lhs: PlanDuration, rhs: PlanDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
