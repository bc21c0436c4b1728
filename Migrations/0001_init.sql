-- planq schema, version 1. Timestamps are ISO-8601 UTC text with milliseconds
-- (2026-11-25T14:03:07.123Z), so they sort as text and read without conversion.

-- One row per job. state: pending | running | succeeded | failed | cancelled.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    queue            TEXT    NOT NULL,
    priority         INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    run_at           TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    finished_at      TEXT,
    plan             TEXT    NOT NULL CHECK (json_valid(plan)),
    result           TEXT    CHECK (result IS NULL OR json_valid(result)),
    last_error       TEXT    CHECK (last_error IS NULL OR json_valid(last_error)),
    runs             INTEGER NOT NULL DEFAULT 0,   -- claims so far
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    lease_owner      TEXT,                          -- "host/pid", for people
    lease_host       TEXT,
    lease_boot_id    TEXT,
    lease_pid        INTEGER,
    lease_pid_start  INTEGER,                       -- the owner's start time, clock ticks after boot
    lease_expires_at TEXT,
    lease_token      INTEGER NOT NULL DEFAULT 0     -- fencing token: grows with every claim
) STRICT;

-- Claim: due pending jobs of one queue in order of priority, run_at, id.
CREATE INDEX jobs_due ON jobs (queue, priority, run_at, id) WHERE state = 'pending';
-- Lease recovery scans only running jobs.
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE state = 'running';
-- Prune and throughput scan only finished jobs.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- list --state, stats.
CREATE INDEX jobs_state ON jobs (state, queue);

-- One row per execution of a step; an each element is STEP[i]. outcome: NULL while in flight,
-- then ok | error | cancelled. Rows set aside by `planq retry` stay with superseded = 1.
CREATE TABLE step_results (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_id     TEXT    NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    outcome     TEXT    CHECK (outcome IN ('ok', 'error', 'cancelled')),
    output      TEXT    CHECK (output IS NULL OR json_valid(output)),
    error       TEXT    CHECK (error IS NULL OR json_valid(error)),
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    lease_token INTEGER NOT NULL,
    superseded  INTEGER NOT NULL DEFAULT 0 CHECK (superseded IN (0, 1))
) STRICT;

CREATE UNIQUE INDEX step_results_attempt ON step_results (job_id, step_id, attempt) WHERE superseded = 0;
-- At most one current success per (job, step): a recorded success is never written twice.
CREATE UNIQUE INDEX step_results_one_ok ON step_results (job_id, step_id) WHERE outcome = 'ok' AND superseded = 0;

-- The history. kind: enqueued | claimed | step_started | step_succeeded | step_failed |
-- retry_scheduled | lease_expired | released | succeeded | failed | cancelled | retried.
CREATE TABLE job_events (
    id     INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at     TEXT    NOT NULL,
    kind   TEXT    NOT NULL CHECK (kind IN ('enqueued', 'claimed', 'step_started', 'step_succeeded', 'step_failed',
                                            'retry_scheduled', 'lease_expired', 'released', 'succeeded', 'failed',
                                            'cancelled', 'retried')),
    detail TEXT    CHECK (detail IS NULL OR json_valid(detail))
) STRICT;

CREATE INDEX job_events_job ON job_events (job_id, id);

-- What the workers registered.
CREATE TABLE capabilities (
    name          TEXT PRIMARY KEY,
    worker        TEXT NOT NULL,
    registered_at TEXT NOT NULL
) STRICT;

-- Every queue that has seen a job; paused queues are not claimed from, and enqueue refuses
-- (exit 75) once max_pending jobs of a queue are pending.
CREATE TABLE queues (
    name        TEXT    PRIMARY KEY,
    paused      INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    max_pending INTEGER CHECK (max_pending IS NULL OR max_pending >= 0)
) STRICT;

-- One row per job with its progress, for people.
CREATE VIEW job_overview AS
SELECT j.id,
       j.idempotency_key,
       j.queue,
       j.priority,
       j.state,
       j.runs,
       (SELECT count(*) FROM step_results s WHERE s.job_id = j.id AND s.outcome = 'ok' AND s.superseded = 0
          AND instr(s.step_id, '[') = 0) AS steps_done,
       json_array_length(j.plan, '$.steps') AS steps_total,
       j.run_at,
       j.created_at,
       j.finished_at,
       j.last_error ->> '$.code' AS error_code,
       j.last_error ->> '$.message' AS error_message
FROM jobs j;

-- Every event with its job's key, in order.
CREATE VIEW job_history AS
SELECT e.job_id, j.idempotency_key, e.id AS event_id, e.at, e.kind, e.detail
FROM job_events e JOIN jobs j ON j.id = e.job_id;
