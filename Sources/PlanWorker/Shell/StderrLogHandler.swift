import Glibc
import Logging
import PlanCore

/// One line per event on stderr: `LEVEL message key=value ...`, with a journald priority prefix
/// (`<3>` ... `<7>`) when systemd's `JOURNAL_STREAM` says stderr goes to the journal. Control
/// characters and bidirectional overrides are escaped (`\u001b`).
public struct StderrLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let journald: Bool

    public init(label: String, journald: Bool = getenv("JOURNAL_STREAM") != nil) {
        self.journald = journald
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = journald ? "<\(Self.priority(event.level))>" : ""
        line += "\(event.level.rawValue.uppercased()) \(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
        // Messages and metadata may quote a plan: no control character reaches the terminal or journal.
        line = line.printable + "\n"
        let bytes = Array(line.utf8)
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
