import Foundation
import Testing

@Suite struct Fairness {
    @Test func aFloodedQueueDoesNotStarveAnother() throws {
        let workspace = Workspace()
        let echo = #"{"id":"s","call":"echo","input":{}}"#
        let flood = (1...200).map { planJSON([echo], #","queue":"flood","idempotency_key":"f\#($0)""#) }
        _ = try workspace.planq("enqueue", "--lines", "-", input: flood.joined(separator: "\n"))
        let other = (1...5).map { planJSON([echo], #","queue":"other","idempotency_key":"o\#($0)""#) }
        _ = try workspace.planq("enqueue", "--lines", "-", input: other.joined(separator: "\n"))
        let worker = try WorkerProcess(workspace, ["--drain", "--concurrency", "2"])
        #expect(worker.waitForExit() == 0, "\(worker.log)")
        let order = try workspace.sqlite3(
            "SELECT j.queue FROM jobs j JOIN job_events e ON e.job_id = j.id AND e.kind = 'claimed' ORDER BY e.id").split(separator: "\n")
        #expect(order.count == 205)
        let lastOther = order.lastIndex(of: "other") ?? order.count
        #expect(lastOther < 20, "the 5 jobs of the second queue were claimed among the first 20, not after 200 floods: \(lastOther)")
    }

    @Test func priorityZeroRunsBeforeNine() throws {
        let workspace = Workspace()
        let echo = #"{"id":"s","call":"echo","input":{}}"#
        for (key, priority) in [("late-9", 9), ("mid-5", 5), ("first-0", 0), ("second-0", 0)] {
            try workspace.enqueue(planJSON([echo], #","priority":\#(priority),"idempotency_key":"\#(key)""#))
        }
        let worker = try WorkerProcess(workspace, ["--drain", "--concurrency", "1"])
        #expect(worker.waitForExit() == 0)
        // In the order of their claims: finish times have millisecond resolution, and these jobs are quicker than that.
        #expect(try workspace.sqlite3("""
            SELECT group_concat(idempotency_key) FROM (SELECT j.idempotency_key FROM jobs j
                JOIN job_events e ON e.job_id = j.id AND e.kind = 'claimed' ORDER BY e.id)
            """) == "first-0,second-0,mid-5,late-9\n")
    }

    @Test func aQueueLimitBoundsThatQueue() throws {
        let workspace = Workspace()
        let step = shellStep("s", "sleep 0.2")
        let plans = (1...6).map { planJSON([step], #","queue":"narrow","idempotency_key":"n\#($0)""#) }
        _ = try workspace.planq("enqueue", "--lines", "-", input: plans.joined(separator: "\n"))
        let worker = try WorkerProcess(workspace, ["--drain", "--concurrency", "8", "--queue", "narrow=2", "--allow-exec", "/bin/sh"])
        var most = 0
        while worker.process.isRunning {
            most = max(most, Int(try workspace.sqlite3("SELECT count(*) FROM jobs WHERE state = 'running'").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
            usleep(20_000)
        }
        #expect(worker.waitForExit() == 0)
        #expect(most == 2)
        #expect(try workspace.sqlite3("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == "6\n")
    }
}
