-- The claim of a rate-limited queue read how many of its jobs started within the period by
-- counting queue_starts: a cost that grew with the limit (a limit of 10,000 a minute counted up to
-- 10,000 rows per claim). queues.rate_used keeps that count: every row added to queue_starts adds
-- one, every row deleted takes one away, in the same transaction.
ALTER TABLE queues ADD COLUMN rate_used INTEGER NOT NULL DEFAULT 0 CHECK (rate_used >= 0);

UPDATE queues SET rate_used = (SELECT count(*) FROM queue_starts s WHERE s.queue = queues.name);
