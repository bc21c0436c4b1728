import Foundation
import PlanBench
import PlanCore
import PlanPostgres
import PlanStore
import Testing

/// A database on the test server (`PLANQ_TEST_POSTGRES`, started by `make test`), dropped at the end.
final class ServerDatabase {
    let server: String
    let name: String
    /// The database's URL for `user` (the server's superuser by default).
    func url(user: String? = nil) -> String {
        var base = String(server[..<server.lastIndex(of: "/")!])
        if let user { base = base.replacingOccurrences(of: "://planq@", with: "://\(user)@") }
        return base + "/" + name
    }

    init(name: String = "planq_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12), owner: String? = nil) throws {
        guard let server = ProcessInfo.processInfo.environment["PLANQ_TEST_POSTGRES"] else {
            throw Failure("PLANQ_TEST_POSTGRES is not set: run the tests with make test (or scripts/with-postgres swift test)")
        }
        self.server = server
        self.name = name
        try Self.psql(server, "CREATE DATABASE \(name)" + (owner.map { " OWNER \($0)" } ?? ""))
    }

    deinit { _ = try? Self.psql(server, "DROP DATABASE \(name) WITH (FORCE)") }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs `sql` with psql (unaligned, tuples only, stopping at the first error); its output.
    @discardableResult
    static func psql(_ url: String, _ sql: String) throws -> String {
        let outcome = try Planq.run(["psql", url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], program: URL(fileURLWithPath: "/usr/bin/env"))
        guard outcome.status == 0 else { throw Failure("psql: \(outcome.stderr)") }
        return outcome.stdout
    }
}

