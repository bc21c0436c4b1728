/// What went wrong in a step or a plan: a stable machine-readable `code`, a message for people,
/// whether trying again may help, and optional JSON `details`.
public struct ErrInfo: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public var retryable: Bool
    public var details: JSONValue?
    /// The step key where the error arose (`notify`, `fanout[3]`), set by rehydration.
    public var step: String?
    /// The attempt of that step that failed, set by rehydration.
    public var attempt: Int?

    public init(code: ErrorCode, message: String, retryable: Bool, details: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.retryable = retryable
        self.details = details
    }

    public var description: String { "\(code): \(message)" }

    /// The error of a step or plan that ran past its time limit (retryable).
    public static func timeout(after limit: Duration) -> ErrInfo {
        ErrInfo(code: .timeout, message: "timed out after \(PlanDuration(limit).text)", retryable: true)
    }

    /// Input that can never work (not retryable): a bad value, a pointer that finds nothing.
    public static func invalidInput(_ message: String) -> ErrInfo {
        ErrInfo(code: .invalidInput, message: message, retryable: false)
    }

    /// The error of work that was cancelled before it finished.
    public static let cancelled = ErrInfo(code: .cancelled, message: "cancelled", retryable: false)

    /// The error as a JSON object, the form kept in the store.
    public var json: JSONValue {
        var members: [JSONKey: JSONValue] = ["code": .string(code.rawValue), "message": .string(message), "retryable": .bool(retryable)]
        if let details { members["details"] = details }
        if let step { members["step"] = .string(step) }
        if let attempt { members["attempt"] = .integer(Int64(attempt)) }
        return .object(members)
    }

    /// Reads the JSON form back; `nil` when `code`, `message` or `retryable` is missing.
    public init?(json: JSONValue) {
        guard let members = json.objectValue,
              case .string(let code)? = members["code"],
              case .string(let message)? = members["message"],
              case .bool(let retryable)? = members["retryable"]
        else { return nil }
        self.init(code: ErrorCode(rawValue: code), message: message, retryable: retryable, details: members["details"])
        step = members["step"]?.stringValue
        if case .integer(let attempt)? = members["attempt"] { self.attempt = Int(attempt) }
    }
}
