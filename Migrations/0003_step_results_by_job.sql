-- Deleting a job (planq prune) cascades to its step_results rows. The unique indexes on
-- step_results are partial (current rows only), so the cascade could not use them and scanned the
-- whole table once per deleted job. This index makes it a lookup.
CREATE INDEX step_results_job ON step_results (job_id);
