import Glibc

/// Who holds a lease: enough to tell, on the same host, whether the holder is provably dead.
public struct LeaseOwner: Sendable, Hashable {
    public let host: String
    /// `/proc/sys/kernel/random/boot_id`: a new one after every boot.
    public let bootID: String
    public let pid: Int32
    /// The process's start time in clock ticks after boot (`/proc/PID/stat`, field 22): a reused
    /// pid has another one.
    public let pidStart: Int64

    public init(host: String, bootID: String, pid: Int32, pidStart: Int64) {
        self.host = host
        self.bootID = bootID
        self.pid = pid
        self.pidStart = pidStart
    }

    /// `host/pid`, as `lease_owner` shows it.
    public var label: String { "\(host)/\(pid)" }

    /// This process. Its start time is read again for a moment if the read fails (no descriptor
    /// free); if it still cannot be read, `pidStart` is `unknownStart`, which no worker takes as a
    /// sign of death.
    public static func current() -> LeaseOwner {
        let pid = getpid()
        var look = look(at: pid)
        for _ in 0..<50 {
            guard case .unknown = look else { break }
            usleep(20_000)
            look = Self.look(at: pid)
        }
        let start = if case .started(let start) = look { start } else { unknownStart }
        return LeaseOwner(host: hostName(), bootID: currentBootID(), pid: pid, pidStart: start)
    }

    /// The `pidStart` of an owner whose start time could not be read.
    public static let unknownStart: Int64 = -1

    /// What looking at a process on this host found.
    package enum ProcessLook: Equatable, Sendable {
        /// It runs, started at this many clock ticks after boot.
        case started(Int64)
        /// There is no such process: positive evidence.
        case absent
        /// Looking failed (no descriptors, no memory, no permission): no evidence either way.
        case unknown(errno: Int32)
    }

    /// Why the holder of a lease recorded as (`bootID`, `pid`, `pidStart`) on this host is provably
    /// dead, or `nil` when it may be alive. Only positive evidence counts: another boot id, no such
    /// process, or another start time. A failed look (`look` tells, `/proc` by default) is no
    /// evidence: lease expiry decides.
    package func deathReason(ofBootID bootID: String, pid: Int32, pidStart: Int64,
                             look: (Int32) -> ProcessLook = LeaseOwner.look(at:)) -> String? {
        guard self.bootID != Self.unknownBootID, !bootID.isEmpty, bootID != Self.unknownBootID else { return nil }
        if bootID != self.bootID { return "the owner ran before the last boot" }
        guard pid > 0, pidStart != Self.unknownStart else { return nil }
        switch look(pid) {
        case .absent: return "owner pid \(pid) is gone"
        case .started(let start) where start != pidStart: return "owner pid \(pid) is another process now"
        case .started, .unknown: return nil
        }
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The boot id a worker records when it cannot read its own: no worker decides anything from it.
    static let unknownBootID = "unknown"

    static func currentBootID() -> String {
        for attempt in 0..<50 {
            if case .success(let text) = readFile("/proc/sys/kernel/random/boot_id") { return text.trimmingTrailingNewlines() }
            if attempt < 49 { usleep(20_000) }
        }
        return unknownBootID
    }

    /// Looks at `pid` in `/proc/PID/stat` (field 22 is its start time). When the file cannot be
    /// read, `kill(pid, 0)` tells an absent process (`ESRCH`) without a descriptor; any other
    /// answer (a process hidden from this user, no descriptor free) is no evidence.
    package static func look(at pid: Int32) -> ProcessLook {
        switch readFile("/proc/\(pid)/stat") {
        case .success(let stat):
            guard let close = stat.lastIndex(of: ")") else { return .unknown(errno: EIO) }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After "pid (comm)", fields start at field 3 (state); starttime is field 22.
            guard fields.count > 19, let start = Int64(fields[19]) else { return .unknown(errno: EIO) }
            return .started(start)
        case .failure(let error):
            // ENOENT is not enough: /proc may hide other users' processes (hidepid, ProtectProc=).
            return kill(pid, 0) != 0 && errno == ESRCH ? .absent : .unknown(errno: error.code)
        }
    }

    /// A failed system call's `errno`.
    package struct SystemError: Error, Equatable {
        package let code: Int32
    }

    /// The whole text of a file, or the `errno` of the call that failed.
    static func readFile(_ path: String) -> Result<String, SystemError> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(SystemError(code: errno)) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(SystemError(code: errno))
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        return .success(String(decoding: bytes, as: UTF8.self))
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
