import PlanCore

/// One row of `step_results` as `detail` reads it, whatever the store.
package struct StepExecution: Sendable {
    package let key: String
    package let superseded: Bool
    package let outcome: String?
    package let output: JSONValue?
    package let error: JSONValue?
    package let startedAt: String?
    package let finishedAt: String?

    package init(key: String, superseded: Bool, outcome: String?, output: JSONValue?, error: JSONValue?, startedAt: String?, finishedAt: String?) {
        self.key = key
        self.superseded = superseded
        self.outcome = outcome
        self.output = output
        self.error = error
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

extension StepSummary {
    /// Every step of `plan` in order, each `each` element after its step, then any other step key
    /// with executions: where each stands, from its latest execution. `executions` in the order
    /// they were recorded.
    package static func summaries(plan: JSONValue, executions: [StepExecution]) throws(StoreError) -> [StepSummary] {
        var rows: [String: (current: [StepExecution], setAside: Bool)] = [:]
        var keys: [String] = []
        for execution in executions {
            if rows[execution.key] == nil { keys.append(execution.key) }
            if execution.superseded { rows[execution.key, default: ([], false)].setAside = true } else { rows[execution.key, default: ([], false)].current.append(execution) }
        }
        let planned = plan[JSONPointer(tokens: ["steps"])]?.arrayValue?.compactMap { $0[JSONPointer(tokens: ["id"])]?.stringValue } ?? []
        var ordered: [String] = []
        for step in planned {
            ordered.append(step)
            ordered += keys.filter { $0.hasPrefix(step + "[") && $0.hasSuffix("]") }
        }
        ordered += keys.filter { !ordered.contains($0) }
        var summaries: [StepSummary] = []
        for key in ordered {
            let current = rows[key]?.current ?? []
            guard let last = current.last else {
                summaries.append(StepSummary(id: key, state: rows[key]?.setAside == true ? .setAside : .notStarted, outcome: nil, attempts: 0,
                                             output: nil, error: nil))
                continue
            }
            var outcome: StepOutcome?
            if let text = last.outcome {
                guard let known = StepOutcome(rawValue: text) else { throw .corruptValue("step outcome \(text.quoted)") }
                outcome = known
            }
            let state: StepSummary.State = switch outcome {
            case nil: .running
            case .ok?: .ok
            case .error?: .failed
            case .cancelled?: .cancelled
            }
            let output = current.first { $0.outcome == StepOutcome.ok.rawValue }?.output
            summaries.append(StepSummary(id: key, state: state, outcome: outcome, attempts: current.count, output: output, error: last.error,
                                         startedAt: last.startedAt, finishedAt: last.finishedAt))
        }
        return summaries
    }
}
