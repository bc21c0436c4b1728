-- Every index on jobs is rewritten by the state changes it covers, in the worker's hot path.
-- jobs_state (state, queue) was rewritten twice per run (claim and finish) and served only counts:
-- pending jobs are counted from jobs_due, running ones from jobs_running, and finished ones from
-- jobs_finished, which now carries state and queue so that those counts read the index alone.
DROP INDEX jobs_state;
DROP INDEX jobs_finished;
CREATE INDEX jobs_finished ON jobs (finished_at, state, queue) WHERE finished_at IS NOT NULL;
