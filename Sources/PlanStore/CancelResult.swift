/// What `cancel` did.
public enum CancelResult: String, Sendable {
    /// A pending job is now cancelled.
    case cancelled
    /// A running job was asked to stop; its worker ends it `cancelled`.
    case requested
    /// It was cancelled already; nothing changed.
    case alreadyCancelled = "already_cancelled"
}
