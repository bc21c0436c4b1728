extension String {
    /// The text with every C0 and C1 control character, DEL and bidirectional override escaped as
    /// `\uXXXX`, so that a message quoting input cannot drive a terminal or reorder what it shows.
    public var printable: String {
        guard unicodeScalars.contains(where: \.isUnprintable) else { return self }
        var result = ""
        for scalar in unicodeScalars {
            if scalar.isUnprintable {
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// The text in double quotes, `printable`.
    public var quoted: String { "\"" + printable + "\"" }
}

extension Unicode.Scalar {
    /// C0 and C1 controls, DEL, and the bidirectional marks, embeddings, overrides and isolates.
    public var isUnprintable: Bool {
        switch value {
        case 0..<0x20, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}