@Suite struct PostgresCommandTests {
    /// The ```sql blocks of a README section, up to the next heading.
    static func readmeBlocks(after heading: String) throws -> [String] {
        let readme = try String(contentsOf: Planq.repository.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: heading + "\n") else { return [] }
        let section = readme[start.upperBound...]
        let end = section.range(of: "\n#")?.lowerBound ?? section.endIndex
        return section[..<end].components(separatedBy: "```sql\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
    }

    @Test func theReadmePsqlQueriesWork() async throws {
        let database = try ServerDatabase()
        let workspace = Workspace()
        #expect(try workspace.planqOn(database.url(), "enqueue", "Examples/welcome.json").status == 0)
        #expect(try workspace.planqOn(database.url(), "enqueue", "Examples/flaky.json").status == 0)
        let store = try await PostgresStore.connect(try PostgresURL(database.url()), migrate: false)
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
        _ = try await store.enqueue([try PlanDescription.decode(Array(#"{"version":1,"steps":[{"id":"a","call":"echo"}]}"#.utf8), newKey: { "rated" })])
        _ = try await store.claim([("default", 10)], owner: .current(), lease: .seconds(30))
        await store.close()

        let queries = try Self.readmeBlocks(after: "### Operator queries in psql")
        #expect(queries.count == 7)
        let outputs = try queries.map { try ServerDatabase.psql(database.url(), $0) }
        #expect(outputs[0] == "failed|1\npending|1\nrunning|2\n", "\(outputs[0])")
        #expect(outputs[1].contains("|enqueued|") && outputs[1].contains("|step_failed|") && outputs[1].contains("|failed|"))
        #expect(outputs[2] == "2|example/flaky-upstream|default|unavailable|upstream answered 503\n")
        #expect(outputs[3].contains("prepare|1|ok|") && outputs[3].contains("upstream|1|error|unavailable"))
        #expect(outputs[4] == "default|100|60000|2\n", "\(outputs[4])")
        #expect(outputs[5].wholeMatch(of: #/emails\|1\|[0-9]+\.[0-9]\n/#) != nil, "\(outputs[5].debugDescription)")
        #expect(outputs[6] == "nightly|cron|30 2 * * *|Europe/Berlin|2026-12-02 01:30:00+00|1|1\n", "\(outputs[6])")
    }

    @Test func anOperatorRoleEnqueuesAndReadsButCannotRunOrChangeJobs() throws {
        let server = try ServerDatabase(name: "planq_roles_probe")
        let roles = try Self.readmeBlocks(after: "## PostgreSQL")
        #expect(roles.count == 2)
        // The README's first block, as a superuser; its database is this test's.
        try ServerDatabase.psql(server.server, roles[0].replacingOccurrences(of: "CREATE DATABASE planq OWNER planq_worker;\n", with: ""))
        defer { _ = try? ServerDatabase.psql(server.server, "DROP DATABASE IF EXISTS planq_roles WITH (FORCE); DROP ROLE IF EXISTS planq_operator; DROP ROLE IF EXISTS planq_worker") }
        let database = try ServerDatabase(name: "planq_roles", owner: "planq_worker")
        let workspace = Workspace()
        let worker = database.url(user: "planq_worker"), reader = database.url(user: "planq_operator")
        #expect(try workspace.planqOn(worker, "migrate").status == 0)
        try ServerDatabase.psql(worker, roles[1])

        let enqueued = try workspace.planqOn(reader, "enqueue", "Examples/welcome.json")
        #expect(enqueued.status == 0 && enqueued.stdout == "1\n", "\(enqueued.stderr)")
        #expect(try workspace.planqOn(reader, "list").stdout.contains("example/welcome-ada"))
        let cancel = try workspace.planqOn(reader, "cancel", "1")
        #expect(cancel.status != 0 && cancel.stderr.contains("permission denied"), "\(cancel.stderr)")
        let refused = try workspace.planqOn(reader, "worker", "--drain")
        #expect(refused.status != 0 && refused.stderr.contains("permission denied"), "\(refused.stderr)")

        let ran = try workspace.planqOn(worker, "worker", "--drain")
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(try workspace.planqOn(reader, "show", "1").stdout.contains("state succeeded"))
    }

    /// The password comes from the URL, the systemd credential or a PGPASSFILE line, the
    /// credential before the file; without one, or with a wrong one, the command says so and exits
    /// 69. No output shows it, a worker's debug log included.
    @Test func aPasswordComesFromTheURLTheCredentialOrAPassfileAndIsNeverShown() throws {
        let database = try ServerDatabase()
        let workspace = Workspace()
        #expect(try workspace.planqOn(database.url(), "migrate").status == 0)
        let password = try #require(ProcessInfo.processInfo.environment["PLANQ_TEST_POSTGRES_PASSWORD"],
                                    "run the tests with make test (scripts/with-postgres makes the role planq_password)")
        let url = database.url(user: "planq_password")
        let address = try PostgresURL(url)
        // HOME is the workspace: the machine's own ~/.pgpass plays no part.
        let home = ["HOME": workspace.folder.path]
        func stats(_ url: String, _ environment: [String: String] = [:]) throws -> Planq.Outcome {
            try Planq.run(["stats", "--db", url], environment: home.merging(environment) { _, new in new })
        }
        func withPassword(_ secret: String) -> String { url.replacingOccurrences(of: "://planq_password@", with: "://planq_password:\(secret)@") }

        let none = try stats(url)
        #expect(none.status == 69 && none.stderr.contains("the server asks for a password and none was given"), "\(none.stderr)")
        // A worker is refused too: a missing password is not a server out of reach to wait for.
        let noPasswordWorker = try Planq.run(["20", Planq.binary.path, "worker", "--db", url], program: URL(fileURLWithPath: "/usr/bin/timeout"),
                                             environment: home)
        #expect(noPasswordWorker.status == 69, "\(noPasswordWorker.stderr)")
        let wrongSecret = "wrong-\(UUID().uuidString)"
        let wrong = try stats(withPassword(wrongSecret))
        #expect(wrong.status == 69 && wrong.stderr.contains("password authentication failed"), "\(wrong.stderr)")
        #expect(!(wrong.stdout + wrong.stderr).contains(wrongSecret))
        #expect(try stats(withPassword(password)).status == 0)

        let passfile = workspace.write("pgpass", """
            \(address.host):\(address.port):another_database:planq_password:not-this-one
            *:\(address.port):\(address.database):planq_password:\(password)

            """)
        let fromFile = try stats(url, ["PGPASSFILE": passfile])
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        let credentials = workspace.folder.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try Data((password + "\n").utf8).write(to: credentials.appendingPathComponent("planq-db-password"))
        let wrongFile = workspace.write("wrong-pgpass", "*:*:*:*:\(wrongSecret)\n")
        let fromCredential = try stats(url, ["CREDENTIALS_DIRECTORY": credentials.path, "PGPASSFILE": wrongFile])
        #expect(fromCredential.status == 0, "\(fromCredential.stderr)")

        let worker = try Planq.run(["worker", "--drain", "--verbose", "--db", withPassword(password)], environment: home)
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(worker.stderr.contains("database=\(address)"), "the log names the database: \(worker.stderr)")
        for outcome in [none, noPasswordWorker, wrong, fromFile, fromCredential, worker] {
            #expect(!(outcome.stdout + outcome.stderr).contains(password))
        }
    }

    /// `sslmode` in the URL: `require` encrypts every connection (the role here may log in only
    /// over TLS), `verify-full` also checks the certificate, which no authority signed here.
    @Test func tlsIsUsedWhenTheURLAsksForItAndVerifyFullChecksTheCertificate() throws {
        let database = try ServerDatabase()
        let workspace = Workspace()
        #expect(try workspace.planqOn(database.url(), "migrate").status == 0)
        let url = database.url(user: "planq_tls")
        let plain = try workspace.planqOn(url, "stats")
        #expect(plain.status == 69 && plain.stderr.contains("no encryption"), "\(plain.stderr)")
        let encrypted = url + "?sslmode=require"
        #expect(try workspace.planqOn(encrypted, "enqueue", "Examples/welcome.json").status == 0)
        let worker = try workspace.planqOn(encrypted, "worker", "--drain")
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(try workspace.planqOn(encrypted, "show", "1").stdout.contains("state succeeded"))
        let verified = try workspace.planqOn(url + "?sslmode=verify-full", "stats")
        #expect(verified.status == 69 && verified.stderr.contains("the TLS handshake failed: CERTIFICATE_VERIFY_FAILED"), "\(verified.stderr)")
        // A worker stops on it too, rather than waiting for a server that is there.
        let unverifiedWorker = try Planq.run(["20", Planq.binary.path, "worker", "--db", url + "?sslmode=verify-full"],
                                             program: URL(fileURLWithPath: "/usr/bin/timeout"))
        #expect(unverifiedWorker.status == 69, "\(unverifiedWorker.stderr)")
    }

    /// `PLANQ_DB` selects the server as `--db` does; the server's migrations are checksummed as the
    /// file's are: a command that migrates refuses an applied one edited, or one this binary does
    /// not know, by name (exit 1, as on SQLite).
    @Test func planqDBSelectsTheServerAndEditedOrUnknownMigrationsAreRefused() throws {
        let database = try ServerDatabase()
        let workspace = Workspace()
        let enqueued = try Planq.run(["enqueue", "Examples/welcome.json"], environment: ["PLANQ_DB": database.url()])
        #expect(enqueued.status == 0 && enqueued.stdout == "1\n", "\(enqueued.stderr)")
        #expect(try ServerDatabase.psql(database.url(), "SELECT idempotency_key FROM jobs") == "example/welcome-ada\n")

        let original = try ServerDatabase.psql(database.url(), "SELECT checksum FROM schema_migrations WHERE version = 1")
            .trimmingCharacters(in: .newlines)
        try ServerDatabase.psql(database.url(), "UPDATE schema_migrations SET checksum = '0000000000000000' WHERE version = 1")
        let edited = try workspace.planqOn(database.url(), "migrate")
        #expect(edited.status == 1 && edited.stderr.contains("migration postgres/0001_init.sql was changed after it was applied"), "\(edited.stderr)")
        try ServerDatabase.psql(database.url(), "UPDATE schema_migrations SET checksum = '\(original)' WHERE version = 1")
        #expect(try workspace.planqOn(database.url(), "migrate").status == 0)
        try ServerDatabase.psql(database.url(), "INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 'x', now())")
        let future = try workspace.planqOn(database.url(), "worker", "--drain")
        #expect(future.status == 1 && future.stderr.contains("newer than this binary"), "\(future.stderr)")
    }

    /// The README's backup: `pg_dump -Fc` of a database mid-life, restored by `pg_restore` into a
    /// new one, reads the same history and goes on: the job pending at the backup runs, and new
    /// history takes places after the restored ones.
    @Test func aBackupByPgDumpRestoresTheHistoryAndGoesOn() throws {
        let original = try ServerDatabase(), restored = try ServerDatabase()
        let workspace = Workspace()
        let env = URL(fileURLWithPath: "/usr/bin/env")
        #expect(try workspace.planqOn(original.url(), "enqueue", "Examples/welcome.json").status == 0)
        #expect(try workspace.planqOn(original.url(), "worker", "--drain").status == 0)
        #expect(try workspace.planqOn(original.url(), "enqueue", "--key", "pending-at-the-backup", "Examples/welcome.json").stdout == "2\n")
        let dump = workspace.path("planq.dump")
        let dumped = try Planq.run(["pg_dump", "-Fc", "-f", dump, original.url()], program: env)
        #expect(dumped.status == 0, "\(dumped.stderr)")
        let restore = try Planq.run(["pg_restore", "--no-owner", "-d", restored.url(), dump], program: env)
        #expect(restore.status == 0, "\(restore.stderr)")

        let history = "SELECT job_id, event_id, kind FROM job_history ORDER BY event_id"
        #expect(try ServerDatabase.psql(restored.url(), history) == ServerDatabase.psql(original.url(), history))
        let lastPlace = try ServerDatabase.psql(restored.url(), "SELECT max(event_id) FROM job_history")
        let ran = try workspace.planqOn(restored.url(), "worker", "--drain")
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(try workspace.planqOn(restored.url(), "show", "2").stdout.contains("state succeeded"))
        let newer = "SELECT count(*) FILTER (WHERE event_id <= \(lastPlace.trimmingCharacters(in: .newlines))), count(*) FROM job_history WHERE job_id = 2 AND kind <> 'enqueued'"
        #expect(try ServerDatabase.psql(restored.url(), newer) == "0|10\n", "the new events follow the restored ones")
    }

    @Test func jobsEnqueuedByAnotherProcessStartAtOnceInAWorkerWaitingOnTheServer() async throws {
        let database = try ServerDatabase()
        let workspace = Workspace()
        let worker = try WorkerProcess(workspace, ["--db", database.url()])
        #expect(await eventually { worker.log.contains("wakeups=store changes") })
        // Five jobs, 300 ms apart: a worker polling every second would start them half a second
        // late on average; woken by NOTIFY, each starts within milliseconds of its commit.
        for index in 1...5 {
            let enqueued = try workspace.planqOn(database.url(), "enqueue", "-", input: planJSON([#"{"id":"a","call":"echo","input":1}"#], #","idempotency_key":"n\#(index)""#))
            #expect(enqueued.status == 0, "\(enqueued.stderr)")
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(await eventually(timeout: .seconds(10)) { (try? ServerDatabase.psql(database.url(), "SELECT count(*) FROM jobs WHERE state = 'succeeded'")) == "5\n" })
        let latencies = try ServerDatabase.psql(database.url(), """
            SELECT round(extract(epoch FROM c.at - e.at) * 1000) FROM job_events e JOIN job_events c ON c.job_id = e.job_id AND c.kind = 'claimed'
            WHERE e.kind = 'enqueued' ORDER BY 1
            """).split(separator: "\n").compactMap { Double($0) }
        #expect(latencies.count == 5 && latencies[2] < 250, "enqueue to claim, ms: \(latencies)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit() == 0)
        let history = try ServerDatabase.psql(database.url(), "SELECT kind FROM job_history WHERE idempotency_key = 'n1' ORDER BY event_id")
        #expect(history == "enqueued\nclaimed\nstep_started\nstep_succeeded\nsucceeded\n", "\(history)")
    }

    @Test func aWorkerWhoseSessionEndsIsRecoveredAtOnceFromAnotherHostAndFindsItsLeaseGone() async throws {
        let database = try ServerDatabase()
        let url = try PostgresURL(database.url())
        let plan = try PlanDescription.decode(Array(#"{"version":1,"steps":[{"id":"a","call":"echo"}]}"#.utf8), newKey: { "far" })
        let setup = try await PostgresStore.connect(url, migrate: true)
        _ = try await setup.enqueue([plan])
        await setup.close()
        // Worker A on one host, B on another: neither can look at the other's processes.
        let hostA = LeaseOwner(host: "host-a", bootID: "boot-a", pid: 41, pidStart: 1)
        let hostB = LeaseOwner(host: "host-b", bootID: "boot-b", pid: 42, pidStart: 1)
        let a = try await PostgresStore.connect(url, migrate: false)
        let b = try await PostgresStore.connect(url, migrate: false)
        _ = try await a.registerWorker(WorkerRegistration(owner: hostA, queues: nil, concurrency: 1, capabilities: ["echo"]), now: .now())
        let lease = try #require(try await a.claim([("default", 1)], owner: hostA, lease: .seconds(300)).first)
        #expect(try await b.recoverDeadOwners(me: hostB) == [], "A's session is alive")

        // A's session ends (as when its process is killed or its host is lost and the server gives up on it).
        let locked = """
            SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = \(0x706C_6E71) AND granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """
        let session = try ServerDatabase.psql(database.url(), locked).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!session.isEmpty)
        try ServerDatabase.psql(database.url(), "SELECT pg_terminate_backend(\(session))")
        #expect(try await b.recoverDeadOwners(me: hostB) == [lease.jobID], "recovered long before its 300 s lease ends")
        let reason = try ServerDatabase.psql(database.url(), "SELECT detail->>'reason' FROM job_events WHERE kind = 'lease_expired'")
        #expect(reason == "the database session of worker host-a/41 ended\n")

        // A connects again (taking its session lock first) and learns it lost the job; its writes are refused.
        #expect(try await lease.heartbeat(duration: .seconds(30)).leaseHeld == false)
        let refused = await #expect(throws: StoreError.self) { try await lease.beginStep("a", attempt: 1) }
        #expect(refused.map { "\($0)" } == "\(StoreError.leaseLost(lease.id))")
        let relocked = try ServerDatabase.psql(database.url(), locked).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!relocked.isEmpty && relocked != session, "the new session holds A's lock")
        #expect(try await b.recoverDeadOwners(me: hostB) == [])
        await a.close()
        await b.close()
    }
}

@Suite struct PostgresBenchCommand {
    /// Not a timing test: the bench runs in a tiny configuration on the test server and reports every figure.
    @Test func runsSmallAndPrintsEveryKey() async throws {
        let server = try #require(ProcessInfo.processInfo.environment["PLANQ_TEST_POSTGRES"], "make test starts the server")
        let outcome = try await Planq.run(["bench", "--db", server, "--jobs", "20", "--wakeups", "3", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let figures = try JSONParser.parse(outcome.stdout).objectValue ?? [:]
        #expect(Set(figures.keys.map(\.text)) == Set(PostgresBenchmark.keys + ["database"]))
        for key in PostgresBenchmark.keys {
            if case .number(let value)? = figures[JSONKey(key)] { #expect(value > 0, "\(key)") } else { Issue.record("\(key) is not a number") }
        }
        #expect(try ServerDatabase.psql(server, "SELECT count(*) FROM pg_database WHERE datname LIKE 'planq_bench_%'") == "0\n", "its databases are dropped")
    }
}

@Suite struct CopyCommandTests {
    @Test func aDatabaseMovedMidLifeFinishesItsJobsOnTheOtherSideWithNoStepRunTwice() async throws {
        let workspace = Workspace()
        let log = workspace.path("effects.log")
        // Each job: a step, a pause, then a side effect that appends the job's key once per run of that step.
        // The pauses make the whole 12 s at concurrency 2, so that a busy machine still stops it mid-way.
        for index in 1...24 {
            let plan = planJSON([#"{"id":"a","call":"echo","input":\#(index)}"#, #"{"id":"b","call":"sleep","input":{"for":"1s"}}"#,
                                 shellStep("c", "echo j\(index) >> \(log)")], #","idempotency_key":"j\#(index)""#)
            try workspace.enqueue(plan)
        }
        let first = try WorkerProcess(workspace, ["--concurrency", "2", "--allow-exec", "/bin/sh"])
        #expect(try await eventually { try workspace.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'") >= 4 })
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0)
        let done = try workspace.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'")
        #expect(done < 24, "mid-life: some jobs are still to run")
        let events = try workspace.sqlite3("SELECT event_id || ' ' || kind FROM job_history ORDER BY event_id")

        let database = try ServerDatabase()
        let copied = try await Planq.run(["copy", "--from", workspace.db, "--to", database.url()])
        #expect(copied.status == 0 && copied.stdout.hasPrefix("copied "), "\(copied.stderr)")
        let again = try await Planq.run(["copy", "--from", workspace.db, "--to", database.url()])
        #expect(again.status == 1 && again.stderr.contains("writes only into an empty database"), "\(again.stderr)")
        // The history came over as it was: the same positions and kinds.
        let moved = try ServerDatabase.psql(database.url(), "SELECT event_id || ' ' || kind FROM job_history ORDER BY event_id")
        #expect(moved == events)

        let second = try workspace.planqOn(database.url(), "worker", "--drain", "--concurrency", "4", "--allow-exec", "/bin/sh")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try ServerDatabase.psql(database.url(), "SELECT count(*) FROM jobs WHERE state = 'succeeded'") == "24\n")
        let effects = workspace.read("effects.log").split(separator: "\n").map(String.init)
        #expect(effects.count == 24 && Set(effects).count == 24, "each job's side effect ran once: \(effects.sorted())")
        #expect(try ServerDatabase.psql(database.url(), """
            SELECT count(*) FROM (SELECT job_id, step_id FROM step_results WHERE outcome = 'ok' GROUP BY job_id, step_id HAVING count(*) > 1) twice
            """) == "0\n")
        let total = Int(try ServerDatabase.psql(database.url(), "SELECT count(*) FROM job_history").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(total > moved.split(separator: "\n").count, "new events after the copied ones")

        // And back: the finished history reads the same in a new SQLite file.
        let back = workspace.path("back.db")
        #expect(try await Planq.run(["copy", "--from", database.url(), "--to", back]).status == 0)
        let listed = try await Planq.run(["list", "--json", "--limit", "100", "--db", back]).stdout
        #expect(listed == (try workspace.planqOn(database.url(), "list", "--json", "--limit", "100").stdout))
        let backEvents = try await Planq.run(["events", "--json", "--limit", "1000", "--db", back]).stdout.split(separator: "\n")
        let serverEvents = try workspace.planqOn(database.url(), "events", "--json", "--limit", "1000").stdout.split(separator: "\n")
        #expect(backEvents.count == serverEvents.count)
        let differing = zip(backEvents, serverEvents).first { $0 != $1 }
        #expect(differing == nil, "\(String(describing: differing))")
    }
}

extension CopyCommandTests {
    @Test func theSameServerDatabaseUnderAnotherNameIsRefusedAndAnotherIsNot() async throws {
        let database = try ServerDatabase(), other = try ServerDatabase()
        let workspace = Workspace()
        #expect(try workspace.planqOn(database.url(), "enqueue", "Examples/welcome.json").status == 0)
        let url = database.url()
        let spellings = [url, url.replacingOccurrences(of: "127.0.0.1", with: "localhost"), url + "?sslmode=require"]
        for spelling in spellings {
            let copy = try await Planq.run(["copy", "--from", url, "--to", spelling, "--replace"])
            #expect(copy.status == 64 && copy.stderr.contains("are one database"), "\(spelling): \(copy.stderr)")
        }
        #expect(try ServerDatabase.psql(url, "SELECT count(*) FROM jobs") == "1\n", "the source is untouched")
        let moved = try await Planq.run(["copy", "--from", url, "--to", other.url()])
        #expect(moved.status == 0, "another database of the same server is a target: \(moved.stderr)")
    }

    @Test func aKilledCopyIntoTheServerLeavesItAsItWasOrComplete() async throws {
        let workspace = Workspace()
        let lines = (1...3000).map { #"{"version":1,"idempotency_key":"new-\#($0)","steps":[{"id":"a","call":"echo","input":\#($0)}]}"# }
        #expect(try await workspace.planq("enqueue", "--lines", "-", input: lines.joined(separator: "\n")).status == 0)
        let target = try ServerDatabase()
        for key in ["old-1", "old-2", "old-3"] {
            #expect(try workspace.planqOn(target.url(), "enqueue", "-", input: planJSON([#"{"id":"a","call":"echo","input":0}"#], #","idempotency_key":"\#(key)""#)).status == 0)
        }
        var outcomes: [String: Int] = [:]
        for round in 0..<8 {
            let copy = Process()
            copy.executableURL = Planq.binary
            copy.arguments = ["copy", "--from", workspace.db, "--to", target.url(), "--replace", "--batch", "50"]
            copy.standardOutput = FileHandle.nullDevice
            copy.standardError = FileHandle.nullDevice
            try copy.run()
            usleep(useconds_t(round * 150_000 + Int.random(in: 0..<100_000)))
            kill(copy.processIdentifier, SIGKILL)
            copy.waitUntilExit()
            let keys = try ServerDatabase.psql(target.url(), "SELECT count(*) || ' ' || min(idempotency_key) FROM jobs")
            #expect(keys == "3 old-1\n" || keys == "3000 new-1\n", "round \(round): the target holds \(keys)")
            outcomes[keys, default: 0] += 1
        }
        let finished = try await Planq.run(["copy", "--from", workspace.db, "--to", target.url(), "--replace", "--batch", "50"])
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(try ServerDatabase.psql(target.url(), "SELECT count(*) || ' ' || min(idempotency_key) FROM jobs") == "3000 new-1\n")
        print("killed copies into the server left it as it was \(outcomes["3 old-1\n"] ?? 0) times, complete \(outcomes["3000 new-1\n"] ?? 0) times")
    }
}

extension Workspace {
    /// Runs `planq arguments... --db url`.
    func planqOn(_ url: String, _ arguments: String..., input: String = "") throws -> Planq.Outcome {
        try Planq.run(arguments + ["--db", url], input: input)
    }
}
