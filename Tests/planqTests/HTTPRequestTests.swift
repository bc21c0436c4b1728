import Foundation
import Glibc
import Testing

/// The test HTTP server (Python, on 127.0.0.1), stopped when released.
final class TestHTTPServer {
    let process = Process()
    let port: Int

    init(log: String) throws {
        let portFile = log + ".port"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Planq.repository.appendingPathComponent("Tests/planqTests/Fixtures/http_server.py").path, log, portFile]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        _ = eventually(timeout: .seconds(20)) { FileManager.default.fileExists(atPath: portFile) }
        port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) } ?? 0
    }

    deinit {
        // SIGKILL: a child may inherit a signal mask that blocks SIGTERM from the test runner's thread.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite struct HTTPRequestCapability {
    @Test func sendsTheIdempotencyKeyRetries5xxAndFailsOn4xx() throws {
        let workspace = Workspace()
        let server = try TestHTTPServer(log: workspace.path("requests.log"))
        #expect(server.port > 0)
        let base = "http://127.0.0.1:\(server.port)"
        let retry = #","retry":{"max_attempts":4,"backoff":"fixed","initial":"100ms","jitter":"none"}"#
        let ok = try workspace.enqueue(planJSON([#"{"id":"get","call":"http.request","input":{"url":"\#(base)/ok"}}"#], #","idempotency_key":"ok-job""#))
        let flaky = try workspace.enqueue(planJSON([#"{"id":"get","call":"http.request","input":{"url":"\#(base)/flaky/a"}}"#], #","idempotency_key":"flaky-job""# + retry))
        let missing = try workspace.enqueue(planJSON([#"{"id":"get","call":"http.request","input":{"url":"\#(base)/missing"}}"#], #","idempotency_key":"missing-job""# + retry))
        let worker = try WorkerProcess(workspace, ["--drain"])
        #expect(worker.waitForExit() == 0, "\(worker.log)")

        #expect(try workspace.state(ok) == "succeeded")
        #expect(try workspace.sqlite3("SELECT result ->> '$.status', result ->> '$.body.hello' FROM jobs WHERE id = \(ok)") == "200|world\n")
        #expect(try workspace.state(flaky) == "succeeded")
        #expect(try workspace.sqlite3("SELECT count(*) FROM step_results WHERE job_id = \(flaky)") == "3\n")
        #expect(try workspace.state(missing) == "failed")
        #expect(try workspace.sqlite3("SELECT count(*) FROM step_results WHERE job_id = \(missing)") == "1\n")
        #expect(try workspace.sqlite3("SELECT last_error ->> '$.code', last_error ->> '$.details.status' FROM jobs WHERE id = \(missing)") == "http_status|404\n")

        let requests = workspace.read("requests.log").split(separator: "\n").map(String.init)
        #expect(requests.contains("/ok ok-job/get"))
        #expect(requests.filter { $0 == "/flaky/a flaky-job/get" }.count == 3, "the same key on every attempt")
        #expect(requests.filter { $0.hasPrefix("/missing") } == ["/missing missing-job/get"])
    }

    @Test func aJobsTraceparentReachesItsCallsWithASpanPerExecution() throws {
        let workspace = Workspace()
        let server = try TestHTTPServer(log: workspace.path("requests.log"))
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let caller = "00-\(trace)-00f067aa0ba902b7-01"
        let plan = planJSON([#"{"id":"get","call":"http.request","input":{"url":"http://127.0.0.1:\#(server.port)/ok"}}"#,
                             shellStep("run", "echo $TRACEPARENT")], #","idempotency_key":"traced""#)
        let id = try workspace.enqueue(plan, "--traceparent", caller)
        #expect(try workspace.sqlite3("SELECT plan ->> '$.traceparent' FROM jobs") == "\(caller)\n", "stored with the plan")
        let bad = try workspace.planq("enqueue", "-", "--traceparent", "00-nope", input: plan)
        #expect(bad.status == 65 && bad.stderr.contains("traceparent: \"00-nope\" is not a W3C traceparent"), "\(bad.stderr)")
        let worker = try WorkerProcess(workspace, ["--drain", "--allow-exec", "/bin/sh"])
        #expect(worker.waitForExit() == 0, "\(worker.log)")
        #expect(try workspace.state(id) == "succeeded")
        let sent = workspace.read("requests.log").split(separator: " ").last.map { String($0.dropFirst("traceparent=".count)).trimmingCharacters(in: .whitespacesAndNewlines) }
        let passed = try workspace.sqlite3("SELECT output ->> '$.stdout' FROM step_results WHERE step_id = 'run'").trimmingCharacters(in: .whitespacesAndNewlines)
        for header in [sent ?? "", passed] {
            let parts = header.split(separator: "-").map(String.init)
            #expect(parts.count == 4 && parts[0] == "00" && parts[1] == trace && parts[3] == "01", "the caller's trace: \(header)")
            #expect(parts.count == 4 && parts[2].count == 16 && parts[2] != "00f067aa0ba902b7", "a span of the step's own: \(header)")
        }
        #expect(sent != passed, "each execution its own span")

        // planq run passes the caller's trace on to its command too.
        let ran = try workspace.planqRun("--traceparent", caller, "--", "/bin/sh", "-c", "echo $TRACEPARENT")
        #expect(ran.status == 0, "\(ran.stderr)")
        let refused = try workspace.planqRun("--traceparent", "00-nope", "--", "/bin/true")
        #expect(refused.status == 65 && refused.stderr.contains("is not a W3C traceparent"), "\(refused.stderr)")
        #expect(try WorkerProcess(workspace, ["--drain", "--allow-exec", "/bin/sh"]).waitForExit() == 0)
        let echoed = try workspace.sqlite3("SELECT output ->> '$.stdout' FROM step_results WHERE job_id = \(ran.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(echoed.hasPrefix("00-\(trace)-") && !echoed.contains("00f067aa0ba902b7"), "\(echoed)")
    }
}
