/// What a template at some place in a plan may refer to.
struct TemplateScope {
    /// The ids of the steps before the current one.
    var earlier: Set<String>
    /// Every step's id by index (`nil` where it is missing), to tell a later step from a missing one.
    var all: [String?]
    var current: Int
    /// Whether `$item` may appear: only in the input of an `each` step.
    var itemAllowed: Bool
}

extension PlanReader {
    /// A value with no `$` member anywhere is literal as it is, and is read without being rebuilt.
    mutating func readTemplate(_ json: JSONValue, at path: @autoclosure () -> String, scope: TemplateScope) -> Template {
        guard json.holdsDollarMember else { return .literal(json) }
        switch json {
        case .array(let elements):
            let templates = elements.enumerated().map { readTemplate($1, at: "\(path())[\($0)]", scope: scope) }
            return Self.collapse(.array(templates))
        case .object(let members):
            if let special = members.keys.first(where: { $0.text.hasPrefix("$") }) {
                return readSpecial(special, members, at: path(), scope: scope)
            }
            var templates: [JSONKey: Template] = [:]
            for (name, member) in members { templates[name] = readTemplate(member, at: join(path(), name), scope: scope) }
            return Self.collapse(.object(templates))
        default:
            return .literal(json)
        }
    }

    private mutating func readSpecial(_ special: JSONKey, _ members: [JSONKey: JSONValue], at path: String, scope: TemplateScope) -> Template {
        let allowed: Set<JSONKey> = special == "$ref" ? ["$ref", "path"] : [special]
        for name in members.keys.sorted() where !allowed.contains(name) {
            report(join(path, name), "unexpected beside \"\(special)\"")
        }
        switch special {
        case "$literal":
            return .literal(members[special]!)
        case "$ref":
            let pointer = members["path"].map { readPointer($0, at: join(path, "path")) } ?? .root
            guard let step = string(members["$ref"], at: join(path, "$ref")) else { return .literal(.null) }
            if !scope.earlier.contains(step) {
                if scope.all[scope.current] == step {
                    report(path, "$ref \"\(step)\" names the step itself; only earlier steps can be referenced")
                } else if let later = scope.all.indices.first(where: { scope.all[$0] == step }) {
                    report(path, "$ref \"\(step)\" names a later step (steps[\(later)]); only earlier steps can be referenced")
                } else {
                    report(path, "$ref \"\(step)\" names no earlier step")
                }
            }
            return .ref(step: step, path: pointer)
        case "$input":
            return .input(readPointer(members[special]!, at: join(path, special)))
        case "$item":
            if !scope.itemAllowed { report(path, "$item is only allowed in the input of a step with each") }
            return .item(readPointer(members[special]!, at: join(path, special)))
        default:
            report(join(path, special), "unknown template \"\(special)\" (known: $ref, $input, $item; wrap literal JSON in {\"$literal\": ...})")
            return .literal(.null)
        }
    }

    private mutating func readPointer(_ json: JSONValue, at path: String) -> JSONPointer {
        guard let text = string(json, at: path) else { return .root }
        guard let pointer = JSONPointer(text) else {
            report(path, "\"\(text)\" is not a JSON pointer (RFC 6901: empty, or /name/0 with ~0 for ~ and ~1 for /)")
            return .root
        }
        return pointer
    }

    /// An array or object without holes becomes one literal.
    private static func collapse(_ template: Template) -> Template {
        switch template {
        case .array(let elements):
            let literals = elements.compactMap { if case .literal(let value) = $0 { value } else { nil } }
            return literals.count == elements.count ? .literal(.array(literals)) : template
        case .object(let members):
            let literals = members.compactMapValues { if case .literal(let value) = $0 { value } else { nil } }
            return literals.count == members.count ? .literal(.object(literals)) : template
        default:
            return template
        }
    }
}

extension JSONValue {
    /// Whether an object in this value has a member whose name starts with `$` (a template, or an unknown one to report).
    fileprivate var holdsDollarMember: Bool {
        switch self {
        case .array(let elements): elements.contains { $0.holdsDollarMember }
        case .object(let members): members.contains { $0.key.text.utf8.first == UInt8(ascii: "$") || $0.value.holdsDollarMember }
        default: false
        }
    }
}
