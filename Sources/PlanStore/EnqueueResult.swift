/// What enqueuing one plan did.
public struct EnqueueResult: Sendable, Hashable {
    public let id: Int64
    public let idempotencyKey: String

    public init(id: Int64, idempotencyKey: String, created: Bool) {
        self.id = id
        self.idempotencyKey = idempotencyKey
        self.created = created
    }
    /// `false` when a job with this key existed already: nothing was written.
    public let created: Bool
}
