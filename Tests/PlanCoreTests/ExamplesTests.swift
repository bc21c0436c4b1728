import Foundation
import PlanCore
import Testing

/// Every sample plan validates against the JSON Schema (with Python's `jsonschema`) and against PlanCore.
@Suite struct Examples {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let schema = root.appendingPathComponent("schema/plan-v1.schema.json")
    static let files = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Examples").path)) ?? [])
        .filter { $0.hasSuffix(".json") }.sorted().map { root.appendingPathComponent("Examples/\($0)") }

    /// Runs Python's jsonschema on `document`; the exit status and what it printed.
    static func schemaCheck(_ document: URL) throws -> (Int32, String) {
        let script = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
        for e in errors: print("/".join(map(str, e.absolute_path)), e.message)
        sys.exit(1 if errors else 0)
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, schema.path, document.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func thereAreSamples() {
        #expect(Self.files.count >= 3)
    }

    @Test(arguments: files)
    func validatesAgainstSchemaAndCore(file: URL) throws {
        let (status, output) = try Self.schemaCheck(file)
        #expect(status == 0, "\(output)")
        let description = try PlanDescription.decode(Array(try Data(contentsOf: file)), newKey: { "unused" })
        let canonical = try temporary(description.canonicalText)
        defer { try? FileManager.default.removeItem(at: canonical) }
        let (canonicalStatus, canonicalOutput) = try Self.schemaCheck(canonical)
        #expect(canonicalStatus == 0, "the canonical form validates too: \(canonicalOutput)")
    }

    @Test func theSchemaRejectsWhatTheCoreRejects() throws {
        for text in [
            #"{"version":1,"steps":[{"id":"a","call":"echo","input":{"$refs":"x"}}]}"#,
            #"{"version":1,"steps":[{"id":"a","call":"echo","timeout":"10 s"}]}"#,
            #"{"version":1,"steps":[{"id":"a","call":"echo","concurrency":3}]}"#,
            #"{"version":1,"priority":10,"steps":[{"id":"a","call":"echo"}]}"#,
            #"{"version":1,"steps":[{"id":"a","call":"echo"}],"delay":"1s","run_at":"2026-11-25T14:03:07Z"}"#,
            #"{"version":1,"steps":[{"id":"x","call":"echo"},{"id":"a","call":"echo","each":{"$literal":[1]}}]}"#,
            #"{"version":1,"steps":[{"id":"x","call":"echo"},{"id":"a","call":"echo","each":{"n":{"$ref":"x"}}}]}"#,
            #"{"version":1,"priority":1.5,"steps":[{"id":"a","call":"echo"}]}"#,
            #"{"version":1,"idempotency_key":"a\u202eb","steps":[{"id":"a","call":"echo"}]}"#,
            #"{"version":1,"idempotency_key":"a\u0085b","steps":[{"id":"a","call":"echo"}]}"#,
            #"{"version":1,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7","steps":[{"id":"a","call":"echo"}]}"#,
            #"{"version":1,"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01","steps":[{"id":"a","call":"echo"}]}"#,
            #"{"version":1,"traceparent":"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01","steps":[{"id":"a","call":"echo"}]}"#,
        ] {
            #expect(throws: PlanValidationError.self) { try PlanDescription.decode(Array(text.utf8), newKey: { "k" }) }
            let file = try temporary(text)
            defer { try? FileManager.default.removeItem(at: file) }
            #expect(try Self.schemaCheck(file).0 == 1, "schema rejects \(text)")
        }
    }

    @Test func theSchemaAcceptsWhatTheCoreAccepts() throws {
        for text in [
            #"{"version":1.0,"priority":2.0,"retry":{"max_attempts":3.0},"steps":[{"id":"a","call":"echo"}]}"#,
            #"{"version":1,"steps":[{"id":"x","call":"echo"},{"id":"a","call":"echo","each":[{"$ref":"x"},2]}]}"#,
            #"{"version":1,"steps":[{"id":"a","call":"echo","each":{"$input":"/items"}}]}"#,
            #"{"version":1,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","steps":[{"id":"a","call":"echo"}]}"#,
        ] {
            _ = try PlanDescription.decode(Array(text.utf8), newKey: { "k" })
            let file = try temporary(text)
            defer { try? FileManager.default.removeItem(at: file) }
            #expect(try Self.schemaCheck(file).0 == 0, "schema accepts \(text)")
        }
    }

    private func temporary(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString).json")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }
}
