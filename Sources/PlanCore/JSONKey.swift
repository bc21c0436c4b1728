/// An object member name. Compared, hashed and sorted by its UTF-8 bytes, that is by Unicode
/// scalars as RFC 8259 asks: Swift's `String` takes canonically equivalent text as equal, which
/// would make `"é"` and `"e\u{301}"` one name.
public struct JSONKey: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The name.
    public let text: String

    public init(_ text: String) { self.text = text }
    public init(stringLiteral text: String) { self.text = text }

    public var description: String { text }

    public static func == (left: JSONKey, right: JSONKey) -> Bool {
        left.withBytes { left in right.withBytes { right in left.elementsEqual(right) } }
    }

    public static func < (left: JSONKey, right: JSONKey) -> Bool {
        left.withBytes { left in right.withBytes { right in left.lexicographicallyPrecedes(right) } }
    }

    /// The name's UTF-8 bytes, contiguous (comparing buffers is several times faster than comparing `utf8` views).
    private func withBytes<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        var text = text
        return text.withUTF8(body)
    }

    public func hash(into hasher: inout Hasher) {
        withBytes { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
