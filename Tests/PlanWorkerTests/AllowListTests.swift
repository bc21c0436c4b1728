import PlanCore
@testable import PlanWorker
import Testing

private let context = StepContext(jobID: 7, stepKey: "s", attempt: 2, idempotencyKey: "k/s", timeout: .seconds(5))

/// `process.run` and `http.request` hold to what the operator allowed, whatever a plan asks.
@Suite(.timeLimit(.minutes(1))) struct AllowLists {
    let worker = ["LANG": "C.UTF-8", "TZ": "UTC", "LC_ALL": "C", "PLANQ_DB": "/secret.db", "NOTIFY_SOCKET": "/run/x", "API_TOKEN": "s3cret",
                  "LD_PRELOAD": "/tmp/evil.so"]

    func processRun(allowEnv: [String] = []) -> ProcessRun {
        ProcessRun(allowed: ["/usr/bin/env", "/bin/sh", "/srv/tools/*/run"], environment: ChildEnvironment(allowed: allowEnv, worker: worker))
    }

    func environmentOf(_ result: Result<JSONValue, ErrInfo>) -> [String: String] {
        guard case .success(let value) = result, let text = value.objectValue?["stdout"]?.stringValue else { return [:] }
        var names: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            names[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return names
    }

    @Test func aChildGetsACleanEnvironmentThenAllowedNamesThenPlanqs() async {
        let result = await processRun(allowEnv: ["APP_*"]).run(["argv": ["/usr/bin/env"], "env": ["APP_MODE": "fast"]], context)
        let env = environmentOf(result)
        #expect(Set(env.keys) == ["PATH", "HOME", "LANG", "TZ", "LC_ALL", "APP_MODE", "PLANQ_JOB_ID", "PLANQ_STEP_ID", "PLANQ_ATTEMPT",
                                  "PLANQ_IDEMPOTENCY_KEY"])
        #expect(env["PATH"] == "/usr/local/bin:/usr/bin:/bin")
        #expect(env["APP_MODE"] == "fast")
        #expect(env["PLANQ_ATTEMPT"] == "2")
        #expect(env["PLANQ_IDEMPOTENCY_KEY"] == "k/s")
    }

    @Test(arguments: ["LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_FUNC_date%%", "BASH_ENV", "ENV", "GCONV_PATH", "PLANQ_ATTEMPT",
                      "PLANQ_IDEMPOTENCY_KEY", "PYTHONSTARTUP"])
    func namesThatLoadCodeOrForgePlanqsAreRefusedEvenWhenAGlobAllowsThem(name: String) async {
        let result = await processRun(allowEnv: ["*"]).run(["argv": ["/usr/bin/env"], "env": .object([JSONKey(name): "x"])], context)
        #expect(result.failure?.code == "env_not_allowed")
        #expect(result.failure?.retryable == false)
    }

    @Test func aNameNoGlobAllowsIsRefused() async {
        let result = await processRun().run(["argv": ["/usr/bin/env"], "env": ["APP_MODE": "fast"]], context)
        #expect(result.failure?.code == "env_not_allowed")
        #expect(result.failure?.message.contains("--allow-env") == true)
    }

    @Test func aBashFunctionInThePlanNeverReachesAnAllowedScript() async {
        let run = processRun(allowEnv: ["*"])
        let result = await run.run(["argv": ["/bin/sh", "-c", "date"], "env": ["BASH_FUNC_date%%": "() { echo pwned; }"]], context)
        #expect(result.failure?.code == "env_not_allowed")
    }

    @Test func nulInArgvEnvOrCwdIsInvalidInput() async {
        let run = processRun(allowEnv: ["*"])
        #expect(await run.run(["argv": ["/usr/bin/env", "a\u{0}b"]], context).failure?.code == "invalid_input")
        #expect(await run.run(["argv": ["/usr/bin/env"], "env": ["APP": "a\u{0}b"]], context).failure?.code == "invalid_input")
        #expect(await run.run(["argv": ["/usr/bin/env"], "env": ["A\u{0}B": "x"]], context).failure?.code == "env_not_allowed")
        #expect(await run.run(["argv": ["/usr/bin/env"], "cwd": "/tmp\u{0}/x"], context).failure?.code == "invalid_input")
    }

    @Test(arguments: ["/srv/tools/../run", "/srv/tools/./run", "/srv/tools//run", "/usr/bin/../bin/env", "/usr/bin/env/"])
    func pathsWithDotDotOrEmptyComponentsAreRefusedBeforeTheGlobIsAsked(path: String) async {
        let result = await processRun().run(["argv": .array([.string(path)])], context)
        #expect(result.failure?.code == "invalid_input")
    }

    @Test func allowExecPatternsAreJudgedTheSameWay() {
        #expect(Builtins.execPatternProblem("/srv/tools/*/run") == nil)
        #expect(Builtins.execPatternProblem("/srv/../bin/*") != nil)
        #expect(Builtins.execPatternProblem("bin/*") != nil)
    }

    @Test(arguments: ["GET / HTTP/1.1\r\nX-Injected: 1\r\nFoo:", "GET /", "", "G\u{0}T", "PÖST"])
    func anHTTPMethodMustBeAToken(method: String) async {
        let result = await HTTPRequest().run(["method": .string(method), "url": "http://127.0.0.1:9/"], context)
        #expect(result.failure?.code == "invalid_input")
        #expect(result.failure?.message.contains("\r") == false, "the message escapes what it quotes")
    }

    @Test(arguments: ["file:///etc/passwd", "ftp://example.com/", "http://", "http:///x", "http://a b/", "http://a/\r\nX: 1", "gopher://x"])
    func onlyWellFormedHTTPURLsAreSent(url: String) async {
        #expect(await HTTPRequest().run(["url": .string(url)], context).failure?.code == "invalid_input")
    }

    @Test func headerNamesAndValuesCannotCarryLines() async {
        let request = HTTPRequest()
        #expect(await request.run(["url": "http://127.0.0.1:9/", "headers": ["X-A\r\nB": "1"]], context).failure?.code == "invalid_input")
        #expect(await request.run(["url": "http://127.0.0.1:9/", "headers": ["X-A": "1\r\nB: 2"]], context).failure?.code == "invalid_input")
    }
}
