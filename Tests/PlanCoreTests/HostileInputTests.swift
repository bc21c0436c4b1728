import PlanCore
import Testing

private func nested(_ depth: Int, around inner: String = "1") -> String {
    String(repeating: "[", count: depth) + inner + String(repeating: "]", count: depth)
}

/// Numbers, Unicode and sizes as a hostile plan would write them.
@Suite struct HostileInput {
    @Test(arguments: ["18446744073709551616", "-9223372036854775809", "99999999999999999999999"])
    func integersBeyond64BitsAreRefusedNeverRounded(text: String) throws {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(text) }
        #expect(try JSONParser.parse("9223372036854775807") == .integer(.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .integer(.min))
    }

    @Test func integralNumbersAreIntegersWhereIntegersAreExpected() throws {
        let described = try plan(#"{"version":1.0,"priority":3.0,"retry":{"max_attempts":2e0},"steps":[{"id":"a","call":"echo"}]}"#)
        #expect(described.priority == 3)
        #expect(described.retry.maxAttempts == 2)
        #expect(issues(#"{"version":1,"priority":1.5,"steps":[{"id":"a","call":"echo"}]}"#) == ["priority: expected an integer, found number"])
    }

    @Test(arguments: [#"{"$literal":[1]}"#, #"{"a":{"$ref":"x"}}"#, #"{"$item":""}"#, "3"])
    func eachTakesOnlyWhatTheSchemaAllows(each: String) {
        let found = issues(#"{"version":1,"steps":[{"id":"x","call":"echo"},{"id":"a","call":"echo","each":\#(each)}]}"#)
        #expect(found.contains { $0.hasPrefix("steps[1].each") }, "\(found)")
    }

    @Test func pointersSplitOnTheSolidusScalarOnly() {
        #expect(JSONPointer("/a/\u{0308}b")?.tokens == ["a", "\u{0308}b"])
        #expect(JSONPointer("/\u{0308}")?.tokens == ["\u{0308}"])
        #expect(JSONPointer("/a~1\u{0301}")?.tokens == ["a/\u{0301}"])
        let value: JSONValue = ["a": ["\u{0308}b": 7]]
        #expect(value[JSONPointer("/a/\u{0308}b")!] == 7)
    }

    @Test func memberNamesCompareByScalarsNotByCanonicalEquivalence() throws {
        let value = try JSONParser.parse("{\"\u{e9}\":1,\"e\u{301}\":2}")
        #expect(value.objectValue?.count == 2)
        #expect(value[JSONPointer("/\u{e9}")!] == 1)
        #expect(value[JSONPointer("/e\u{301}")!] == 2)
        #expect(try JSONParser.parse(value.canonicalText) == value)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\"\u{e9}\":1,\"\u{e9}\":2}") }
        let described = try plan(#"{"version":1,"input":{"\u00e9":"a","e\u0301":"b"},"steps":[{"id":"a","call":"echo","input":{"$input":"/e\u0301"}}]}"#)
        #expect(described.input.objectValue?.count == 2)
    }

    @Test func keyLengthsCountUTF8BytesNotCharacters() {
        let marks = String(repeating: "\u{0301}", count: 400_000)
        let found = issues(#"{"version":1,"idempotency_key":"e\#(marks)","steps":[{"id":"a","call":"echo"}]}"#)
        #expect(found == ["idempotency_key: is 800001 bytes long (UTF-8), over 255"])
        #expect(issues(#"{"version":1,"idempotency_key":"\#(String(repeating: "é", count: 127))","steps":[{"id":"a","call":"echo"}]}"#).isEmpty)
        #expect(!issues(#"{"version":1,"idempotency_key":"\#(String(repeating: "é", count: 128))","steps":[{"id":"a","call":"echo"}]}"#).isEmpty)
    }

    @Test(arguments: ["\\u001b[31m", "\\u0085", "a\\u202Eb", "\\u2066x", "\\u007f"])
    func controlAndBidiCharactersAreRefusedInKeysAndEscapedInMessages(key: String) {
        let found = issues(#"{"version":1,"idempotency_key":"\#(key)","steps":[{"id":"a","call":"echo"}]}"#)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("idempotency_key: ") == true)
        #expect(found.first?.unicodeScalars.contains(where: \.isUnprintable) == false, "\(found)")
    }

    @Test func unknownFieldNamesAreEscapedInMessages() {
        let found = issues(#"{"version":1,"\u001b]0;pwned\u0007":1,"steps":[{"id":"a","call":"echo"}]}"#)
        #expect(found == [#"\u001b]0;pwned\u0007: unknown field"#])
    }

    @Test func theParserReadsBackEveryDepthItAccepts() throws {
        let deepest = nested(JSONParser.maxDepth)
        #expect(try JSONParser.parse(deepest).canonicalText == deepest)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(nested(JSONParser.maxDepth + 1)) }
    }

    @Test func valuesOverTheLimitsGetTheirOwnCodes() throws {
        #expect(ValueLimits.standard.check(try JSONParser.parse(nested(JSONParser.maxDepth)), as: "output") == nil)
        let tooDeep = JSONValue.array([try JSONParser.parse(nested(JSONParser.maxDepth))])
        #expect(ValueLimits.standard.check(tooDeep, as: "output")?.code == "output_too_deep")
        let limits = ValueLimits(maxBytes: 100)
        #expect(limits.check(.string(String(repeating: "x", count: 99)), as: "input")?.code == "input_too_large")
        #expect(limits.check(.string(String(repeating: "\u{1}", count: 20)), as: "output")?.code == "output_too_large", "escapes count")
        #expect(limits.check(.string(String(repeating: "x", count: 90)), as: "output") == nil)
    }
}
