extension JSONValue {
    /// Canonical JSON text: no insignificant whitespace, object members sorted by the UTF-8 bytes
    /// of their names, integers without a fraction, minimal string escapes. Equal values give equal text.
    public var canonicalText: String {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    private func write(to output: inout [UInt8]) {
        switch self {
        case .null: output += "null".utf8
        case .bool(let value): output += (value ? "true" : "false").utf8
        case .integer(let value): output += String(value).utf8
        case .number(let value): output += value.description.utf8
        case .string(let value): Self.writeString(value, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                element.write(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            let names = members.keys.sorted()
            for (position, name) in names.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                Self.writeString(name.text, to: &output)
                output.append(UInt8(ascii: ":"))
                members[name]!.write(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// A string with minimal escapes; bytes that need none (most strings are all such) are copied as they are.
    private static func writeString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        let utf8 = text.utf8
        if !utf8.contains(where: needsEscape) {
            output += utf8
        } else {
            for byte in utf8 {
                guard needsEscape(byte) else {
                    output.append(byte)
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""): output += #"\""#.utf8
                case UInt8(ascii: "\\"): output += #"\\"#.utf8
                case 0x0A: output += #"\n"#.utf8
                case 0x0D: output += #"\r"#.utf8
                case 0x09: output += #"\t"#.utf8
                case 0x08: output += #"\b"#.utf8
                case 0x0C: output += #"\f"#.utf8
                default:
                    let hex = String(byte, radix: 16)
                    output += ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8
                }
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }
}
