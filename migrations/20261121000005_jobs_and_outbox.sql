-- The durable job queue (tasks, spawned agents, async messages) and the outbox of events that
-- webhooks deliver.
--
-- A job is queued, claimed by a worker with `FOR UPDATE SKIP LOCKED` (woken by NOTIFY on
-- `openclaw_jobs`), held under a lease the worker renews, and ended by the worker that holds
-- the current attempt: `attempts` is the fencing token, so a worker that lost its lease cannot
-- end a job another worker has taken over. Sub-agents run inside their root job's worker: they
-- have `root_id`, are never queued, hold no lease of their own and share their root's fate.

CREATE TABLE jobs (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('task', 'agent', 'message')),
    name          text NOT NULL,
    type          text NOT NULL,
    parameters    jsonb NOT NULL DEFAULT '{}'::jsonb,
    priority      integer NOT NULL DEFAULT 0,
    timeout_ms    integer NOT NULL CHECK (timeout_ms > 0),
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    progress      smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    result        jsonb,
    error         jsonb,
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 3,
    run_after     timestamptz NOT NULL DEFAULT now(),
    lease_until   timestamptz,
    worker        text,
    -- The run executing the current attempt (agent work and async messages).
    run_id        uuid,
    -- Sub-agents: their parent, and the queued job whose worker runs them.
    parent_id     uuid,
    root_id       uuid,
    depth         smallint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- The claim: the best queued job (the per-tenant fairness order is applied on top).
CREATE INDEX jobs_queued ON jobs (priority DESC, run_after, id) WHERE status = 'queued';
-- Running jobs per tenant (fairness, caps) and lapsed leases (the reaper).
CREATE INDEX jobs_running ON jobs (tenant_id, lease_until) WHERE status = 'running' AND root_id IS NULL;
-- Listing a tenant's tasks or agents, newest first.
CREATE INDEX jobs_listing ON jobs (tenant_id, kind, created_at DESC, id DESC);
CREATE INDEX jobs_root ON jobs (tenant_id, root_id) WHERE root_id IS NOT NULL;

-- How many jobs of a tenant run at once: the tier's "concurrent runs" (API.md §4) unless the
-- operator overrode `concurrent_requests`. Mirrors openclaw_domain::Tier::limits; a store test
-- keeps the two in step.
CREATE FUNCTION openclaw_job_cap(tier text, limits jsonb) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce((limits ->> 'concurrent_requests')::integer,
                    CASE tier WHEN 'free' THEN 10 WHEN 'pro' THEN 50 ELSE 200 END)
$$;

-- Events for webhooks, written in the same transaction as the change they report.
CREATE TABLE outbox (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    event         text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE delivered_at IS NULL;

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));
