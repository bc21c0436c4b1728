import CSQLite
import Logging
@testable import PlanStore
@testable import PlanWorker
import Testing

/// Collects log lines in memory.
private struct CapturingHandler: LogHandler {
    let lines: Locked<[String]>
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { lines.withLock { $0.append("\(event.level) \(event.message)") } }
}

@Suite struct FaultHealthLog {
    @Test func aFaultIsLoggedOnceHoweverManyStatementsMeetItAndItsEndOnce() {
        let lines = Locked<[String]>([])
        let logger = Logger(label: "test") { _ in CapturingHandler(lines: lines) }
        var health = FaultHealth()
        var pauses: [Duration] = []
        for attempt in 0..<200 {
            let sql = ["COMMIT", "UPDATE jobs SET lease_expires_at = ?", "INSERT INTO step_results"][attempt % 3]
            pauses.append(health.failed(.sqlite(SQLiteError(code: SQLITE_FULL, message: "database or disk is full", sql: sql)),
                                        doing: "claim", logger: logger))
        }
        #expect(lines.withLock { $0 } == ["error store fault; backing off"])
        #expect(pauses.prefix(3) == [.milliseconds(10), .milliseconds(20), .milliseconds(40)])
        #expect(pauses.last == .seconds(5))
        #expect(health.status?.hasPrefix("store fault (200 failures") == true)
        _ = health.failed(.sqlite(SQLiteError(code: SQLITE_BUSY, message: "database is locked", sql: "BEGIN IMMEDIATE")), doing: "claim", logger: logger)
        #expect(lines.withLock { $0.count } == 2, "a different fault is logged")
        health.succeeded(logger: logger)
        health.succeeded(logger: logger)
        #expect(lines.withLock { $0 } == ["error store fault; backing off", "error store fault; backing off", "notice store recovered"])
        #expect(health.isHealthy && health.status == nil)
    }
}
