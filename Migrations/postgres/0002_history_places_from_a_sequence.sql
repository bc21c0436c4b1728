-- History places from a sequence, so that writers no longer queue on one locked row from their
-- first write until their commit. Places may now commit out of order, so a reader following the
-- history reads by transaction instead of by place: each event and step row records the
-- transaction that wrote it (`txid`, `started_txid`, `finished_txid`), and each read takes the
-- rows visible in its snapshot that were not visible in the previous read's
-- (`pg_visible_in_snapshot`), whatever their places.

CREATE SEQUENCE history_place AS bigint;
SELECT setval('history_place', last + 1, false) FROM history_sequence;
DROP TABLE history_sequence;

-- Rows written before this migration carry 0: their transactions ended long ago.
ALTER TABLE job_events ADD COLUMN txid xid8 NOT NULL DEFAULT '0';
ALTER TABLE job_events ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
ALTER TABLE step_results ADD COLUMN started_txid xid8 NOT NULL DEFAULT '0';
ALTER TABLE step_results ALTER COLUMN started_txid SET DEFAULT pg_current_xact_id();
ALTER TABLE step_results ADD COLUMN finished_txid xid8;

CREATE INDEX job_events_txid ON job_events (txid);
-- A step row's last write: a reader looks for rows at or above its floor, then checks each end.
CREATE INDEX step_results_txid ON step_results ((coalesce(finished_txid, started_txid)));
