-- The session a job belongs to: the one its creating credential was limited to (or the task's
-- `session_id`), inherited by sub-agents. A session-limited token sees only its session's jobs,
-- so listing filters on it.

ALTER TABLE jobs ADD COLUMN session_key text;

CREATE INDEX jobs_session_listing ON jobs (tenant_id, kind, session_key, created_at DESC, id DESC)
    WHERE session_key IS NOT NULL;

-- What the job's runs may do with memory, as its creator's credential allowed (`tenant`,
-- `session`, `off`): a worker running it later grants no more.
ALTER TABLE jobs ADD COLUMN memory_access text NOT NULL DEFAULT 'tenant'
    CHECK (memory_access IN ('tenant', 'session', 'off'));
