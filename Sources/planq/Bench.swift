import ArgumentParser
import Foundation
import PlanCore
import PlanStore

/// Measures planq on this machine.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure planq on a temporary database with production pragmas.",
        discussion: "Today: claim+finish cycles per second without history and with --history finished jobs in the table.")

    @Option(help: "Finished jobs in the history case.")
    var history = 100_000
    @Option(help: "Claim+finish cycles measured in each case.")
    var cycles = 2000
    @Option(help: "synchronous pragma: full (production default) or normal.")
    var synchronous: Durability = .full
    @OptionGroup var output: OutputOption

    func validate() throws {
        guard history >= 0, cycles > 0 else { throw ValidationError("--history must be 0 or more, --cycles above 0") }
    }

    func run() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("planq-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let figures = try Console.run {
            try ClaimHistoryBenchmark(folder: folder.path, history: history, cycles: cycles, durability: synchronous).run()
        }
        if output.json {
            Console.printJSON([
                "synchronous": .string(synchronous.rawValue), "history_jobs": .integer(Int64(history)),
                "claim_cycle_per_s_empty": .number(figures.cyclesPerSecondEmpty.rounded()),
                "claim_cycle_per_s_history": .number(figures.cyclesPerSecondWithHistory.rounded()),
                "claim_history_ratio": .number((figures.ratio * 1000).rounded() / 1000),
            ])
            return
        }
        print(Table.render(header: ["FIGURE", "VALUE"], rows: [
            ["synchronous", synchronous.rawValue],
            ["claim+finish cycles/s, no history", String(Int(figures.cyclesPerSecondEmpty))],
            ["claim+finish cycles/s, \(history) finished jobs", String(Int(figures.cyclesPerSecondWithHistory))],
            ["ratio (1 = history costs nothing)", String(format: "%.3f", figures.ratio)],
        ]))
    }
}
