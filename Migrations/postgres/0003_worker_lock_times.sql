-- When each worker last took its session lock, by the server's clock. A free lock is evidence
-- that a worker is gone only if it took the lock since the server started: after a restart every
-- session has ended, and a worker that has not reconnected yet is not dead for it.
ALTER TABLE workers ADD COLUMN locked_at timestamptz;
