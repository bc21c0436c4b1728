import Foundation
import Glibc
import Testing

/// `planq worker --metrics` and `planq stats --prometheus`, read with Prometheus's own Python text
/// parser and held against the database.
@Suite struct MetricsTests {
    /// One sample: a metric's name, its labels, its value.
    struct Sample: Decodable {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    /// Parses Prometheus text (from `url`, or from stdin) with `prometheus_client`'s parser.
    static func parse(url: String? = nil, text: String = "") throws -> [Sample] {
        let script = """
            import json, sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            text = urllib.request.urlopen(sys.argv[1]).read().decode() if len(sys.argv) > 1 else sys.stdin.read()
            print(json.dumps([{"name": s.name, "labels": s.labels, "value": s.value}
                              for family in text_string_to_metric_families(text) for s in family.samples]))
            """
        let outcome = try Planq.run(["python3", "-c", script] + (url.map { [$0] } ?? []), program: URL(fileURLWithPath: "/usr/bin/env"), input: text)
        guard outcome.status == 0 else { throw ParseFailure(message: outcome.stderr) }
        return try JSONDecoder().decode([Sample].self, from: Data(outcome.stdout.utf8))
    }

    struct ParseFailure: Error { let message: String }

    /// The sum of the samples named `name` whose labels include `labels`.
    static func sum(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }.map(\.value).reduce(0, +)
    }

