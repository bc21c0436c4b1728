-- planq's schema on PostgreSQL: the tables, columns, views and event kinds of the SQLite store at
-- its migration 0008, with PostgreSQL's types: times are timestamptz, flags are 0/1 integers as on
-- SQLite (so the operator queries read the same). JSON is json, kept as written: json would rewrite
-- numbers (1e+18 reads back as the integer 1000000000000000000), and replay must read back what was
-- recorded.

CREATE TABLE jobs (
    id               bigserial   PRIMARY KEY,
    idempotency_key  text        NOT NULL UNIQUE,
    queue            text        NOT NULL,
    priority         integer     NOT NULL CHECK (priority BETWEEN 0 AND 9),
    state            text        NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    run_at           timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    plan             json       NOT NULL,
    result           json,
    last_error       json,
    runs             integer     NOT NULL DEFAULT 0,
    cancel_requested integer     NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    lease_owner      text,
    lease_host       text,
    lease_boot_id    text,
    lease_pid        integer,
    lease_pid_start  bigint,
    lease_expires_at timestamptz,
    lease_token      bigint      NOT NULL DEFAULT 0
);
CREATE INDEX jobs_due ON jobs (queue, priority, run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at, state, queue) WHERE finished_at IS NOT NULL;

CREATE TABLE step_results (
    id             bigserial   PRIMARY KEY,
    job_id         bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_id        text        NOT NULL,
    attempt        integer     NOT NULL CHECK (attempt >= 1),
    outcome        text        CHECK (outcome IN ('ok', 'error', 'cancelled')),
    output         json,
    error          json,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    lease_token    bigint      NOT NULL,
    superseded     integer     NOT NULL DEFAULT 0 CHECK (superseded IN (0, 1)),
    started_event  bigint,
    finished_event bigint
);
CREATE UNIQUE INDEX step_results_attempt ON step_results (job_id, step_id, attempt) WHERE superseded = 0;
CREATE UNIQUE INDEX step_results_one_ok ON step_results (job_id, step_id) WHERE outcome = 'ok' AND superseded = 0;
CREATE INDEX step_results_job ON step_results (job_id);

-- The history's order: every event and step start or end takes the next positions. The row is
-- locked by the transaction that takes them until it commits, so positions commit in order and a
-- reader following the history never skips one.
CREATE TABLE history_sequence (
    id   integer PRIMARY KEY CHECK (id = 1),
    last bigint  NOT NULL
);
INSERT INTO history_sequence (id, last) VALUES (1, 0);

CREATE TABLE job_events (
    id     bigint      PRIMARY KEY,
    job_id bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at     timestamptz NOT NULL,
    kind   text        NOT NULL CHECK (kind IN ('enqueued', 'claimed', 'step_started', 'step_succeeded', 'step_failed',
                                                'retry_scheduled', 'lease_expired', 'released', 'succeeded', 'failed',
                                                'cancelled', 'retried', 'schedule_fired')),
    detail json
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE capabilities (
    name          text        PRIMARY KEY,
    worker        text        NOT NULL,
    registered_at timestamptz NOT NULL
);

CREATE TABLE queues (
    name           text    PRIMARY KEY,
    paused         integer NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    max_pending    integer CHECK (max_pending IS NULL OR max_pending >= 0),
    rate_limit     integer CHECK (rate_limit IS NULL OR rate_limit >= 1),
    rate_period_ms bigint  CHECK (rate_period_ms IS NULL OR rate_period_ms >= 1),
    rate_used      integer NOT NULL DEFAULT 0 CHECK (rate_used >= 0)
);

CREATE TABLE queue_starts (
    queue text        NOT NULL,
    at    timestamptz NOT NULL
);
CREATE INDEX queue_starts_window ON queue_starts (queue, at);

CREATE TABLE workers (
    id           bigserial   PRIMARY KEY,
    owner        text        NOT NULL,
    host         text        NOT NULL,
    boot_id      text        NOT NULL,
    pid          integer     NOT NULL,
    pid_start    bigint      NOT NULL,
    version      text        NOT NULL,
    queues       json,
    concurrency  integer     NOT NULL,
    capabilities json       NOT NULL,
    started_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    ended_at     timestamptz,
    ended        text        CHECK (ended IN ('stopped', 'lost'))
);
CREATE INDEX workers_live ON workers (last_seen_at) WHERE ended IS NULL;

CREATE TABLE schedules (
    name          text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    kind          text        NOT NULL CHECK (kind IN ('cron', 'every')),
    spec          text        NOT NULL,
    time_zone     text        NOT NULL DEFAULT 'UTC',
    catch_up      text        NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('none', 'latest', 'all')),
    plan          json       NOT NULL,
    paused        integer     NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    next_fire_at  timestamptz,
    last_fired_at timestamptz,
    fired         integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0 AND next_fire_at IS NOT NULL;

CREATE VIEW job_overview AS
SELECT j.id,
       j.idempotency_key,
       j.queue,
       j.priority,
       j.state,
       j.runs,
       (SELECT count(*) FROM step_results s WHERE s.job_id = j.id AND s.outcome = 'ok' AND s.superseded = 0
          AND position('[' in s.step_id) = 0) AS steps_done,
       json_array_length(j.plan -> 'steps') AS steps_total,
       j.run_at,
       j.created_at,
       j.finished_at,
       j.last_error ->> 'code' AS error_code,
       j.last_error ->> 'message' AS error_message
FROM jobs j;

CREATE VIEW job_history AS
SELECT e.job_id, j.idempotency_key, e.id AS event_id, e.at, e.kind, e.detail
FROM job_events e JOIN jobs j ON j.id = e.job_id
UNION ALL
SELECT s.job_id, j.idempotency_key, s.started_event, s.started_at, 'step_started',
       json_build_object('attempt', s.attempt, 'step', s.step_id)
FROM step_results s JOIN jobs j ON j.id = s.job_id
WHERE s.started_event IS NOT NULL
UNION ALL
SELECT s.job_id, j.idempotency_key, s.finished_event, s.finished_at,
       CASE s.outcome WHEN 'ok' THEN 'step_succeeded' ELSE 'step_failed' END,
       CASE WHEN s.error IS NULL THEN json_build_object('attempt', s.attempt, 'step', s.step_id)
            ELSE json_build_object('attempt', s.attempt, 'error', s.error, 'step', s.step_id) END
FROM step_results s JOIN jobs j ON j.id = s.job_id
WHERE s.finished_event IS NOT NULL;

-- Wake-ups: a commit that changed jobs, queues or schedules notifies channel planq_changes once
-- (PostgreSQL folds a transaction's equal notifications into one); workers LISTEN on it, on any host.
CREATE FUNCTION planq_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('planq_changes', ''); RETURN NULL; END $$;
CREATE TRIGGER jobs_changed AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION planq_notify_change();
CREATE TRIGGER queues_changed AFTER INSERT OR UPDATE ON queues FOR EACH ROW EXECUTE FUNCTION planq_notify_change();
CREATE TRIGGER schedules_changed AFTER INSERT OR UPDATE OR DELETE ON schedules FOR EACH ROW EXECUTE FUNCTION planq_notify_change();
