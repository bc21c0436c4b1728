import PlanCore
import PropertyBased
import Testing

@Suite struct JSON {
    @Test func canonicalTextRoundTrips() async {
        await propertyCheck(input: Gen.uint64(in: 0...UInt64.max)) { seed in
            let value = arbitraryJSON(seed: seed)
            let parsed = try JSONParser.parse(value.canonicalText)
            #expect(parsed == value)
        }
    }

    @Test func canonicalTextSortsMembersAndDropsWhitespace() throws {
        let value = try JSONParser.parse(#" { "b" : [1, 2.5, "x\n"], "a": {"é": null, "Z": true} } "#)
        #expect(value.canonicalText == #"{"a":{"Z":true,"é":null},"b":[1,2.5,"x\n"]}"#)
    }

    @Test func keepsLargeIntegersExact() throws {
        #expect(try JSONParser.parse("9007199254740993") == .integer(9_007_199_254_740_993))
        #expect(try JSONParser.parse("1.0") == .number(1))
    }

    @Test(arguments: [
        ("{\"a\":1,\"a\":2}", "duplicate member \"a\""),
        ("[1,2", "unexpected end of input inside an array"),
        ("01", "leading zero in a number"),
        ("{\"a\":1} x", "unexpected text after the JSON value"),
        ("\"\\ud800\"", "unpaired surrogate in \\u escape"),
        ("\"a\tb\"", "control character in a string must be escaped"),
        ("NaN", "unexpected character, expected a value"),
        (String(repeating: "[", count: 70), "nesting deeper than 64 levels"),
    ])
    func rejectsMalformedText(text: String, message: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(text) }
        do {
            _ = try JSONParser.parse(text)
        } catch {
            #expect(error.message == message)
        }
    }

    @Test func reportsLineAndColumn() {
        do {
            _ = try JSONParser.parse("{\n  \"a\": tru\n}")
            Issue.record("parsed")
        } catch {
            #expect(error.description == "line 2, column 8: invalid literal, expected true")
        }
    }

    @Test func pointersFollowRFC6901() throws {
        let document = try JSONParser.parse(#"{"foo":["bar","baz"],"":0,"a/b":1,"m~n":8,"k":{"0":"zero"}}"#)
        #expect(document[JSONPointer("")!] == document)
        #expect(document[JSONPointer("/foo/1")!] == "baz")
        #expect(document[JSONPointer("/")!] == 0)
        #expect(document[JSONPointer("/a~1b")!] == 1)
        #expect(document[JSONPointer("/m~0n")!] == 8)
        #expect(document[JSONPointer("/k/0")!] == "zero")
        #expect(document[JSONPointer("/foo/01")!] == nil)
        #expect(document[JSONPointer("/foo/2")!] == nil)
        #expect(JSONPointer("foo") == nil)
        #expect(JSONPointer("/a~2") == nil)
        #expect(JSONPointer("/a~1b/c")?.description == "/a~1b/c")
    }

    @Test func codableMatchesTheParser() throws {
        let value: JSONValue = ["n": 1, "d": 2.5, "s": "x", "a": [true, nil], "o": [:]]
        #expect(try JSONParser.parse(value.canonicalText) == value)
    }
}
