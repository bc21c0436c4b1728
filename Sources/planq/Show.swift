import ArgumentParser
import Foundation
import PlanCore
import PlanStore

/// Shows one job.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one job: plan, state, every step's outcome, its history.")

    @OptionGroup var job: JobSelector
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func run() async throws {
        let store = try await database.open(create: false)
        let detail = try await Console.run { try await store.detail(job.reference) }
        if output.json {
            Console.printJSON(detail.json)
            return
        }
        let summary = detail.summary
        let now = Timestamp.now()
        let finished = summary.finishedAt.map { "  finished \(RelativeTime.since($0, now: now))" } ?? ""
        print("job \(summary.id)  \(summary.idempotencyKey.printable)")
        print("state \(summary.state.rawValue)  queue \(summary.queue)  priority \(summary.priority)  runs \(summary.runs)")
        print("created \(RelativeTime.since(summary.createdAt, now: now))  run_at \(RelativeTime.since(summary.runAt, now: now))\(finished)"
              + (RelativeTime.between(summary.createdAt, summary.finishedAt).map { "  took \($0)" } ?? ""))
        if let result = detail.result { print("result \(result.canonicalText.printable)") }
        if let error = detail.error { print("error \(error.canonicalText.printable)") }
        print("plan \(detail.plan.canonicalText.printable)")
        print("\nsteps")
        let steps: [[String]] = detail.steps.map { step in
            let shown: JSONValue? = step.output ?? step.error
            let duration = RelativeTime.between(step.startedAt, step.finishedAt ?? (step.state == .running ? now.iso8601 : nil)) ?? "-"
            return [step.id, step.state.rawValue.replacingOccurrences(of: "_", with: " "), String(step.attempts), duration, shown?.canonicalText ?? ""]
        }
        print(Table.render(header: ["STEP", "STATE", "ATTEMPTS", "DURATION", "OUTPUT / ERROR"], rows: steps))
        print("\nevents")
        print(Table.render(header: ["AT", "WHEN", "KIND", "DETAIL"],
                           rows: detail.events.map { [$0.at, RelativeTime.since($0.at, now: now), $0.kind.rawValue, $0.detail?.canonicalText ?? ""] }))
    }
}
