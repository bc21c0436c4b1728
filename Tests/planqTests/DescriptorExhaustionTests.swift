import Foundation
import Glibc
import Testing

/// A worker whose descriptors run out (a low limit, a flood of clients on its metrics port) slows
/// down and recovers: no job fails for good, no step runs twice, no live worker's lease is taken.
@Suite struct DescriptorExhaustion {
    /// `count` jobs of three steps: a side effect by `process.run`, an `http.request`, another side effect.
    private func enqueueJobs(_ count: Int, from first: Int = 1, in workspace: Workspace, port: Int) throws {
        let log = workspace.path("effects.log")
        let lines = (first..<(first + count)).map { index in
            planJSON([shellStep("a", "echo j\(index)/a >> \(log); sleep 0.2"),
                      #"{"id":"b","call":"http.request","input":{"url":"http://127.0.0.1:\#(port)/ok"}}"#,
                      shellStep("c", "echo j\(index)/c >> \(log)")], #","idempotency_key":"j\#(index)""#)
        }
        #expect(try Planq.run(["enqueue", "--lines", "-", "--db", workspace.db], input: lines.joined(separator: "\n")).status == 0)
    }

    /// Every job succeeded with each side effect and request once, and no lease was taken back.
    private func expectNothingLostOrRepeated(_ jobs: Int, in workspace: Workspace, workers: [WorkerProcess]) throws {
        #expect(try workspace.sqlite3("SELECT state || ' ' || count(*) FROM jobs GROUP BY state") == "succeeded \(jobs)\n")
        let effects = workspace.read("effects.log").split(separator: "\n")
        #expect(effects.count == 2 * jobs && Set(effects).count == 2 * jobs, "each side effect once: \(effects.count) lines")
        let requests = workspace.read("requests.log").split(separator: "\n")
        #expect(requests.count == jobs && Set(requests).count == jobs, "each request once: \(requests.count) requests")
        #expect(try workspace.sqlite3("SELECT count(*) FROM step_results WHERE outcome = 'error'") == "0\n", "no step failed")
        #expect(try workspace.sqlite3("SELECT count(*) FROM job_events WHERE kind = 'lease_expired'") == "0\n")
        for worker in workers {
            #expect(!worker.log.contains("lease of a dead worker recovered") && !worker.log.contains("expired lease recovered"))
            let crash = worker.log.ranges(of: "Fatal error").first.map { String(worker.log[$0.lowerBound...].prefix(6000)) }
            #expect(crash == nil, "\(crash ?? "")")
        }
    }

    @Test func aWorkerWithFewDescriptorsSlowsDownButLosesAndRepeatsNothing() async throws {
        let workspace = Workspace()
        let server = try TestHTTPServer(log: workspace.path("requests.log"))
        try enqueueJobs(48, in: workspace, port: server.port)
        let starved = try WorkerProcess(workspace, ["--drain", "--concurrency", "16", "--allow-exec", "/bin/sh"], launcher: ["prlimit", "--nofile=64:64"])
        #expect(await eventually { starved.log.contains("resources fault; backing off") }, "the limit is low enough to be met: \(starved.log.suffix(2000))")
        // Another worker, with descriptors to spare, beside it: its leases are live and must stay its own.
        let beside = try WorkerProcess(workspace, ["--drain", "--concurrency", "2", "--allow-exec", "/bin/sh"])
        #expect(await starved.waitForExit(timeout: .seconds(180)) == 0, "\(starved.log.suffix(3000))")
        #expect(await beside.waitForExit(timeout: .seconds(60)) == 0, "\(beside.log.suffix(3000))")
        #expect(starved.log.contains("Too many open files (errno 24)"), "the fault names EMFILE")
        try expectNothingLostOrRepeated(48, in: workspace, workers: [starved, beside])
    }

    @Test func thousandsOfIdleMetricsConnectionsLeaveTheWorkerWhole() async throws {
        let workspace = Workspace()
        let server = try TestHTTPServer(log: workspace.path("requests.log"))
        let worker = try WorkerProcess(workspace, ["--metrics", "127.0.0.1:0", "--concurrency", "16", "--allow-exec", "/bin/sh"],
                                       launcher: ["prlimit", "--nofile=256:256"])
        defer { worker.signal(SIGKILL) }
        var address = ""
        #expect(await eventually { address = worker.log.firstMatch(of: #/address=http://127\.0\.0\.1:([0-9]+)/metrics/#).map { String($0.1) } ?? ""; return !address.isEmpty })
        let flood = Process()
        flood.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        flood.arguments = ["python3", Planq.repository.appendingPathComponent("Tests/planqTests/Fixtures/hold_connections.py").path, "127.0.0.1", address, "3000"]
        let floodOutput = workspace.path("flood.out")
        _ = FileManager.default.createFile(atPath: floodOutput, contents: nil)
        flood.standardOutput = FileHandle(forWritingAtPath: floodOutput)
        flood.standardError = FileHandle(forWritingAtPath: floodOutput)
        let floodInput = Pipe()
        flood.standardInput = floodInput
        try flood.run()
        #expect(await eventually { workspace.read("flood.out").contains("holding 3000") }, "\(workspace.read("flood.out"))")
        try enqueueJobs(48, in: workspace, port: server.port)
        #expect(await eventually(timeout: .seconds(120)) { (try? workspace.sqlite3("SELECT count(*) FROM jobs WHERE state = 'succeeded'")) == "48\n" },
                "\(worker.log.suffix(3000))")
        // Connections over the limit are closed as they come, not held: the flood's 3,000 are closed many times over.
        #expect(await eventually { workspace.read("flood.out").matches(of: #/closed ([0-9]+)/#).compactMap { Int($0.1) }.last ?? 0 > 3000 },
                "\(workspace.read("flood.out"))")
        try floodInput.fileHandleForWriting.close()
        flood.waitUntilExit()
        // After the flood: the metrics answer and the worker runs at full speed again.
        var scrape = ""
        #expect(await eventually {
            let fetched = try? Planq.run(["python3", "-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())",
                                          "http://127.0.0.1:\(address)/metrics"], program: URL(fileURLWithPath: "/usr/bin/env"))
            scrape = fetched.map { $0.stderr } ?? "no python"
            return fetched?.stdout.contains("planq_store_up 1") ?? false
        }, "\(scrape)\n\(worker.log.suffix(2000))")
        try enqueueJobs(48, from: 49, in: workspace, port: server.port)
        #expect(await eventually(timeout: .seconds(60)) { (try? workspace.sqlite3("SELECT count(*) FROM jobs WHERE state = 'succeeded'")) == "96\n" })
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit() == 0, "alive throughout: \(worker.log.suffix(2000))")
        try expectNothingLostOrRepeated(96, in: workspace, workers: [worker])
    }

    @Test func hostileRequestsToTheMetricsPortGetA4xxOrAClosedConnection() async throws {
        let workspace = Workspace()
        let worker = try WorkerProcess(workspace, ["--metrics", "127.0.0.1:0"])
        defer { worker.signal(SIGKILL) }
        var port = ""
        #expect(await eventually { port = worker.log.firstMatch(of: #/address=http://127\.0\.0\.1:([0-9]+)/metrics/#).map { String($0.1) } ?? ""; return !port.isEmpty })
        let outcome = try await Planq.run(["python3", Planq.repository.appendingPathComponent("Tests/planqTests/Fixtures/hostile_http.py").path, "127.0.0.1", port],
                                    program: URL(fileURLWithPath: "/usr/bin/env"))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let results = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: [Any]] ?? [:]
        func code(_ name: String) -> String { results[name]?.first as? String ?? "missing" }
        func seconds(_ name: String) -> Double { results[name]?[1] as? Double ?? -1 }
        func answers(_ name: String) -> Int { results[name]?[2] as? Int ?? -1 }
        #expect(code("long_request_line") == "431" && code("many_headers") == "431")
        #expect(code("pipelined") == "200" && answers("pipelined") == 1, "one answer, then the connection closes")
        #expect(code("post") == "405")
        #expect(code("dot_dot") == "404" && code("encoded_dot_dot") == "404")
        #expect(code("garbage") == "400")
        for name in ["slowloris", "never_ends", "silent"] {
            #expect(code(name) == "closed" && seconds(name) >= 4.5 && seconds(name) < 8, "\(name): \(results[name] ?? [])")
        }
        #expect(code("after") == "200")
        try workspace.enqueue(planJSON([#"{"id":"a","call":"echo","input":1}"#]))
        #expect(await eventually { (try? workspace.sqlite3("SELECT state FROM jobs")) == "succeeded\n" }, "the worker runs on")
    }
}
