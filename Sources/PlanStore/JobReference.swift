/// A job by id or by idempotency key.
public enum JobReference: Sendable, Hashable, CustomStringConvertible {
    case id(Int64)
    case key(String)

    public var description: String {
        switch self {
        case .id(let id): "\(id)"
        case .key(let key): "with key \"\(key)\""
        }
    }
}
