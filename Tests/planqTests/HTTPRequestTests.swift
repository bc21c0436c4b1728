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
}
