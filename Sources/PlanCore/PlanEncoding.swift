extension PlanDescription {
    /// The description as a plan document with every default written out; decoding it gives this
    /// description back.
    public var json: JSONValue {
        var members: [JSONKey: JSONValue] = [
            "version": .integer(Int64(Self.supportedVersion)),
            "idempotency_key": .string(idempotencyKey),
            "queue": .string(queue),
            "priority": .integer(Int64(priority)),
            "input": input,
            "steps": .array(steps.map(\.json)),
            "retry": retry.json,
            "timeout": timeout.json,
        ]
        if let traceparent { members["traceparent"] = .string(traceparent) }
        switch start {
        case .delay(let delay)?: members["delay"] = .string(delay.text)
        case .runAt(let time)?: members["run_at"] = .string(time.iso8601)
        case nil: break
        }
        return .object(members)
    }

    /// The canonical JSON text of `json`: the stored form, so what `sqlite3` shows is what runs.
    public var canonicalText: String { json.canonicalText }
}

extension PlanStep {
    var json: JSONValue {
        var members: [JSONKey: JSONValue] = ["id": .string(id), "call": .string(call), "input": input.json]
        if let each {
            members["each"] = each.json
            members["concurrency"] = .integer(Int64(concurrency))
        }
        if let retry { members["retry"] = retry.json }
        if let timeout { members["timeout"] = .string(timeout.text) }
        return .object(members)
    }
}

extension RetryPolicy {
    var json: JSONValue {
        [
            "max_attempts": .integer(Int64(maxAttempts)),
            "backoff": .string(backoff.rawValue),
            "initial": .string(initial.text),
            "max": .string(max.text),
            "multiplier": multiplier == multiplier.rounded() ? .integer(Int64(multiplier)) : .number(multiplier),
            "jitter": .string(jitter.rawValue),
            "non_retryable": .array(nonRetryable.map { .string($0) }),
        ]
    }
}

extension PlanTimeouts {
    var json: JSONValue {
        var members: [JSONKey: JSONValue] = ["step": .string(step.text)]
        if let job { members["job"] = .string(job.text) }
        return .object(members)
    }
}
