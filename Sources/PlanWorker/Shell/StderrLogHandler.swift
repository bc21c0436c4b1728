import Glibc
import Logging
import PlanCore
import PlanStore

/// One line per event on stderr: `TIME LEVEL message key=value ...` (an RFC 3339 UTC time, left
/// out when systemd's `JOURNAL_STREAM` says stderr goes to the journal, which stamps each line and
/// reads the `<3>` ... `<7>` priority prefix written instead), or one JSON object per line with
/// `format: .json`. Control characters and bidirectional overrides are escaped (`\u001b`).
public struct StderrLogHandler: LogHandler {
    /// How a line is written.
    public enum Format: String, Sendable, CaseIterable {
        /// `TIME LEVEL message key=value ...`
        case text
        /// `{"at": TIME, "level": ..., "message": ..., "label": ..., key: value ...}`, for log shippers.
        case json
    }

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let journald: Bool
    private let format: Format
    private let label: String

    public init(label: String, format: Format = .text, journald: Bool = getenv("JOURNAL_STREAM") != nil) {
        self.label = label
        self.format = format
        self.journald = journald
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = journald ? "<\(Self.priority(event.level))>" : ""
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        switch format {
        case .text:
            if !journald { line += Timestamp.now().iso8601 + " " }
            line += "\(event.level.rawValue.uppercased()) \(event.message)"
            for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
            // Messages and metadata may quote a plan: no control character reaches the terminal or journal.
            line = line.printable
        case .json:
            var members: [JSONKey: JSONValue] = ["at": .string(Timestamp.now().iso8601), "level": .string(event.level.rawValue),
                                                 "message": .string("\(event.message)"), "label": .string(label)]
            for (key, value) in merged where members[JSONKey(key)] == nil { members[JSONKey(key)] = .string("\(value)") }
            line += JSONValue.object(members).canonicalText.printable
        }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }  // one write per line
    }

    /// The syslog priority journald reads from a `<N>` prefix.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
