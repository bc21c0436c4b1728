import Glibc
import PlanCore
import PlanStore
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// `process.run`: `{argv, env, cwd, stdin}` → `{exit_code, stdout, stderr}`.
///
/// The program (`argv[0]`, an absolute path without `.`, `..` or empty components) starts
/// directly, without a shell unless argv names one, in a session of its own. It is refused
/// (`exec_not_allowed`) unless an `--allow-exec` pattern matches `argv[0]`. Its environment is
/// `ChildEnvironment`'s: a clean base, the plan's `env` names that `--allow-env` allows
/// (`env_not_allowed` otherwise), then `PLANQ_JOB_ID`, `PLANQ_STEP_ID`, `PLANQ_ATTEMPT` and
/// `PLANQ_IDEMPOTENCY_KEY`. NUL in argv, env or cwd is `invalid_input`. stdout and stderr are kept
/// up to `outputCap` bytes each. A non-zero exit is a retryable `exit_status` error. On timeout or
/// cancellation its whole process group gets SIGTERM, then SIGKILL two seconds later.
struct ProcessRun {
    let allowed: [String]
    let environment: ChildEnvironment
    var outputCap = 64 * 1024

    init(allowed: [String], environment: ChildEnvironment = ChildEnvironment(allowed: [], worker: [:])) {
        self.allowed = allowed
        self.environment = environment
    }

    var capability: Capability {
        Capability("process.run") { input, context in await run(input, context) }
    }

    private func invalid(_ message: String) -> Result<JSONValue, ErrInfo> {
        .failure(.invalidInput("process.run: \(message)"))
    }

