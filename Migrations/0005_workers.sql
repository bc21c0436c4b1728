-- The workers: one row per worker process, written when it starts, renewed while it runs
-- (last_seen_at, every few seconds) and ended when it exits (ended = 'stopped') or when it stops
-- being seen (ended = 'lost': no renewal for 30 s, or its process is gone from this host).
-- A worker's running jobs are those whose lease_owner is its owner. Ended rows go after a day.
CREATE TABLE workers (
    id            INTEGER PRIMARY KEY,
    owner         TEXT    NOT NULL,
    host          TEXT    NOT NULL,
    boot_id       TEXT    NOT NULL,
    pid           INTEGER NOT NULL,
    pid_start     INTEGER NOT NULL,
    version       TEXT    NOT NULL,
    queues        TEXT    CHECK (queues IS NULL OR json_valid(queues)),
    concurrency   INTEGER NOT NULL,
    capabilities  TEXT    NOT NULL CHECK (json_valid(capabilities)),
    started_at    TEXT    NOT NULL,
    last_seen_at  TEXT    NOT NULL,
    ended_at      TEXT,
    ended         TEXT    CHECK (ended IN ('stopped', 'lost'))
) STRICT;

CREATE INDEX workers_live ON workers (last_seen_at) WHERE ended IS NULL;
