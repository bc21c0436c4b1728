import Glibc
import NIOCore
import PlanCore
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// A call that failed because the machine ran out of something (descriptors, memory, processes),
/// not because of its request: a passing fault, retried later and never counted against the job.
enum ResourceExhaustion {
    /// `EMFILE`, `ENFILE`, `ENOMEM`, `EAGAIN`.
    static let codes: Set<Int32> = [EMFILE, ENFILE, ENOMEM, EAGAIN]

    /// The exhausted resource's `errno` in `error` (a system error, or one that wraps it), or `nil`.
    static func code(in error: any Error) -> Int32? {
        let code: Int32? = switch error {
        case let error as SubprocessError: error.underlyingError?.rawValue
        case let error as IOError: error.errnoCode
        default: nil
        }
        if let code { return codes.contains(code) ? code : nil }
        // Errors that carry the system's message only (wrapped by a library).
        let text = "\(error)"
        return codes.first { text.contains(String(cString: strerror($0))) }
    }

    /// The step's error for an exhausted resource: `resource_exhausted`, naming the call and the errno.
    static func error(_ code: Int32, doing what: String) -> ErrInfo {
        ErrInfo(code: .resourceExhausted, message: "\(what): \(String(cString: strerror(code))) (errno \(code)); tried again later",
                retryable: true, details: ["errno": .integer(Int64(code))])
    }
}
