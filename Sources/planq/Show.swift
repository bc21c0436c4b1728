import ArgumentParser
import PlanCore
import PlanStore

/// Shows one job.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one job: plan, state, every step's outcome, its history.")

    @OptionGroup var job: JobSelector
    @OptionGroup var database: DatabaseOption
    @OptionGroup var output: OutputOption

    func run() async throws {
        let store = try database.open(create: false)
        let detail = try await Console.run { try await store.detail(job.reference) }
        if output.json {
            Console.printJSON(detail.json)
            return
        }
        let summary = detail.summary
        print("job \(summary.id)  \(summary.idempotencyKey.printable)")
        print("state \(summary.state.rawValue)  queue \(summary.queue)  priority \(summary.priority)  runs \(summary.runs)")
        print("created \(summary.createdAt)  run_at \(summary.runAt)  finished \(summary.finishedAt ?? "-")")
        if let result = detail.result { print("result \(result.canonicalText.printable)") }
        if let error = detail.error { print("error \(error.canonicalText.printable)") }
        print("plan \(detail.plan.canonicalText.printable)")
        print("\nsteps")
        let steps: [[String]] = detail.steps.map { step in
            let shown: JSONValue? = step.output ?? step.error
            return [step.id, step.outcome?.rawValue ?? "running", String(step.attempts), shown?.canonicalText ?? ""]
        }
        print(Table.render(header: ["STEP", "OUTCOME", "ATTEMPTS", "OUTPUT / ERROR"], rows: steps))
        print("\nevents")
        print(Table.render(header: ["AT", "KIND", "DETAIL"], rows: detail.events.map { [$0.at, $0.kind.rawValue, $0.detail?.canonicalText ?? ""] }))
    }
}
