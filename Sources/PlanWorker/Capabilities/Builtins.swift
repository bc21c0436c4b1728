import PlanCore

/// The capabilities every planq worker offers.
public enum Builtins {
    /// The names of the built-in capabilities.
    public static let names = ["echo", "fail", "http.request", "process.run", "sleep"]

    /// Every built-in capability; `process.run` may start only the programs `allowExec` names
    /// (absolute paths or globs), and pass on only the plan `env` names `allowEnv` names (globs).
    /// `environment` is the worker's own: only its locale and time zone reach a child.
    public static func registry(allowExec: [String], allowEnv: [String] = [], environment: [String: String] = [:]) -> CapabilityRegistry {
        let processRun = ProcessRun(allowed: allowExec, environment: ChildEnvironment(allowed: allowEnv, worker: environment))
        return CapabilityRegistry([echo, fail, sleep(clock: ContinuousClock()), HTTPRequest().capability, processRun.capability])
    }

    /// Why an `--allow-exec` pattern cannot be used, or `nil`: it must be absolute, with no empty,
    /// `.` or `..` component.
    public static func execPatternProblem(_ pattern: String) -> String? {
        ProcessRun.pathProblem(pattern)
    }

    /// `echo`: returns its input.
    public static let echo = Capability("echo") { input, _ in .success(input) }

    /// `fail`: fails with the `code`, `message` and `retryable` it is given
    /// (defaults `failed`, `failed on purpose`, `false`).
    public static let fail = Capability("fail") { input, _ in
        let members = input.objectValue ?? [:]
        var retryable = false
        if case .bool(let value)? = members["retryable"] { retryable = value }
        return .failure(ErrInfo(
            code: ErrorCode(rawValue: members["code"]?.stringValue ?? "failed"),
            message: members["message"]?.stringValue ?? "failed on purpose",
            retryable: retryable))
    }

    /// `sleep`: waits `{"for": DURATION}` on `clock`, then returns `{"slept": DURATION}`;
    /// fails with `cancelled` when cancelled first, `invalid_input` for a bad duration.
    public static func sleep<C: Clock>(clock: C) -> Capability where C.Duration == Duration {
        Capability("sleep") { input, _ in
            guard let text = input.objectValue?["for"]?.stringValue, let duration = PlanDuration(text) else {
                return .failure(.invalidInput("sleep needs {\"for\": DURATION} such as \"2s\""))
            }
            do {
                try await clock.sleep(for: duration.duration)
                return .success(["slept": .string(duration.text)])
            } catch {
                return .failure(.cancelled)
            }
        }
    }
}
