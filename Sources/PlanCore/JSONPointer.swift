/// An RFC 6901 JSON pointer: `""` is the whole value, `/a/0/b~1c` walks members and indexes.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// The unescaped reference tokens, outermost first.
    public let tokens: [String]

    /// The pointer to the whole value.
    public static let root = JSONPointer(tokens: [])

    public init(tokens: [String]) { self.tokens = tokens }

    /// Parses pointer text; `nil` when it is not a valid RFC 6901 pointer
    /// (it must be empty or start with `/`, and `~` must be followed by `0` or `1`).
    public init?(_ text: String) {
        if text.isEmpty {
            self = .root
            return
        }
        // By Unicode scalars: a combining mark after '/' must not hide the separator.
        let scalars = text.unicodeScalars
        guard scalars.first == "/" else { return nil }
        var tokens: [String] = []
        for raw in scalars.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = String.UnicodeScalarView()
            var escaping = false
            for scalar in raw {
                if escaping {
                    switch scalar {
                    case "0": token.append("~")
                    case "1": token.append("/")
                    default: return nil
                    }
                    escaping = false
                } else if scalar == "~" {
                    escaping = true
                } else {
                    token.append(scalar)
                }
            }
            if escaping { return nil }
            tokens.append(String(token))
        }
        self.tokens = tokens
    }

    /// The pointer text, escaped again.
    public var description: String {
        tokens.map { "/" + $0.replacingAll("~", with: "~0").replacingAll("/", with: "~1") }.joined()
    }

    /// The array index a token names: decimal digits without a leading zero.
    static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        if token.utf8.count > 1 && token.utf8.first == UInt8(ascii: "0") { return nil }
        return Int(token)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    /// The text with every `target` scalar replaced (by scalars, so a following combining mark
    /// does not hide one).
    func replacingAll(_ target: Unicode.Scalar, with replacement: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            if scalar == target { result.append(contentsOf: replacement.unicodeScalars) } else { result.append(scalar) }
        }
        return String(result)
    }
}
