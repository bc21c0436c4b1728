import Foundation
import PlanCore
import Testing

@Suite struct CheckCommand {
    @Test func printsTheCanonicalFormOfEverySample() throws {
        let outcome = try Planq.run(["check", "--canonical", "Examples/welcome.json", "Examples/fanout.json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        let welcome = try PlanDescription.decode(Array(lines[0].utf8), newKey: { "unused" })
        #expect(welcome.idempotencyKey == "example/welcome-ada")
        #expect(welcome.canonicalText == lines[0])
    }

    @Test func anInvalidPlanExits65NamingFileAndPlace() throws {
        let outcome = try Planq.run(["check", "-"], input: #"{"version":1,"priority":99,"steps":[{"id":"a","call":"echo","input":{"$ref":"b"}}]}"#)
        #expect(outcome.status == 65)
        #expect(outcome.stdout.isEmpty)
        #expect(outcome.stderr == """
            planq: -: priority: 99 is out of range 0...9
            planq: -: steps[0].input: $ref "b" names no earlier step

            """)
    }

    @Test func aMissingFileIsAUsageError() throws {
        let outcome = try Planq.run(["check", "no/such/plan.json"])
        #expect(outcome.status == 64)
        #expect(outcome.stderr == "planq: no/such/plan.json: cannot read the file: No such file or directory\n")
    }
}
