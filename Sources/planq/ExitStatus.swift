import ArgumentParser

/// The exit statuses planq documents (sysexits.h where one fits).
enum ExitStatus {
    /// A usage error.
    static let usage = ExitCode(64)
    /// An invalid plan.
    static let invalidPlan = ExitCode(65)
    /// The database cannot be opened or is locked past the timeout.
    static let unavailable = ExitCode(69)
    /// A queue refuses more work.
    static let queueFull = ExitCode(75)
}
