extension PlanDescription {
    /// Validates a plan document and returns the description it holds, with defaults filled in.
    ///
    /// Throws `PlanValidationError` listing every issue found: size over 1 MiB, non-UTF-8 text,
    /// JSON syntax, unknown version or fields, bad ids, templates, pointers, durations and numbers.
    /// `newKey` makes the idempotency key of a document that names none. `overriding` replaces
    /// top-level members before validation (the command line's `--queue`, `--priority`, ...).
    public static func decode(_ document: some Collection<UInt8>, overriding: [JSONKey: JSONValue] = [:],
                              newKey: () -> String) throws(PlanValidationError) -> PlanDescription {
        guard document.count <= maxDocumentBytes else {
            throw PlanValidationError(issues: [PlanIssue(path: "", message: "document is \(document.count) bytes, over the limit of \(maxDocumentBytes) (1 MiB)")])
        }
        guard String(validating: document, as: UTF8.self) != nil else {
            throw PlanValidationError(issues: [PlanIssue(path: "", message: "document is not valid UTF-8")])
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(document)
        } catch {
            throw PlanValidationError(issues: [PlanIssue(path: "", message: "invalid JSON at \(error)")])
        }
        if !overriding.isEmpty, case .object(var members) = json {
            for (name, value) in overriding { members[name] = value }
            if overriding["run_at"] != nil { members["delay"] = nil }
            if overriding["delay"] != nil { members["run_at"] = nil }
            return try decode(.object(members), newKey: newKey)
        }
        return try decode(json, newKey: newKey)
    }

    /// Validates a parsed plan document; see `decode(_:newKey:)`.
    public static func decode(_ json: JSONValue, newKey: () -> String) throws(PlanValidationError) -> PlanDescription {
        var reader = PlanReader()
        let plan = reader.readPlan(json, newKey: newKey)
        guard reader.issues.isEmpty, let plan else { throw PlanValidationError(issues: reader.issues) }
        return plan
    }
}

/// Reads a plan document field by field, collecting every issue instead of stopping at the first.
struct PlanReader {
    private(set) var issues: [PlanIssue] = []

    mutating func report(_ path: String, _ message: String) {
        issues.append(PlanIssue(path: path, message: message))
    }

    /// The members of an object at `path`, reporting any name outside `allowed`.
    ///
    /// Paths are made only for a report (`@autoclosure`): a valid plan, read on every claim, builds none.
    mutating func object(_ value: JSONValue, at path: @autoclosure () -> String, allowed: Set<JSONKey>) -> [JSONKey: JSONValue]? {
        guard let members = value.objectValue else {
            report(path(), "expected an object, found \(value.kindName)")
            return nil
        }
        guard !members.keys.allSatisfy(allowed.contains) else { return members }
        for name in members.keys.sorted() where !allowed.contains(name) {
            report(join(path(), name), "unknown field")
        }
        return members
    }

    mutating func string(_ value: JSONValue?, at path: @autoclosure () -> String, pattern: NamePattern? = nil) -> String? {
        guard let value else { return nil }
        guard let text = value.stringValue else {
            report(path(), "expected a string, found \(value.kindName)")
            return nil
        }
        if let pattern, let problem = pattern.problem(with: text) {
            report(path(), problem)
            return nil
        }
        return text
    }

    mutating func integer(_ value: JSONValue?, at path: @autoclosure () -> String, in range: ClosedRange<Int>) -> Int? {
        guard let value else { return nil }
        let number: Int64
        switch value {
        case .integer(let integer): number = integer
        // As JSON Schema: a number with a zero fraction (1.0, 1e2) is an integer.
        case .number(let double) where double.rounded() == double && abs(double) < 9.0e15: number = Int64(double)
        default:
            report(path(), "expected an integer, found \(value.kindName)")
            return nil
        }
        guard number >= Int64(range.lowerBound), number <= Int64(range.upperBound) else {
            report(path(), "\(number) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return Int(number)
    }

    mutating func number(_ value: JSONValue?, at path: @autoclosure () -> String, in range: ClosedRange<Double>) -> Double? {
        guard let value else { return nil }
        let number: Double
        switch value {
        case .integer(let integer): number = Double(integer)
        case .number(let double): number = double
        default:
            report(path(), "expected a number, found \(value.kindName)")
            return nil
        }
        guard range.contains(number) else {
            report(path(), "\(number) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return number
    }

    mutating func duration(_ value: JSONValue?, at path: @autoclosure () -> String, positive: Bool) -> PlanDuration? {
        guard let text = string(value, at: path()) else { return nil }
        guard let duration = PlanDuration(text) else {
            report(path(), "\"\(text)\" is not a duration (a whole number with ms, s, m, h or d, at most 366d)")
            return nil
        }
        if positive && duration.milliseconds == 0 {
            report(path(), "must be longer than 0")
            return nil
        }
        return duration
    }

    mutating func oneOf<T: RawRepresentable & CaseIterable>(_ value: JSONValue?, at path: @autoclosure () -> String, as: T.Type) -> T?
        where T.RawValue == String
    {
        guard let text = string(value, at: path()) else { return nil }
        guard let result = T(rawValue: text) else {
            report(path(), "\"\(text)\" is not one of \(T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            return nil
        }
        return result
    }
}

func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

func join(_ path: String, _ name: JSONKey) -> String { join(path, name.text) }

/// The characters and length allowed in names: step ids, capability and queue names, keys.
/// Lengths count UTF-8 bytes; characters are judged by Unicode scalars, not grapheme clusters.
struct NamePattern: Sendable {
    let what: String
    let maxBytes: Int
    let allowed: @Sendable (Unicode.Scalar) -> Bool
    let allowedText: String

    static let identifier = NamePattern(what: "id", maxBytes: 64, allowed: {
        switch $0.value {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x5F, 0x2D, 0x2E: true  // A–Z a–z 0–9 _ - .
        default: false
        }
    }, allowedText: "letters, digits, '_', '-' and '.'")
    static let key = NamePattern(what: "key", maxBytes: 255, allowed: { !$0.isUnprintable },
                                 allowedText: "no control characters or bidirectional overrides")

    func problem(with text: String) -> String? {
        if text.isEmpty { return "must not be empty" }
        if text.utf8.count > maxBytes { return "is \(text.utf8.count) bytes long (UTF-8), over \(maxBytes)" }
        if !text.unicodeScalars.allSatisfy(allowed) { return "\(text.quoted) may hold only \(allowedText)" }
        return nil
    }
}
