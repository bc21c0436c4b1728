-- Schedules: plans that enqueue themselves on a calendar. Each fire time becomes one job, with
-- the idempotency key schedule:NAME:<fire time in UTC>, enqueued by whichever worker advances
-- next_fire_at in the same transaction. kind 'cron' keeps a cron expression in spec, read in
-- time_zone (an IANA name); kind 'every' keeps an interval (a duration such as 30s), counted from
-- the Unix epoch. catch_up says what a worker does with fire times missed while none ran.
CREATE TABLE schedules (
    name          TEXT    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    kind          TEXT    NOT NULL CHECK (kind IN ('cron', 'every')),
    spec          TEXT    NOT NULL,
    time_zone     TEXT    NOT NULL DEFAULT 'UTC',
    catch_up      TEXT    NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('none', 'latest', 'all')),
    plan          TEXT    NOT NULL CHECK (json_valid(plan)),
    paused        INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    next_fire_at  TEXT,
    last_fired_at TEXT,
    fired         INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
) STRICT;

CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0 AND next_fire_at IS NOT NULL;

-- job_events learns the kind schedule_fired (the first event of a job a schedule enqueued): its
-- CHECK is rebuilt with the table, and the view over it with them.
DROP VIEW job_history;
CREATE TABLE job_events_new (
    id     INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at     TEXT    NOT NULL,
    kind   TEXT    NOT NULL CHECK (kind IN ('enqueued', 'claimed', 'step_started', 'step_succeeded', 'step_failed',
                                            'retry_scheduled', 'lease_expired', 'released', 'succeeded', 'failed',
                                            'cancelled', 'retried', 'schedule_fired')),
    detail TEXT    CHECK (detail IS NULL OR json_valid(detail))
) STRICT;
INSERT INTO job_events_new (id, job_id, at, kind, detail) SELECT id, job_id, at, kind, detail FROM job_events;
DROP TABLE job_events;
ALTER TABLE job_events_new RENAME TO job_events;
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE VIEW job_history AS
SELECT e.job_id, j.idempotency_key, e.id AS event_id, e.at, e.kind, e.detail
FROM job_events e JOIN jobs j ON j.id = e.job_id
UNION ALL
SELECT s.job_id, j.idempotency_key, s.started_event, s.started_at, 'step_started',
       json_object('attempt', s.attempt, 'step', s.step_id)
FROM step_results s JOIN jobs j ON j.id = s.job_id
WHERE s.started_event IS NOT NULL
UNION ALL
SELECT s.job_id, j.idempotency_key, s.finished_event, s.finished_at,
       CASE s.outcome WHEN 'ok' THEN 'step_succeeded' ELSE 'step_failed' END,
       CASE WHEN s.error IS NULL THEN json_object('attempt', s.attempt, 'step', s.step_id)
            ELSE json_object('attempt', s.attempt, 'error', json(s.error), 'step', s.step_id) END
FROM step_results s JOIN jobs j ON j.id = s.job_id
WHERE s.finished_event IS NOT NULL;
