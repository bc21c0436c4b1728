import Logging
import PlanCore
@testable import PlanWorker
import Testing

private let context = StepContext(jobID: 1, stepKey: "s", attempt: 1, idempotencyKey: "k/s", timeout: .seconds(5))

@Suite struct ShellPieces {
    @Test func journaldPrioritiesFollowSyslog() {
        #expect([Logger.Level.debug, .info, .notice, .warning, .error, .critical].map(StderrLogHandler.priority) == [7, 6, 5, 4, 3, 2])
    }

    @Test func processRunRefusesProgramsNotAllowed() async {
        let run = ProcessRun(allowed: ["/usr/local/bin/*"]).capability
        let refused = await run.call(["argv": ["/bin/echo", "hi"]], context)
        #expect(refused.failure?.code == "exec_not_allowed")
        #expect(await run.call(["argv": ["echo", "hi"]], context).failure?.code == "invalid_input")
        #expect(await run.call(["argv": []], context).failure?.code == "invalid_input")
        let nested = await ProcessRun(allowed: ["/bin/*"]).capability.call(["argv": ["/bin/sub/echo"]], context)
        #expect(nested.failure?.code == "exec_not_allowed", "a glob does not cross /")
    }

    @Test func processRunCapturesOutputCapsItAndReportsTheExitStatus() async {
        var run = ProcessRun(allowed: ["/bin/sh"])
        run.outputCap = 4
        let ok = await run.capability.call(["argv": ["/bin/sh", "-c", "printf 123456; echo $PLANQ_STEP_ID >&2"]], context)
        #expect(ok == .success(["exit_code": 0, "stdout": "1234", "stderr": "s\n", "truncated": true]))
        let failed = await run.capability.call(["argv": ["/bin/sh", "-c", "exit 3"]], context)
        #expect(failed.failure?.code == "exit_status")
        #expect(failed.failure?.retryable == true)
        #expect(failed.failure?.details?.objectValue?["exit_code"] == 3)
    }

    @Test func theSystemdNotifierReadsTheWatchdogInterval() {
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "20000000"]).watchdogInterval == .seconds(10))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"]).watchdogInterval == nil)
        #expect(!SystemdNotifier(environment: [:]).isActive)
    }
}

extension Result where Failure == ErrInfo {
    var failure: ErrInfo? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
