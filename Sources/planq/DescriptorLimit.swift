import Foundation

/// The process's `RLIMIT_NOFILE`.
enum DescriptorLimit {
    /// Raises the soft limit to the hard one (to the kernel's `nr_open` when the hard limit is
    /// infinite): a worker's steps, sockets and metrics clients share its descriptors, and a soft
    /// limit of 1,024 is a default, not a choice. Returns the limits now in force.
    static func raised() -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
        var wanted = limit.rlim_max
        if wanted == rlim_t.max { wanted = kernelMaximum() ?? limit.rlim_cur }
        if wanted > limit.rlim_cur {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    private static func kernelMaximum() -> rlim_t? {
        guard let text = try? String(contentsOfFile: "/proc/sys/fs/nr_open", encoding: .utf8) else { return nil }
        return rlim_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