    /// Why `path` is not a plain absolute path, or `nil`: it must start with `/` and have no empty,
    /// `.` or `..` component, so that a glob's `*` cannot stand for a step up.
    static func pathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "must be an absolute path" }
        let components = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        if components.contains(where: { $0.isEmpty || $0.elementsEqual(".".utf8) || $0.elementsEqual("..".utf8) }) {
            return "must not have empty, . or .. components"
        }
        return nil
    }

    func run(_ input: JSONValue, _ context: StepContext) async -> Result<JSONValue, ErrInfo> {
        let members = input.objectValue ?? [:]
        guard let argv = members["argv"]?.arrayValue?.compactMap(\.stringValue), !argv.isEmpty,
              argv.count == members["argv"]?.arrayValue?.count
        else { return invalid("argv must be a non-empty array of strings") }
        if let index = argv.firstIndex(where: { $0.utf8.contains(0) }) { return invalid("argv[\(index)] holds a NUL character") }
        if let problem = Self.pathProblem(argv[0]) { return invalid("argv[0] \(argv[0].quoted) \(problem)") }
        guard allowed.contains(where: { fnmatch($0, argv[0], FNM_PATHNAME) == 0 }) else {
            return .failure(ErrInfo(
                code: .execNotAllowed, message: "process.run: \(argv[0].quoted) is not allowed; start the worker with --allow-exec \(argv[0].printable)",
                retryable: false))
        }
        var planEnv: [String: String] = [:]
        if let env = members["env"] {
            guard let pairs = env.objectValue, pairs.values.allSatisfy({ $0.stringValue != nil }) else {
                return invalid("env must be an object of strings")
            }
            for (key, value) in pairs {
                if value.stringValue!.utf8.contains(0) { return invalid("env \(key.text.quoted) holds a NUL character") }
                planEnv[key.text] = value.stringValue!
            }
        }
        var planq = [
            "PLANQ_JOB_ID": String(context.jobID), "PLANQ_STEP_ID": context.stepKey, "PLANQ_ATTEMPT": String(context.attempt),
            "PLANQ_IDEMPOTENCY_KEY": context.idempotencyKey,
        ]
        if let traceparent = context.traceparent { planq["TRACEPARENT"] = traceparent }
        let childEnvironment: [String: String]
        switch environment.build(plan: planEnv, planq: planq) {
        case .success(let built): childEnvironment = built
        case .failure(let refused): return .failure(ErrInfo(code: refused.code, message: "process.run: env \(refused.message)", retryable: false))
        }
        if let cwd = members["cwd"]?.stringValue, cwd.utf8.contains(0) { return invalid("cwd holds a NUL character") }
        let cwd = members["cwd"]?.stringValue
        let stdin = members["stdin"]?.stringValue ?? ""
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
        let cap = outputCap
        // Starting a child takes descriptors (three pipes, then the child's); swift-subprocess
        // traps on a pipe it made before another failed, so none is started without room for all.
        await Self.starting.lock()
        let gate = SpawnGate(Self.starting)
        defer { gate.open() }
        if let code = Self.descriptorsShort() {
            return .failure(ResourceExhaustion.error(code, doing: "process.run: cannot start \(argv[0])"))
        }
        do {
            let result = try await Subprocess.run(
                .path(FilePath(argv[0])), arguments: Arguments(Array(argv.dropFirst())),
                environment: .custom(Dictionary(uniqueKeysWithValues: childEnvironment.map { (Environment.Key(stringLiteral: $0.key), $0.value) })), workingDirectory: cwd.map { FilePath($0) },
                platformOptions: options, input: .string(stdin), output: .sequence, error: .sequence
            ) { execution in
                gate.open()
                async let output = Self.collect(execution.standardOutput, cap: cap)
                async let errors = Self.collect(execution.standardError, cap: cap)
                return try await (output, errors)
            }
            if Task.isCancelled { return .failure(.cancelled) }
            let (output, errors) = result.closureResult
            var value: [JSONKey: JSONValue] = ["stdout": .string(output.text), "stderr": .string(errors.text)]
            if output.truncated || errors.truncated { value["truncated"] = true }
            switch result.terminationStatus {
            case .exited(0):
                value["exit_code"] = 0
                return .success(.object(value))
            case .exited(let code):
                value["exit_code"] = .integer(Int64(code))
                return .failure(ErrInfo(code: .exitStatus, message: "\(argv[0]) exited with status \(code)", retryable: true, details: .object(value)))
            case .signaled(let signal):
                value["signal"] = .integer(Int64(signal))
                return .failure(ErrInfo(code: .exitStatus, message: "\(argv[0]) was killed by signal \(signal)", retryable: true, details: .object(value)))
            }
        } catch {
            if Task.isCancelled { return .failure(.cancelled) }
            if Self.childMayHaveRun(error) == false, let code = ResourceExhaustion.code(in: error) {
                return .failure(ResourceExhaustion.error(code, doing: "process.run: cannot start \(argv[0])"))
            }
            return .failure(ErrInfo(code: .execFailed, message: "process.run: cannot run \(argv[0]): \(error)", retryable: false))
        }
    }

    /// One child starts at a time, from the check for free descriptors to its spawn.
    private static let starting = AsyncMutex()

    /// How many descriptors starting a child needs free, with room for the worker's others.
    static let descriptorsPerStart = 16

    /// The `errno` that tells `descriptorsPerStart` descriptors are not free now, or `nil` when they are.
    static func descriptorsShort() -> Int32? {
        var opened: [Int32] = []
        defer { for descriptor in opened { close(descriptor) } }
        while opened.count < descriptorsPerStart {
            let descriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return errno }
            opened.append(descriptor)
        }
        return nil
    }

    /// Whether the child may have run before `error`: reading its output or waiting for it failed.
    static func childMayHaveRun(_ error: any Error) -> Bool {
        guard let error = error as? SubprocessError else { return false }
        return [.failedToReadFromSubprocess, .failedToWriteToSubprocess, .failedToMonitorProcess, .outputLimitExceeded].contains(error.code)
    }

    /// Reads a stream to its end, keeping the first `cap` bytes.
    static func collect(_ stream: SubprocessOutputSequence, cap: Int) async throws -> (text: String, truncated: Bool) {
        var bytes: [UInt8] = []
        var truncated = false
        for try await buffer in stream {
            buffer.withUnsafeBytes { raw in
                let room = cap - bytes.count
                if raw.count > room { truncated = true }
                bytes.append(contentsOf: raw.prefix(max(0, room)))
            }
        }
        return (String(decoding: bytes, as: UTF8.self), truncated)
    }
}

/// Holds `AsyncMutex` until the child started (or failed to): opened once, whichever comes first.
private final class SpawnGate: Sendable {
    private let mutex: AsyncMutex
    private let held = Locked(true)

    init(_ mutex: AsyncMutex) { self.mutex = mutex }

    func open() {
        guard held.withLock({ held in defer { held = false }; return held }) else { return }
        mutex.unlock()
    }
}
