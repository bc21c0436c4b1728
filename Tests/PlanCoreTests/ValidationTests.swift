import PlanCore
import Testing

/// A valid two-step plan with `extra` spliced into the top-level object.
private func doc(_ extra: String = "", steps: String? = nil) -> String {
    let steps = steps ?? #"[{"id":"a","call":"echo","input":{"x":1}},{"id":"b","call":"echo","input":{"$ref":"a"}}]"#
    return #"{"version":1,"steps":\#(steps)\#(extra)}"#
}

@Suite struct Validation {
    static let malformed: [(String, String)] = [
        (#"{"steps":[{"id":"a","call":"echo"}]}"#, "version: required"),
        (#"{"version":2,"steps":[{"id":"a","call":"echo"}]}"#, "version: unsupported version 2 (this planq reads version 1)"),
        (#"{"version":"1","steps":[{"id":"a","call":"echo"}]}"#, #"version: unsupported version "1" (this planq reads version 1)"#),
        (#"{"version":1}"#, "steps: required"),
        (doc(steps: "[]"), "steps: has 0 steps; a plan has 1 to 1000"),
        (doc(steps: "{}"), "steps: expected an array, found object"),
        (doc(steps: #"[{"id":"a","call":"echo"},{"id":"a","call":"echo"}]"#), #"steps[1].id: duplicate step id "a" (also steps[0])"#),
        (doc(steps: #"[{"id":"","call":"echo"}]"#), "steps[0].id: must not be empty"),
        (doc(steps: #"[{"call":"echo"}]"#), "steps[0].id: required"),
        (doc(steps: #"[{"id":"a b","call":"echo"}]"#), #"steps[0].id: "a b" may hold only letters, digits, '_', '-' and '.'"#),
        (doc(steps: #"[{"id":"a"}]"#), "steps[0].call: required"),
        (doc(steps: #"[{"id":"a","call":"echo","input":{"to":{"$ref":"nope"}}}]"#), #"steps[0].input.to: $ref "nope" names no earlier step"#),
        (doc(steps: #"[{"id":"a","call":"echo","input":{"$ref":"a"}}]"#), #"steps[0].input: $ref "a" names the step itself; only earlier steps can be referenced"#),
        (doc(steps: #"[{"id":"a","call":"echo","input":[{"$ref":"b"}]},{"id":"b","call":"echo"}]"#),
         #"steps[0].input[0]: $ref "b" names a later step (steps[1]); only earlier steps can be referenced"#),
        (doc(steps: #"[{"id":"a","call":"echo"},{"id":"b","call":"echo","input":{"$ref":"a","path":"body"}}]"#),
         #"steps[1].input.path: "body" is not a JSON pointer (RFC 6901: empty, or /name/0 with ~0 for ~ and ~1 for /)"#),
        (doc(steps: #"[{"id":"a","call":"echo","input":{"$input":"/x~9"}}]"#),
         #"steps[0].input.$input: "/x~9" is not a JSON pointer (RFC 6901: empty, or /name/0 with ~0 for ~ and ~1 for /)"#),
        (doc(steps: #"[{"id":"a","call":"echo","input":{"$item":""}}]"#), "steps[0].input: $item is only allowed in the input of a step with each"),
        (doc(steps: #"[{"id":"a","call":"echo"},{"id":"b","call":"echo","input":{"$ref":"a","extra":1}}]"#),
         #"steps[1].input.extra: unexpected beside "$ref""#),
        (doc(steps: #"[{"id":"a","call":"echo","input":{"$refs":"x"}}]"#),
         #"steps[0].input.$refs: unknown template "$refs" (known: $ref, $input, $item; wrap literal JSON in {"$literal": ...})"#),
        (doc(steps: #"[{"id":"a","call":"echo","each":{"n":1}}]"#), "steps[0].each: expected an array, a $ref or an $input template, found object"),
        (doc(steps: #"[{"id":"a","call":"echo","concurrency":4}]"#), "steps[0].concurrency: only an each step has a concurrency"),
        (doc(steps: #"[{"id":"a","call":"echo","each":[1],"concurrency":0}]"#), "steps[0].concurrency: 0 is out of range 1...1000"),
        (doc(steps: #"[{"id":"a","call":"echo","timeout":"10 s"}]"#),
         #"steps[0].timeout: "10 s" is not a duration (a whole number with ms, s, m, h or d, at most 366d)"#),
        (doc(steps: #"[{"id":"a","call":"echo","timeout":"0s"}]"#), "steps[0].timeout: must be longer than 0"),
        (doc(steps: #"[{"id":"a","call":"echo","retry":{"max_attempts":0}}]"#), "steps[0].retry.max_attempts: 0 is out of range 1...1000"),
        (doc(steps: #"[{"id":"a","call":"echo","colour":"red"}]"#), "steps[0].colour: unknown field"),
        (doc(#","priority":10"#), "priority: 10 is out of range 0...9"),
        (doc(#","priority":-1"#), "priority: -1 is out of range 0...9"),
        (doc(#","priority":1.5"#), "priority: expected an integer, found number"),
        (doc(#","queue":"""#), "queue: must not be empty"),
        (doc(#","idempotency_key":42"#), "idempotency_key: expected a string, found integer"),
        (doc(#","delay":"soon""#), #"delay: "soon" is not a duration (a whole number with ms, s, m, h or d, at most 366d)"#),
        (doc(#","delay":"1s","run_at":"2026-11-25T14:03:07Z""#), "run_at: give either delay or run_at, not both"),
        (doc(#","run_at":"next week""#), #"run_at: "next week" is not an RFC 3339 time such as 2026-11-25T14:03:07Z"#),
        (doc(#","retry":{"backoff":"random"}"#), #"retry.backoff: "random" is not one of "fixed", "linear", "exponential""#),
        (doc(#","retry":{"jitter":"half"}"#), #"retry.jitter: "half" is not one of "none", "full""#),
        (doc(#","retry":{"multiplier":1e9}"#), "retry.multiplier: 1000000000.0 is out of range 1.0...100.0"),
        (doc(#","retry":{"initial":"10m","max":"1m"}"#), "retry.initial: 10m is longer than max (1m)"),
        (doc(#","retry":{"non_retryable":"timeout"}"#), "retry.non_retryable: expected an array of at most 100 error codes, found string"),
        (doc(#","timeout":{"step":"30s","total":"1h"}"#), "timeout.total: unknown field"),
        (doc(#","timeout":{"job":"forever"}"#), #"timeout.job: "forever" is not a duration (a whole number with ms, s, m, h or d, at most 366d)"#),
        (doc(#","name":"x""#), "name: unknown field"),
        ("[1,2]", "expected an object, found array"),
        (#"{"version":1,"steps":[}"#, "invalid JSON at line 1, column 23: unexpected character, expected a value"),
    ]

    @Test(arguments: malformed)
    func rejectsWithThePlaceNamed(document: String, message: String) {
        #expect(issues(document) == [message])
    }

    @Test func reportsEveryIssueInOneDocument() {
        let text = #"{"version":1,"priority":12,"queue":"a b","steps":[{"id":"a","call":"echo","input":{"$ref":"zz"}},{"id":"a"}]}"#
        #expect(issues(text) == [
            #"queue: "a b" may hold only letters, digits, '_', '-' and '.'"#,
            "priority: 12 is out of range 0...9",
            #"steps[0].input: $ref "zz" names no earlier step"#,
            #"steps[1].id: duplicate step id "a" (also steps[0])"#,
            "steps[1].call: required",
        ])
    }

    @Test func rejectsDocumentsOverOneMiB() {
        let big = doc(#","input":{"blob":""# + String(repeating: "x", count: 1 << 20) + #""}"#)
        #expect(issues(big) == ["document is \(big.utf8.count) bytes, over the limit of 1048576 (1 MiB)"])
    }

    @Test func rejectsNonUTF8() {
        var bytes = Array(doc().utf8)
        bytes.insert(0xFF, at: 5)
        #expect(throws: PlanValidationError(issues: [PlanIssue(path: "", message: "document is not valid UTF-8")])) {
            try PlanDescription.decode(bytes, newKey: { "k" })
        }
    }

    @Test func rejectsTooManySteps() {
        let steps = "[" + (0...1000).map { #"{"id":"s\#($0)","call":"echo"}"# }.joined(separator: ",") + "]"
        #expect(issues(doc(steps: steps)) == ["steps: has 1001 steps; a plan has 1 to 1000"])
    }

    @Test func fillsDefaults() throws {
        let description = try plan(doc())
        #expect(description.idempotencyKey == "generated-key")
        #expect(description.queue == "default")
        #expect(description.priority == 0)
        #expect(description.retry == .standard)
        #expect(description.timeout == .standard)
        #expect(description.input == [:])
        #expect(description.start == nil)
    }

    @Test func stepRetryOverridesOnlyWhatItNames() throws {
        let description = try plan(doc(#","retry":{"max_attempts":7,"backoff":"linear"}"#,
                                       steps: #"[{"id":"a","call":"echo","retry":{"max_attempts":2}}]"#))
        let step = description.steps[0]
        #expect(description.retryPolicy(for: step).maxAttempts == 2)
        #expect(description.retryPolicy(for: step).backoff == .linear)
    }

    @Test func canonicalFormRoundTrips() throws {
        let text = #"""
        {"version":1,"idempotency_key":"welcome/user-42","queue":"emails","priority":3,"delay":"90s",
         "input":{"user_id":42,"literal":{"$literal":{"$schema":"x"}}},
         "steps":[{"id":"fetch","call":"http.request","input":{"method":"GET","url":{"$input":"/profile_url"}}},
                  {"id":"render","call":"echo","input":{"to":{"$ref":"fetch","path":"/body/email"}}},
                  {"id":"fanout","call":"echo","each":{"$ref":"fetch","path":"/body/items"},"input":{"item":{"$item":""}},"concurrency":4,
                   "timeout":"10s","retry":{"max_attempts":3}}],
         "retry":{"max_attempts":5,"backoff":"exponential","initial":"1s","max":"5m","multiplier":2,"jitter":"full","non_retryable":["not_found"]},
         "timeout":{"step":"30s","job":"10m"}}
        """#
        let description = try plan(text)
        let canonical = description.canonicalText
        let again = try plan(canonical)
        #expect(again == description)
        #expect(again.canonicalText == canonical)
        #expect(canonical.hasPrefix(#"{"delay":"90s","idempotency_key":"welcome/user-42","input":{"literal":"#))
    }
}
