/// An error of a database server (PostgreSQL), or of the connection to it: the server's SQLSTATE
/// when it sent one, and its message. Bound values never appear here.
public struct ServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The five-character SQLSTATE, or `nil` when the connection failed before the server answered.
    /// A login the client itself cannot go on with has one too: 28000 (no password for the
    /// server's request), 08001 (TLS failed).
    public let sqlState: String?
    public let message: String

    public init(sqlState: String?, message: String) {
        self.sqlState = sqlState
        self.message = message
    }

    /// A fault of the server, the connection or the machine (unreachable, refused login, no such
    /// database, shutting down, out of disk or memory, a lock or serialization conflict), rather
    /// than of the request.
    public var isFault: Bool {
        guard let sqlState else { return true }
        return ["08", "28", "3D", "53", "57", "58", "40"].contains(String(sqlState.prefix(2))) || sqlState == "55P03" || sqlState == "25006"
    }

    /// The class of the error as `StoreError.kind` names it.
    var kind: String {
        switch sqlState {
        case nil: "cant_open"
        case let state? where ["08", "28", "3D", "57"].contains(String(state.prefix(2))): "cant_open"
        case let state? where state.hasPrefix("40") || state == "55P03": "busy"
        case "53100"?: "full"
        case "25006"?: "read_only"
        case let state? where state.hasPrefix("58"): "io"
        default: "other"
        }
    }

    public var description: String {
        "PostgreSQL error" + (sqlState.map { " \($0)" } ?? "") + ": \(message)"
    }
}
