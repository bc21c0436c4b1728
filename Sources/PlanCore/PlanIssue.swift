/// One thing wrong with a plan document, and where: `steps[1].input.to: $ref "nope" names no earlier step`.
public struct PlanIssue: Sendable, Hashable, CustomStringConvertible {
    /// Where, with array indexes from 0 (`steps[2].retry.max_attempts`); empty for the whole document.
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// The issue for a terminal: control characters and bidirectional overrides copied from the
    /// plan are escaped (`\u001b`).
    public var description: String { (path.isEmpty ? message : "\(path): \(message)").printable }
}

/// A plan document that was rejected, with every issue found in it.
public struct PlanValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let issues: [PlanIssue]

    public init(issues: [PlanIssue]) { self.issues = issues }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
