import Foundation
import Glibc
import PlanCore
import PlanPostgres
import PlanStore
import Testing

/// `Fixtures/pg_uncommitted_proxy.py` between planq and the test server: the first statement
/// matching `pattern` is answered by the server without being committed, then both connections
/// are cut (what a backend told to quit does after it answered and before it committed).
final class UncommittedProxy {
    let process = Process()
    let output: String
    let port: Int

    init(_ workspace: Workspace, server: String, pattern: String) async throws {
        let upstream = try PostgresURL(server)
        let output = workspace.path("proxy-\(UUID().uuidString.prefix(8)).out")
        self.output = output
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Planq.repository.appendingPathComponent("Tests/planqTests/Fixtures/pg_uncommitted_proxy.py").path,
                             upstream.host, String(upstream.port), pattern]
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = FileHandle(forWritingAtPath: output)
        try process.run()
        var port = 0
        _ = await eventually(timeout: .seconds(10)) {
            port = Self.read(output).firstMatch(of: #/listening ([0-9]+)/#).flatMap { Int($0.1) } ?? 0
            return port != 0
        }
        guard port != 0 else { throw ServerDatabase.Failure("the proxy did not start: \(Self.read(output))") }
        self.port = port
    }

    /// `database`'s URL through the proxy.
    func url(_ database: ServerDatabase) -> String {
        database.url().replacing(#/@[^/]+//#, with: "@127.0.0.1:\(port)/")
    }

    /// The statement cut, once it was.
    var cut: String? { Self.read(output).firstMatch(of: #/cut (.*)/#).map { String($0.1) } }

    private static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

extension PostgresCommandTests {
    /// A run's write the server answered but never committed: the call must not report it done.
    enum UncommittedWrite: String, CaseIterable, CustomTestStringConvertible {
        case stepStart, heartbeat, runEnd

        var pattern: String {
            switch self {
            case .stepStart: #"^WITH ok AS [\s\S]*last AS \(INSERT INTO step_results"#
            case .heartbeat: #"UPDATE jobs SET lease_expires_at = \$1"#
            case .runEnd: #"UPDATE jobs SET state = \$[0-9]+, result ="#
            }
        }

        var testDescription: String { rawValue }
    }

    @Test(arguments: UncommittedWrite.allCases)
    func aWriteAnsweredButNeverCommittedIsNotReportedDone(_ write: UncommittedWrite) async throws {
        let database = try ServerDatabase()
        let workspace = Workspace()
        let proxy = try await UncommittedProxy(workspace, server: database.server, pattern: write.pattern)
        let store = try await PostgresStore.connect(try PostgresURL(proxy.url(database)), migrate: true)
        let plan = try PlanDescription.decode(Array(#"{"version":1,"steps":[{"id":"a","call":"echo"}]}"#.utf8), newKey: { "cut" })
        _ = try await store.enqueue([plan])
        let owner = LeaseOwner(host: "host-a", bootID: "boot-a", pid: 41, pidStart: 1)
        _ = try await store.registerWorker(WorkerRegistration(owner: owner, queues: nil, concurrency: 1, capabilities: ["echo"]), now: .now())
        let lease = try #require(try await store.claim([("default", 1)], owner: owner, lease: .seconds(60)).first)
        if write != .stepStart { try await lease.beginStep("a", attempt: 1) }

        // The write, and what the server holds of it afterwards (read directly, not through the proxy).
        var reported = "refused"
        switch write {
        case .stepStart:
            do { try await lease.beginStep("a", attempt: 1); reported = "done" } catch {}
        case .heartbeat:
            do { reported = try await lease.heartbeat(duration: .seconds(3600)).leaseHeld ? "done" : "refused" } catch {}
        case .runEnd:
            // The step's result and the run's end in one write, as a worker's last step ends.
            let result = RunWrite.stepFinished("a", attempt: 1, outcome: .success(.null), at: .now())
            do { try await lease.finish(.succeeded(.null), after: [result]); reported = "done" } catch {}
        }
        #expect(await eventually(timeout: .seconds(10)) { proxy.cut != nil }, "the proxy cut the \(write) statement")
        let held: String
        switch write {
        case .stepStart:
            held = try ServerDatabase.psql(database.url(), "SELECT count(*) FROM step_results WHERE step_id = 'a'") == "1\n" ? "done" : "refused"
        case .heartbeat:
            held = try ServerDatabase.psql(database.url(), "SELECT count(*) FROM jobs WHERE lease_expires_at > now() + interval '30 minutes'") == "1\n" ? "done" : "refused"
        case .runEnd:
            held = try ServerDatabase.psql(database.url(), "SELECT state FROM jobs") == "succeeded\n" ? "done" : "refused"
        }
        await store.close()
        #expect(reported == held, "reported \(reported), the server holds \(held) (cut: \(proxy.cut ?? "nothing"))")
        #expect(held == "refused", "the proxy kept the statement from committing")
    }
}
