extension PlanReader {
    static let planFields: Set<JSONKey> = ["version", "idempotency_key", "queue", "priority", "delay", "run_at", "input", "steps", "retry", "timeout", "traceparent"]
    static let stepFields: Set<JSONKey> = ["id", "call", "input", "each", "concurrency", "retry", "timeout"]
    static let retryFields: Set<JSONKey> = ["max_attempts", "backoff", "initial", "max", "multiplier", "jitter", "non_retryable"]

    mutating func readPlan(_ json: JSONValue, newKey: () -> String) -> PlanDescription? {
        guard let members = object(json, at: "", allowed: Self.planFields) else { return nil }
        switch members["version"] {
        case nil: report("version", "required")
        case .integer(Int64(PlanDescription.supportedVersion)), .number(Double(PlanDescription.supportedVersion)): break
        case let other?: report("version", "unsupported version \(other.canonicalText) (this planq reads version 1)")
        }
        let key = string(members["idempotency_key"], at: "idempotency_key", pattern: .key) ?? newKey()
        let queue = string(members["queue"], at: "queue", pattern: .identifier) ?? "default"
        let priority = integer(members["priority"], at: "priority", in: PlanDescription.priorities) ?? 0
        var start: PlanStart?
        if members["delay"] != nil && members["run_at"] != nil {
            report("run_at", "give either delay or run_at, not both")
        } else if let delay = duration(members["delay"], at: "delay", positive: false) {
            start = .delay(delay)
        } else if let text = string(members["run_at"], at: "run_at") {
            if let time = Timestamp(rfc3339: text) {
                start = .runAt(time)
            } else {
                report("run_at", "\"\(text)\" is not an RFC 3339 time such as 2026-11-25T14:03:07Z")
            }
        }
        let retry = members["retry"].flatMap { readRetry($0, at: "retry", over: .standard) } ?? .standard
        let timeout = members["timeout"].flatMap { readTimeouts($0) } ?? .standard
        let steps = readSteps(members["steps"], jobRetry: retry)
        let traceparent = string(members["traceparent"], at: "traceparent")
        if let traceparent, let problem = Traceparent.problem(traceparent) { report("traceparent", problem) }
        return PlanDescription(
            idempotencyKey: key, queue: queue, priority: priority, start: start, input: members["input"] ?? [:],
            steps: steps, retry: retry, timeout: timeout, traceparent: traceparent)
    }

    mutating func readRetry(_ json: JSONValue, at path: String, over base: RetryPolicy) -> RetryPolicy? {
        guard let members = object(json, at: path, allowed: Self.retryFields) else { return nil }
        var policy = base
        if let value = integer(members["max_attempts"], at: join(path, "max_attempts"), in: 1...1000) { policy.maxAttempts = value }
        if let value = oneOf(members["backoff"], at: join(path, "backoff"), as: Backoff.self) { policy.backoff = value }
        if let value = duration(members["initial"], at: join(path, "initial"), positive: false) { policy.initial = value }
        if let value = duration(members["max"], at: join(path, "max"), positive: false) { policy.max = value }
        if let value = number(members["multiplier"], at: join(path, "multiplier"), in: 1...100) { policy.multiplier = value }
        if let value = oneOf(members["jitter"], at: join(path, "jitter"), as: Jitter.self) { policy.jitter = value }
        if let value = members["non_retryable"] {
            if let codes = value.arrayValue, codes.count <= 100 {
                policy.nonRetryable = codes.enumerated().compactMap { index, code in
                    string(code, at: "\(join(path, "non_retryable"))[\(index)]", pattern: .identifier)
                }
            } else {
                report(join(path, "non_retryable"), "expected an array of at most 100 error codes, found \(value.kindName)")
            }
        }
        if policy.initial > policy.max {
            report(join(path, "initial"), "\(policy.initial) is longer than max (\(policy.max))")
        }
        return policy
    }

    mutating func readTimeouts(_ json: JSONValue) -> PlanTimeouts? {
        guard let members = object(json, at: "timeout", allowed: ["step", "job"]) else { return nil }
        return PlanTimeouts(
            step: duration(members["step"], at: "timeout.step", positive: true) ?? PlanTimeouts.standard.step,
            job: duration(members["job"], at: "timeout.job", positive: true))
    }

    mutating func readSteps(_ json: JSONValue?, jobRetry: RetryPolicy) -> [PlanStep] {
        guard let json else {
            report("steps", "required")
            return []
        }
        guard let elements = json.arrayValue else {
            report("steps", "expected an array, found \(json.kindName)")
            return []
        }
        guard (1...PlanDescription.maxSteps).contains(elements.count) else {
            report("steps", "has \(elements.count) steps; a plan has 1 to \(PlanDescription.maxSteps)")
            return []
        }
        var steps: [PlanStep] = []
        var seen: [String: Int] = [:]
        let allIDs = elements.map { $0.objectValue?["id"]?.stringValue }
        for (index, element) in elements.enumerated() {
            let path = "steps[\(index)]"
            guard let members = object(element, at: path, allowed: Self.stepFields) else { continue }
            let id = string(members["id"], at: "\(path).id", pattern: .identifier)
            if members["id"] == nil { report("\(path).id", "required") }
            if let id, let first = seen[id] {
                report("\(path).id", "duplicate step id \"\(id)\" (also steps[\(first)])")
            } else if let id {
                seen[id] = index
            }
            let call = string(members["call"], at: "\(path).call", pattern: .identifier)
            if members["call"] == nil { report("\(path).call", "required") }
            let scope = TemplateScope(earlier: Set(allIDs[..<index].compactMap { $0 }), all: allIDs, current: index, itemAllowed: false)
            let each = members["each"].map { readTemplate($0, at: "\(path).each", scope: scope) }
            switch (members["each"], each) {
            case (.array?, _), (_, .ref?), (_, .input?), (nil, _): break
            case (let value?, _):
                report("\(path).each", "expected an array, a $ref or an $input template, found \(value.kindName)")
            }
            var inputScope = scope
            inputScope.itemAllowed = each != nil
            let input = members["input"].map { readTemplate($0, at: "\(path).input", scope: inputScope) } ?? .literal([:])
            let concurrency = integer(members["concurrency"], at: "\(path).concurrency", in: 1...1000) ?? 1
            if members["concurrency"] != nil && each == nil { report("\(path).concurrency", "only an each step has a concurrency") }
            let retry = members["retry"].flatMap { readRetry($0, at: "\(path).retry", over: jobRetry) }
            let timeout = duration(members["timeout"], at: "\(path).timeout", positive: true)
            if let id, let call {
                steps.append(PlanStep(id: id, call: call, input: input, each: each, concurrency: concurrency, retry: retry, timeout: timeout))
            }
        }
        return steps
    }
}
