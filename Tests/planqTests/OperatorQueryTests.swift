import Foundation
import PlanCore
import PlanStore
import Testing

/// The `sqlite3` queries the README gives operators run against a real database and show what they promise.
@Suite struct OperatorQueries {
    /// The ```sql blocks of the README's "Operator queries" section, in order.
    static func readmeQueries() throws -> [String] {
        let readme = try String(contentsOf: Planq.repository.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "## Operator queries") else { return [] }
        let section = readme[start.upperBound...].prefix { _ in true }
        let end = section.range(of: "\n## ")?.lowerBound ?? section.endIndex
        return section[..<end].components(separatedBy: "```sql\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
    }

    @Test func theReadmeQueriesWork() async throws {
        let workspace = Workspace()
        #expect(try await workspace.planq("enqueue", "Examples/welcome.json").status == 0)
        #expect(try await workspace.planq("enqueue", "Examples/flaky.json").status == 0)
        let store = try SQLiteStore(StoreOptions(path: workspace.db, create: false))
        let job = try await store.claim([("default", 1)], owner: .current(), lease: .seconds(30))[0]
        let error = ErrInfo(code: "unavailable", message: "upstream answered 503", retryable: false)
        try await job.beginStep("prepare", attempt: 1)
        try await job.recordStep("prepare", attempt: 1, outcome: .success(["ready": true]))
        try await job.beginStep("upstream", attempt: 1)
        try await job.recordStep("upstream", attempt: 1, outcome: .failure(error))
        try await job.finish(.failed(error))

        let plan = try PlanDescription.decode(Array(#"{"version":1,"steps":[{"id":"a","call":"echo"}]}"#.utf8), newKey: { "nightly" })
        try await store.saveSchedule(Schedule(name: "nightly", calendar: .cron(try CronExpression("30 2 * * *")), timeZone: "Europe/Berlin",
                                              plan: plan, nextFireAt: Timestamp(rfc3339: "2026-12-02T01:30:00Z")), replace: false, now: .now())
        _ = try await store.fireSchedule("nightly", now: .now())
        try await store.setRate(QueueRate("100/1m")!, queue: "default")
        let more = try await store.enqueue([try PlanDescription.decode(Array(#"{"version":1,"steps":[{"id":"a","call":"echo"}]}"#.utf8), newKey: { "rated" })])
        _ = try await store.claim([("default", 10)], owner: .current(), lease: .seconds(30))
        #expect(more[0].created)

        let queries = try Self.readmeQueries()
        #expect(queries.count == 7)
        let outputs = try queries.map { try workspace.sqlite3($0) }
        #expect(outputs[0] == "failed|1\npending|1\nrunning|2\n", "the welcome job pending; the schedule's and the rated one started")
        #expect(outputs[1].contains("|enqueued|") && outputs[1].contains("|step_failed|") && outputs[1].contains("|failed|"))
        #expect(outputs[2] == "2|example/flaky-upstream|default|unavailable|upstream answered 503\n")
        #expect(outputs[3].contains("prepare|1|ok|") && outputs[3].contains("upstream|1|error|unavailable"))
        #expect(outputs[4] == "default|100|60000|2\n", "the rated job and the schedule's started: \(outputs[4])")
        #expect(outputs[5].wholeMatch(of: #/emails\|1\|[0-9]+\.[0-9]\n/#) != nil, "the welcome job waits, due: \(outputs[5].debugDescription)")
        #expect(outputs[6] == "nightly|cron|30 2 * * *|Europe/Berlin|2026-12-02T01:30:00.000Z|1|1\n", "\(outputs[6])")
    }
}
