import Glibc
import PlanCore

/// The environment `process.run` gives a child: a clean base, then the plan's names that the
/// operator allowed, then `PLANQ_*` last. Nothing else of the worker's environment reaches it.
struct ChildEnvironment: Sendable {
    /// `PATH`, `LANG`/`LC_*`, `TZ` and `HOME`: the only variables a child gets that the plan did not set.
    let base: [String: String]
    /// Globs (`fnmatch`) naming the plan `env` names a child may get (`--allow-env`).
    let allowed: [String]

    /// The base taken from the worker's environment: its locale and time zone when set, a minimal
    /// `PATH`, and the home directory of the user the worker runs as.
    init(allowed: [String], worker environment: [String: String]) {
        var base = ["PATH": "/usr/local/bin:/usr/bin:/bin"]
        for (name, value) in environment where name == "LANG" || name == "TZ" || name.hasPrefix("LC_") {
            base[name] = value
        }
        if let entry = getpwuid(getuid()), let home = entry.pointee.pw_dir {
            base["HOME"] = String(cString: home)
        } else if let home = environment["HOME"] {
            base["HOME"] = home
        }
        self.base = base
        self.allowed = allowed
    }

    /// Names that make a program load or run code of the caller's choosing: refused even when an
    /// `--allow-env` glob matches them (glibc's unsafe list, shells' start-up names, interpreters' options).
    static let codeLoadingNames: Set<String> = [
        "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE", "NIS_PATH", "NLSPATH",
        "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
        "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS", "CDPATH", "GLOBIGNORE", "PROMPT_COMMAND",
        "PERL5OPT", "PERL5LIB", "PERLLIB", "PYTHONSTARTUP", "PYTHONPATH", "PYTHONHOME", "PYTHONINSPECT",
        "RUBYOPT", "RUBYLIB", "NODE_OPTIONS", "NODE_PATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
    ]
    /// Prefixes of such names: the dynamic loader's, bash's exported functions, malloc tuning, planq's own.
    static let codeLoadingPrefixes = ["LD_", "BASH_FUNC_", "GLIBC_TUNABLES", "MALLOC_", "PLANQ_"]

    /// Why a plan may not set `name`, or `nil` when it may.
    func refusal(of name: String) -> String? {
        if name.isEmpty || name.utf8.contains(UInt8(ascii: "=")) || name.utf8.contains(0) {
            return "\(name.quoted) is not an environment variable name"
        }
        if Self.codeLoadingNames.contains(name) || Self.codeLoadingPrefixes.contains(where: name.hasPrefix) {
            return "\(name.quoted) is never passed to a program (it can load code or is planq's own)"
        }
        guard allowed.contains(where: { fnmatch($0, name, 0) == 0 }) else {
            return "\(name.quoted) is not allowed; start the worker with --allow-env \(name.quoted)"
        }
        return nil
    }

    /// The child's whole environment: the base, the plan's `env` (every name checked), then `planq`.
    func build(plan env: [String: String], planq: [String: String]) -> Result<[String: String], ErrInfoMessage> {
        var result = base
        for name in env.keys.sorted() {
            if let problem = refusal(of: name) { return .failure(ErrInfoMessage(code: .envNotAllowed, message: problem)) }
            result[name] = env[name]
        }
        for (name, value) in planq { result[name] = value }
        return .success(result)
    }
}

/// A code and a message, to become a non-retryable `ErrInfo`.
struct ErrInfoMessage: Error {
    let code: ErrorCode
    let message: String
}
