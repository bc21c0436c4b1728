/// A stable, machine-readable error code (`ErrInfo.code`). Capabilities may use codes of their
/// own; the ones planq itself gives are named here, with their stored spelling.
public struct ErrorCode: RawRepresentable, Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    // Plans and steps
    public static let cancelled: ErrorCode = "cancelled"
    public static let timeout: ErrorCode = "timeout"
    public static let invalidInput: ErrorCode = "invalid_input"
    public static let unknownCapability: ErrorCode = "unknown_capability"
    public static let attemptsExhausted: ErrorCode = "attempts_exhausted"
    public static let fanOutTooLarge: ErrorCode = "fan_out_too_large"
    public static let outputsTooLarge: ErrorCode = "outputs_too_large"

    // The built-in capabilities
    public static let execNotAllowed: ErrorCode = "exec_not_allowed"
    public static let envNotAllowed: ErrorCode = "env_not_allowed"
    public static let execFailed: ErrorCode = "exec_failed"
    public static let exitStatus: ErrorCode = "exit_status"
    public static let httpStatus: ErrorCode = "http_status"
    public static let transport: ErrorCode = "transport"
    public static let responseTooLarge: ErrorCode = "response_too_large"
    /// The machine ran out of descriptors, memory or processes: the run is handed back, uncounted.
    public static let resourceExhausted: ErrorCode = "resource_exhausted"

    // The store and the worker
    public static let leaseLost: ErrorCode = "lease_lost"
    public static let storeError: ErrorCode = "store_error"
    public static let planUnreadable: ErrorCode = "plan_unreadable"
}
