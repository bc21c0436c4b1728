/// The state of a job, as stored.
public enum JobState: String, Sendable, CaseIterable, Codable {
    case pending, running, succeeded, failed, cancelled

    /// Whether the job is over (only `planq retry` brings failed and cancelled jobs back).
    public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
}
