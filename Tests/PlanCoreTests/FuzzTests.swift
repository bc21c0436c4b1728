import Foundation
import PlanCore
import PropertyBased
import Testing

/// Bounded fuzzing of the JSON parser and the plan reader: mutated documents never crash them,
/// and whatever parses reads back from its canonical text as the same value.
@Suite(.timeLimit(.minutes(2))) struct Fuzz {
    static let seeds: [[UInt8]] = {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Examples")
        let files = (try? FileManager.default.contentsOfDirectory(at: examples, includingPropertiesForKeys: nil)) ?? []
        return files.filter { $0.pathExtension == "json" }.compactMap { try? Array(Data(contentsOf: $0)) }
            + [Array(#"{"a":[1,-2.5e3,"\u00e9\ud83d\ude00",true,null,{}],"b":"x\n"}"#.utf8)]
    }()

    /// Bytes that make parsers go wrong: structure, escapes, digits, multi-byte and invalid UTF-8.
    static let interesting: [UInt8] = Array(#"{}[]":,\"u0123456789eE+-.tfn ~/$"#.utf8) + [0x00, 0x0A, 0x1B, 0x7F, 0x80, 0xBF, 0xC3, 0xE2, 0xF0, 0xFF]

    static func mutate(_ document: [UInt8], seed: Int) -> [UInt8] {
        var random = SplitMix(state: UInt64(bitPattern: Int64(seed)))
        var bytes = document
        for _ in 0...(random.next() % 8) {
            let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
            let byte = interesting[Int(random.next() % UInt64(interesting.count))]
            switch random.next() % 5 {
            case 0 where !bytes.isEmpty: bytes[position] = byte
            case 1: bytes.insert(byte, at: position)
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int(random.next() % 64))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            default: bytes = Array(bytes.prefix(position))
            }
        }
        return bytes
    }

    @Test func mutatedDocumentsNeverCrashTheParserOrTheReader() async {
        await propertyCheck(count: 20_000, input: Gen.int(in: 0...Int.max)) { seed in
            let base = Self.seeds[seed % Self.seeds.count]
            let document = Self.mutate(base, seed: seed)
            if let value = try? JSONParser.parse(document) {
                #expect((try? JSONParser.parse(value.canonicalText)) == value)
            }
            _ = try? PlanDescription.decode(document, newKey: { "k" })
        }
    }

    @Test func generatedValuesRoundTripThroughCanonicalText() async {
        await propertyCheck(count: 5_000, input: Gen.int(in: 0...Int.max)) { seed in
            let value = arbitraryJSON(seed: UInt64(seed), depth: 5)
            #expect((try? JSONParser.parse(value.canonicalText)) == value)
        }
    }
}

struct SplitMix {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