    @Test func aScrapeDuringARunParsesAndAgreesWithTheDatabaseOnceItEnds() async throws {
        let workspace = Workspace()
        // The jobs of the default queue hold their worker until the test says go: the scrape during
        // the run sees them running, however slowly this test is scheduled.
        let go = workspace.path("go")
        let slow = #"{"id":"a","call":"echo","input":1},"# + shellStep("b", "while [ ! -e \(go) ]; do sleep 0.05; done")
        for index in 1...16 { try workspace.enqueue(planJSON([slow], #","idempotency_key":"ok\#(index)""#)) }
        for index in 1...4 {
            try workspace.enqueue(planJSON([#"{"id":"a","call":"fail","input":{"code":"boom","message":"no","retryable":false}}"#],
                                           #","idempotency_key":"bad\#(index)""#))
        }
        for index in 1...3 {
            try workspace.enqueue(planJSON([#"{"id":"a","call":"fail","input":{"code":"flaky","message":"later","retryable":true}}"#],
                                           #","idempotency_key":"flaky\#(index)","retry":{"max_attempts":2,"initial":"10ms","jitter":"none"}"#))
        }
        for index in 1...3 { try workspace.enqueue(planJSON([slow], #","queue":"held","idempotency_key":"held\#(index)""#)) }
        #expect(try await workspace.planq("queue", "pause", "held").status == 0)

        let worker = try WorkerProcess(workspace, ["--metrics", "127.0.0.1:0", "--concurrency", "4", "--allow-exec", "/bin/sh"])
        var address = ""
        #expect(await eventually { address = worker.log.firstMatch(of: #/address=(http://127\.0\.0\.1:[0-9]+/metrics)/#).map { String($0.1) } ?? ""; return !address.isEmpty })
        // During the run: the text parses, and this worker runs at most its concurrency.
        #expect(await eventually { (try? workspace.count("SELECT count(*) FROM jobs WHERE state = 'running'")) == 4 })
        let during = try Self.parse(url: address)
        #expect(Self.sum(during, "planq_running_jobs") == 4)
        #expect(Self.sum(during, "planq_queue_jobs", ["queue": "default", "state": "running"]) == 4)
        #expect(Self.sum(during, "planq_store_up") == 1)
        _ = FileManager.default.createFile(atPath: go, contents: nil)

        #expect(try await eventually { try workspace.count("SELECT count(*) FROM jobs WHERE state IN ('succeeded', 'failed')") == 23 })
        // The end of the last run is counted a moment after it commits.
        var after: [Sample] = []
        #expect(try await eventually { after = try Self.parse(url: address); return Self.sum(after, "planq_job_runs_total") == 26 })

        #expect(Self.sum(after, "planq_jobs_claimed_total") == Double(try workspace.count("SELECT count(*) FROM job_events WHERE kind = 'claimed'")))
        for (outcome, sql) in [("succeeded", "SELECT count(*) FROM jobs WHERE state = 'succeeded'"),
                               ("failed", "SELECT count(*) FROM jobs WHERE state = 'failed'"),
                               ("retried", "SELECT count(*) FROM job_events WHERE kind = 'retry_scheduled'")] {
            #expect(Self.sum(after, "planq_job_runs_total", ["outcome": outcome]) == Double(try workspace.count(sql)), "\(outcome)")
        }
        #expect(Self.sum(after, "planq_job_runs_total", ["outcome": "succeeded"]) == 16)
        #expect(Self.sum(after, "planq_job_runs_total", ["outcome": "retried"]) == 3)
        for outcome in ["ok", "error"] {
            #expect(Self.sum(after, "planq_step_executions_total", ["outcome": outcome])
                == Double(try workspace.count("SELECT count(*) FROM step_results WHERE outcome = '\(outcome)'")), "\(outcome)")
        }
        #expect(Self.sum(after, "planq_step_executions_total", ["capability": "process.run", "outcome": "ok"]) == 16)
        #expect(Self.sum(after, "planq_step_duration_seconds_count", ["capability": "process.run"]) == 16)
        #expect(Self.sum(after, "planq_step_duration_seconds_sum", ["capability": "process.run"]) > 0)
        #expect(Self.sum(after, "planq_job_run_duration_seconds_count") == 26)
        #expect(Self.sum(after, "planq_running_jobs") == 0)
        #expect(Self.sum(after, "planq_store_commit_operations_count") > 0)
        #expect(Self.sum(after, "planq_store_commit_operations_sum") >= Self.sum(after, "planq_store_commit_operations_count"))
        // The queue figures, read from the store at the scrape.
        #expect(Self.sum(after, "planq_queue_jobs", ["queue": "held", "state": "pending"]) == 3)
        #expect(Self.sum(after, "planq_queue_jobs", ["queue": "default", "state": "succeeded"]) == 16)
        #expect(Self.sum(after, "planq_queue_paused", ["queue": "held"]) == 1)
        #expect(Self.sum(after, "planq_queue_oldest_due_age_seconds", ["queue": "held"]) > 0)
        #expect(Self.sum(after, "planq_queue_oldest_due_age_seconds", ["queue": "default"]) == 0)

        // stats --prometheus prints the same queue figures.
        let printed = try await workspace.planq("stats", "--prometheus")
        #expect(printed.status == 0, "\(printed.stderr)")
        let textfile = try Self.parse(text: printed.stdout)
        for (queue, state) in [("held", "pending"), ("default", "succeeded"), ("default", "failed")] {
            let labels = ["queue": queue, "state": state]
            #expect(Self.sum(textfile, "planq_queue_jobs", labels) == Self.sum(after, "planq_queue_jobs", labels), "\(labels)")
        }
        #expect(Self.sum(textfile, "planq_queue_paused", ["queue": "held"]) == 1)
        #expect(!textfile.contains { $0.name.hasPrefix("planq_job") })

        let elsewhere = try await Planq.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", address.replacingOccurrences(of: "/metrics", with: "/")],
                                      program: URL(fileURLWithPath: "/usr/bin/env"))
        #expect(elsewhere.stdout == "404")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit() == 0)
    }

    @Test func aMetricsAddressThatIsWrongOrTakenIsRefused() throws {
        let workspace = Workspace()
        let wrong = try workspace.planq("worker", "--metrics", "localhost:http")
        #expect(wrong.status == 64 && wrong.stderr.contains("--metrics \"localhost:http\" is not HOST:PORT"), "\(wrong.stderr)")
        let first = try WorkerProcess(workspace, ["--metrics", "127.0.0.1:0"])
        var port = ""
        #expect(eventually { port = first.log.firstMatch(of: #/127\.0\.0\.1:([0-9]+)/metrics/#).map { String($0.1) } ?? ""; return !port.isEmpty })
        let taken = try workspace.planq("worker", "--metrics", "127.0.0.1:\(port)")
        #expect(taken.status == 69 && taken.stderr.contains("cannot serve metrics on 127.0.0.1:\(port)"), "\(taken.stderr)")
        first.signal(SIGTERM)
        #expect(first.waitForExit() == 0)
    }
}
