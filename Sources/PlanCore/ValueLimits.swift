/// The most a value made at run time may hold: a step's resolved input, its output, an error's
/// details, an `each` step's elements. Plans are untrusted: a chain of `$ref`s can double a value
/// per step, and what is recorded must read back as it was (`JSONParser.maxDepth`).
public struct ValueLimits: Sendable, Hashable {
    /// The most bytes of a value's canonical JSON text (measured conservatively: numbers count
    /// as their longest form).
    public var maxBytes: Int
    /// The deepest nesting of arrays and objects; never above what the parser reads back.
    public var maxDepth: Int
    /// The most elements an `each` step fans out over.
    public var maxFanOut: Int
    /// The most bytes of all the step outputs one run holds at once (by default four values' worth).
    public var maxRunBytes: Int

    public init(maxBytes: Int = 16 << 20, maxDepth: Int = JSONParser.maxDepth, maxFanOut: Int = 10_000, maxRunBytes: Int? = nil) {
        self.maxBytes = maxBytes
        self.maxDepth = min(maxDepth, JSONParser.maxDepth)
        self.maxFanOut = maxFanOut
        self.maxRunBytes = maxRunBytes ?? 4 * maxBytes
    }

    /// The bytes `value` counts for (as `check` measures them), or `nil` when over `maxRunBytes`.
    func size(of value: JSONValue) -> Int? {
        var budget = maxRunBytes
        guard value.fits(depth: 0, maxDepth: Int.max, budget: &budget) == .fits else { return nil }
        return maxRunBytes - budget
    }

    public static let standard = ValueLimits()

    /// `nil` when `value` is within the limits, else the error for it: `<what>_too_large` or
    /// `<what>_too_deep` (not retryable: the same plan makes the same value).
    public func check(_ value: JSONValue, as what: String) -> ErrInfo? {
        var budget = maxBytes
        switch value.fits(depth: 0, maxDepth: maxDepth, budget: &budget) {
        case .fits: return nil
        case .tooDeep:
            return ErrInfo(code: "\(what)_too_deep", message: "the \(what) nests arrays and objects deeper than \(maxDepth) levels",
                           retryable: false)
        case .tooLarge:
            return ErrInfo(code: "\(what)_too_large", message: "the \(what) is over \(maxBytes) bytes of JSON", retryable: false)
        }
    }
}

enum Fit { case fits, tooDeep, tooLarge }

extension JSONValue {
    /// Whether the value's canonical text fits `budget` bytes (spent as it is measured) and its
    /// nesting `maxDepth`; stops at the first excess, so a huge value costs no more than the limit.
    func fits(depth: Int, maxDepth: Int, budget: inout Int) -> Fit {
        switch self {
        case .null, .bool: budget -= 5
        case .integer(let value): budget -= 20 + (value < 0 ? 1 : 0)
        case .number: budget -= 24
        case .string(let text):
            budget -= text.utf8.count + 2
            for byte in text.utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                budget -= byte < 0x20 ? 5 : 1
            }
        case .array(let elements):
            guard depth < maxDepth else { return .tooDeep }
            budget -= 2 + elements.count
            for element in elements where budget >= 0 {
                let fit = element.fits(depth: depth + 1, maxDepth: maxDepth, budget: &budget)
                if fit != .fits { return fit }
            }
        case .object(let members):
            guard depth < maxDepth else { return .tooDeep }
            budget -= 2 + members.count
            for (name, member) in members where budget >= 0 {
                budget -= name.text.utf8.count + 3
                let fit = member.fits(depth: depth + 1, maxDepth: maxDepth, budget: &budget)
                if fit != .fits { return fit }
            }
        }
        return budget >= 0 ? .fits : .tooLarge
    }
}
