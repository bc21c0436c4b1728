-- Rate limits: at most rate_limit jobs of a queue start per rate_period_ms across all workers.
-- queue_starts keeps when each job of a rate-limited queue was claimed, for the length of one
-- period: the claim transaction counts the starts of the last period and records its own.
ALTER TABLE queues ADD COLUMN rate_limit INTEGER CHECK (rate_limit IS NULL OR rate_limit >= 1);
ALTER TABLE queues ADD COLUMN rate_period_ms INTEGER CHECK (rate_period_ms IS NULL OR rate_period_ms >= 1);

CREATE TABLE queue_starts (
    queue TEXT NOT NULL,
    at    TEXT NOT NULL
) STRICT;

CREATE INDEX queue_starts_window ON queue_starts (queue, at);
