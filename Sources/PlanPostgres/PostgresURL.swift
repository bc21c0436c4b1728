import Foundation
import NIOSSL
import PlanStore
import PostgresNIO

/// Where a PostgreSQL store is: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]`
/// (`postgresql://` too). `sslmode` is `disable` (default), `require` (encrypted, the server's
/// certificate not checked) or `verify-full` (checked against the system's roots and the host name).
public struct PostgresURL: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        case disable, require
        case verifyFull = "verify-full"
    }

    public let user: String
    public var password: String?
    public let host: String
    public let port: Int
    public internal(set) var database: String
    public let tls: TLSMode

    /// Whether `text` names a PostgreSQL database rather than a file.
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses `text`; the problem, in words, when it is not such a URL.
    public init(_ text: String) throws(StoreError) {
        guard Self.isPostgres(text), let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw .migration("\(text.redactingPassword) is not a URL such as postgres://USER@HOST:5432/DATABASE")
        }
        guard let user = components.user, !user.isEmpty else { throw .migration("\(text.redactingPassword) names no user (postgres://USER@HOST/DATABASE)") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw .migration("\(text.redactingPassword) names no database (postgres://USER@HOST/DATABASE)") }
        var tls = TLSMode.disable
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode", let value = item.value else {
                throw .migration("\(text.redactingPassword): unknown parameter \(item.name) (sslmode=disable|require|verify-full)")
            }
            guard let mode = TLSMode(rawValue: value) else {
                throw .migration("\(text.redactingPassword): sslmode \(value) is not disable, require or verify-full")
            }
            tls = mode
        }
        self.user = user
        self.password = components.password?.removingPercentEncoding
        self.host = host
        self.port = components.port ?? 5432
        self.database = database
        self.tls = tls
    }

    /// The URL without its password: what logs and messages show.
    public var description: String {
        "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)" + (tls == .disable ? "" : "?sslmode=\(tls.rawValue)")
    }

    var configuration: PostgresConnection.Configuration {
        get throws {
            let mode: PostgresConnection.Configuration.TLS
            switch tls {
            case .disable: mode = .disable
            case .require:
                var settings = TLSConfiguration.makeClientConfiguration()
                settings.certificateVerification = .none
                mode = .require(try NIOSSLContext(configuration: settings))
            case .verifyFull:
                mode = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            return PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: mode)
        }
    }
}

extension String {
    /// A URL's `user:password@` shown as `user@`.
    var redactingPassword: String {
        guard let at = firstIndex(of: "@"), let scheme = range(of: "://"), scheme.upperBound < at,
              let colon = self[scheme.upperBound..<at].firstIndex(of: ":") else { return self }
        return String(self[..<colon]) + String(self[at...])
    }
}
