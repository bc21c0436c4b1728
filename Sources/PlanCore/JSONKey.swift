/// An object member name. Compared, hashed and sorted by its UTF-8 bytes, that is by Unicode
/// scalars as RFC 8259 asks: Swift's `String` takes canonically equivalent text as equal, which
/// would make `"é"` and `"e\u{301}"` one name.
public struct JSONKey: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The name.
    public let text: String

    public init(_ text: String) { self.text = text }
    public init(stringLiteral text: String) { self.text = text }

    public var description: String { text }

    public static func == (left: JSONKey, right: JSONKey) -> Bool { left.text.utf8.elementsEqual(right.text.utf8) }

    public static func < (left: JSONKey, right: JSONKey) -> Bool { left.text.utf8.lexicographicallyPrecedes(right.text.utf8) }

    public func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
