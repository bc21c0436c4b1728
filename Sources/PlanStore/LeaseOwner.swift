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

    /// This process.
    public static func current() -> LeaseOwner {
        let pid = getpid()
        return LeaseOwner(host: hostName(), bootID: currentBootID(), pid: pid, pidStart: startTime(of: pid) ?? 0)
    }

    /// Why the holder of a lease recorded as (`bootID`, `pid`, `pidStart`) on this host is provably
    /// dead, or `nil` when it may be alive.
    package func deathReason(ofBootID bootID: String, pid: Int32, pidStart: Int64) -> String? {
        if bootID != self.bootID { return "the owner ran before the last boot" }
        guard let start = Self.startTime(of: pid) else { return "owner pid \(pid) is gone" }
        if start != pidStart { return "owner pid \(pid) is another process now" }
        return nil
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func currentBootID() -> String {
        (readFile("/proc/sys/kernel/random/boot_id") ?? "unknown").trimmingTrailingNewlines()
    }

    /// Field 22 of `/proc/PID/stat`, or `nil` when there is no such process.
    static func startTime(of pid: Int32) -> Int64? {
        guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After "pid (comm)", fields start at field 3 (state); starttime is field 22.
        guard fields.count > 19 else { return nil }
        return Int64(fields[19])
    }

    static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
