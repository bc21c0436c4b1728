import Foundation

extension PostgresURL {
    /// The URL with its password filled in when it has none: from the systemd credential
    /// `planq-db-password` (`LoadCredential=planq-db-password:/etc/planq/db-password` puts it in
    /// `$CREDENTIALS_DIRECTORY`), else from the first matching line of `$PGPASSFILE` (default
    /// `~/.pgpass`: `host:port:database:user:password`, `*` matching anything). Never logged.
    public func withPassword(environment: [String: String] = ProcessInfo.processInfo.environment) -> PostgresURL {
        guard password == nil else { return self }
        var url = self
        if let folder = environment["CREDENTIALS_DIRECTORY"],
           let secret = try? String(contentsOfFile: folder + "/planq-db-password", encoding: .utf8) {
            url.password = secret.trimmingCharacters(in: .newlines)
            return url
        }
        let file = environment["PGPASSFILE"] ?? environment["HOME"].map { $0 + "/.pgpass" }
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return url }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = Self.passFields(line)
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) {
                url.password = fields[4]
                return url
            }
        }
        return url
    }

    /// A `.pgpass` line's fields: `:` separates, `\:` and `\\` escape.
    static func passFields(_ line: Substring) -> [String] {
        var fields: [String] = [], current = "", escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
