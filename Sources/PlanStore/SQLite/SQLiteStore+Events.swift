import PlanCore

extension SQLiteStore {
    public func events(_ filter: EventFilter, after cursor: EventCursor?, limit: Int) async throws(StoreError) -> (events: [HistoryEvent], cursor: EventCursor) {
        try read { connection in
            // One snapshot: the cursor covers exactly the events read.
            try connection.execute("BEGIN")
            defer { try? connection.execute("COMMIT") }
            let jobID = try filter.job.map { try resolve($0, connection).id }
            let next = try connection.query(
                """
                SELECT max(coalesce((SELECT last FROM history_sequence WHERE id = 1), 0), coalesce((SELECT max(id) FROM job_events), 0)) AS last,
                    coalesce((SELECT min(s.id) FROM jobs j JOIN step_results s ON s.job_id = j.id
                              WHERE j.state IN ('running', 'pending') AND s.finished_at IS NULL),
                             (SELECT coalesce(max(id), 0) + 1 FROM step_results)) AS floor
                """)[0]
            let newCursor = EventCursor(lastEventID: try next.int("last"), stepRowFloor: try next.int("floor"))
            // After a cursor, only jobs with events since can have new ones: those of new job_events,
            // and those of step executions at or above the floor (the only ones that can still gain one).
            let recentJobs = cursor == nil ? "" : """
                AND h.job_id IN (SELECT job_id FROM job_events WHERE id > ?4 UNION SELECT job_id FROM step_results WHERE id >= ?5)
                """
            let order = cursor == nil ? "DESC" : "ASC"
            let rows = try connection.query(
                """
                SELECT h.event_id, h.job_id, h.idempotency_key, j.queue, h.at, h.kind, h.detail
                FROM job_history h JOIN jobs j ON j.id = h.job_id
                WHERE (?1 IS NULL OR h.job_id = ?1) AND (?2 IS NULL OR j.queue = ?2) AND (?3 IS NULL OR h.at >= ?3)
                    AND h.event_id > ?4 AND h.event_id <= ?6 \(recentJobs)
                ORDER BY h.event_id \(order) LIMIT ?7
                """,
                [jobID.map { .integer($0) } ?? .null, filter.queue.map { .text($0) } ?? .null, filter.since.map { .time($0) } ?? .null,
                 .integer(cursor?.lastEventID ?? 0), .integer(cursor?.stepRowFloor ?? 0), .integer(newCursor.lastEventID),
                 .integer(Int64(limit))])
            var events = try rows.map { row in
                HistoryEvent(eventID: try row.int("event_id"), jobID: try row.int("job_id"), idempotencyKey: try row.text("idempotency_key"),
                             queue: try row.text("queue"), at: try row.text("at"), kind: try row.eventKind(), detail: try row.json("detail"))
            }
            if cursor == nil { events.reverse() }
            // Cut short by the limit: read on from the last event returned, with the same floor as before.
            if cursor != nil, events.count == limit, let last = events.last {
                return (events, EventCursor(lastEventID: last.eventID, stepRowFloor: cursor!.stepRowFloor))
            }
            return (events, newCursor)
        }
    }
}
