/// A step's input before it runs: literal JSON with holes that are filled from the job's input,
/// the outputs of earlier steps, or the current element of an `each` step.
public indirect enum Template: Sendable, Hashable {
    /// JSON taken as it is.
    case literal(JSONValue)
    /// `{"$ref": STEP, "path": POINTER}`: the recorded output of an earlier step.
    case ref(step: String, path: JSONPointer)
    /// `{"$input": POINTER}`: the job's input.
    case input(JSONPointer)
    /// `{"$item": POINTER}`: the current element inside an `each` step.
    case item(JSONPointer)
    case array([Template])
    case object([JSONKey: Template])

    /// Fills the holes. Fails with `invalid_input` (not retryable) when a pointer finds nothing.
    public func resolve(outputs: [String: JSONValue], input: JSONValue, item: JSONValue?) -> Result<JSONValue, ErrInfo> {
        func lookup(_ value: JSONValue?, _ pointer: JSONPointer, _ what: String) -> Result<JSONValue, ErrInfo> {
            guard let value, let found = value[pointer] else {
                return .failure(.invalidInput("\(what) has no value at \"\(pointer)\""))
            }
            return .success(found)
        }
        switch self {
        case .literal(let value): return .success(value)
        case .ref(let step, let path): return lookup(outputs[step], path, "the output of step \"\(step)\"")
        case .input(let path): return lookup(input, path, "the job input")
        case .item(let path): return lookup(item, path, "the current item")
        case .array(let elements):
            var values: [JSONValue] = []
            for element in elements {
                switch element.resolve(outputs: outputs, input: input, item: item) {
                case .success(let value): values.append(value)
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.array(values))
        case .object(let members):
            var values: [JSONKey: JSONValue] = [:]
            for (name, member) in members {
                switch member.resolve(outputs: outputs, input: input, item: item) {
                case .success(let value): values[name] = value
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.object(values))
        }
    }

    /// The JSON form, as written in a plan.
    public var json: JSONValue {
        switch self {
        case .literal(let value): value.containsDollarKey ? ["$literal": value] : value
        case .ref(let step, let path):
            path == .root ? ["$ref": .string(step)] : ["$ref": .string(step), "path": .string(path.description)]
        case .input(let path): ["$input": .string(path.description)]
        case .item(let path): ["$item": .string(path.description)]
        case .array(let elements): .array(elements.map(\.json))
        case .object(let members): .object(members.mapValues(\.json))
        }
    }
}

extension JSONValue {
    var containsDollarKey: Bool {
        switch self {
        case .object(let members): members.contains { $0.key.text.hasPrefix("$") || $0.value.containsDollarKey }
        case .array(let elements): elements.contains(where: \.containsDollarKey)
        default: false
        }
    }
}
