-- A step's start and end are read from its step_results row instead of being written a second
-- time as job_events rows: job_history shows them as before, from the row's started_event and
-- finished_event (their places in the history) and its other columns.

-- The history's positions: every job_events id and every step_results started_event and
-- finished_event is drawn from one sequence, so that job_history's event_id orders all of them.
-- `last` is the highest position handed out to a step; job_events' own highest id counts too.
CREATE TABLE history_sequence (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
) STRICT;
INSERT INTO history_sequence (id, last) SELECT 1, coalesce(max(id), 0) FROM job_events;

ALTER TABLE step_results ADD COLUMN started_event INTEGER;
ALTER TABLE step_results ADD COLUMN finished_event INTEGER;

-- The k-th step_started event of a (job, step, attempt) is the start of the k-th row of that
-- (job, step, attempt), when its time and detail are what the row gives; so for the ends, among the
-- rows whose end was recorded (a success, or a failure with its error; a release sets in-flight
-- rows aside without an event).
WITH started AS (
    SELECT id AS event_id, job_id, at, detail, detail ->> '$.step' AS step_id, detail ->> '$.attempt' AS attempt,
           row_number() OVER (PARTITION BY job_id, detail ->> '$.step', detail ->> '$.attempt' ORDER BY id) AS k
    FROM job_events WHERE kind = 'step_started'),
runs AS (
    SELECT id, job_id, step_id, attempt, started_at,
           row_number() OVER (PARTITION BY job_id, step_id, attempt ORDER BY id) AS k
    FROM step_results)
UPDATE step_results SET started_event = matched.event_id
FROM (SELECT r.id, s.event_id FROM runs r JOIN started s
      ON s.job_id = r.job_id AND s.step_id = r.step_id AND s.attempt = r.attempt AND s.k = r.k
      WHERE s.at = r.started_at AND s.detail = json_object('attempt', r.attempt, 'step', r.step_id)) AS matched
WHERE step_results.id = matched.id;

WITH ended AS (
    SELECT id AS event_id, job_id, at, kind, detail, detail ->> '$.step' AS step_id, detail ->> '$.attempt' AS attempt,
           row_number() OVER (PARTITION BY job_id, detail ->> '$.step', detail ->> '$.attempt' ORDER BY id) AS k
    FROM job_events WHERE kind IN ('step_succeeded', 'step_failed')),
runs AS (
    SELECT id, job_id, step_id, attempt, finished_at, outcome, error,
           row_number() OVER (PARTITION BY job_id, step_id, attempt ORDER BY id) AS k
    FROM step_results WHERE outcome = 'ok' OR error IS NOT NULL)
UPDATE step_results SET finished_event = matched.event_id
FROM (SELECT r.id, e.event_id FROM runs r JOIN ended e
      ON e.job_id = r.job_id AND e.step_id = r.step_id AND e.attempt = r.attempt AND e.k = r.k
      WHERE e.at = r.finished_at
        AND e.kind = CASE r.outcome WHEN 'ok' THEN 'step_succeeded' ELSE 'step_failed' END
        AND e.detail = CASE WHEN r.error IS NULL THEN json_object('attempt', r.attempt, 'step', r.step_id)
                            ELSE json_object('attempt', r.attempt, 'error', json(r.error), 'step', r.step_id) END) AS matched
WHERE step_results.id = matched.id;

-- The matched events are now read from their rows; an event no row gives back stays where it is.
DELETE FROM job_events WHERE id IN (
    SELECT started_event FROM step_results WHERE started_event IS NOT NULL
    UNION ALL
    SELECT finished_event FROM step_results WHERE finished_event IS NOT NULL);

-- Every event with its job's key: job_events' rows, and each step execution's start and end.
DROP VIEW job_history;
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
