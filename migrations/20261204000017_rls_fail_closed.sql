-- Row-level security that binds: no tenant set means no rows, and the cross-tenant work has a
-- role of its own.
--
-- `openclaw migrate` creates the roles before it runs this (they are cluster-wide, so not a
-- migration's to create): `openclaw_app`, which serves (NOSUPERUSER, NOBYPASSRLS, NOINHERIT),
-- and `openclaw_system`, NOLOGIN, which the app role may switch to (`SET LOCAL ROLE`) for one
-- transaction of deliberate cross-tenant work: the key lookup by hash, job claims and leases,
-- and the sweeps. NOINHERIT matters: a member that inherited `openclaw_system` would match its
-- policies on every statement.

-- Fail closed: a session that never set `openclaw.tenant_id` (or set it empty) sees nothing.
CREATE OR REPLACE FUNCTION openclaw_tenant_visible(row_tenant uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(row_tenant = nullif(current_setting('openclaw.tenant_id', true), '')::uuid,
                    false)
$$;

-- What the cross-tenant paths may do, and nothing else: the policy lets `openclaw_system` see
-- every tenant's rows of these tables; the grants say which statements it may run on them.
-- Messages, skills and the audit log have no system path: they are reached only inside a
-- tenant.
CREATE POLICY system_paths ON api_keys TO openclaw_system USING (true) WITH CHECK (true);
CREATE POLICY system_paths ON jobs TO openclaw_system USING (true) WITH CHECK (true);
CREATE POLICY system_paths ON runs TO openclaw_system USING (true) WITH CHECK (true);
CREATE POLICY system_paths ON sessions TO openclaw_system USING (true) WITH CHECK (true);
CREATE POLICY system_paths ON outbox TO openclaw_system USING (true) WITH CHECK (true);
CREATE POLICY system_paths ON usage_daily TO openclaw_system USING (true) WITH CHECK (true);
CREATE POLICY system_paths ON memories TO openclaw_system USING (true) WITH CHECK (true);
CREATE POLICY system_paths ON memory_totals TO openclaw_system USING (true) WITH CHECK (true);

GRANT USAGE ON SCHEMA public TO openclaw_system;
-- The auth lookup (by hash, by key id for JWTs) and the batched last-used times.
GRANT SELECT ON tenants TO openclaw_system;
GRANT SELECT, UPDATE (last_used_at) ON api_keys TO openclaw_system;
-- Claims, heartbeats, the reaper, retention, queue metrics and compaction scheduling.
GRANT SELECT, UPDATE, DELETE ON jobs TO openclaw_system;
-- The run sweep and the reaper end runs; the write-behind batch records stateless runs.
GRANT SELECT, INSERT, UPDATE ON runs TO openclaw_system;
-- The run sweep frees turns; the session sweep deletes expired sessions (their messages go by
-- the foreign key's cascade, which row security does not apply to).
GRANT SELECT, UPDATE, DELETE ON sessions TO openclaw_system;
-- Events the reaper reports, and the outbox's retention.
GRANT SELECT, INSERT, DELETE ON outbox TO openclaw_system;
GRANT SELECT, INSERT, UPDATE ON usage_daily TO openclaw_system;
-- The embedder's batch and the expiry of short-term memories (whose trigger keeps the totals).
GRANT SELECT, DELETE ON memories TO openclaw_system;
GRANT SELECT, UPDATE ON memory_totals TO openclaw_system;

-- The write-behind batch (stateless runs and usage, of many tenants) is one round trip: the
-- switch to the system role happens inside the call, and ends with the call's transaction.
CREATE FUNCTION openclaw_write_behind(
    r_tenant uuid[], r_id uuid[], r_status text[], r_model text[], r_message text[],
    r_response text[], r_finish text[], r_error jsonb[], r_input int[], r_output int[],
    r_latency int[], r_created timestamptz[], r_finished timestamptz[],
    u_tenant uuid[], u_day date[], u_model text[], u_requests bigint[], u_input bigint[],
    u_output bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL ROLE openclaw_system;
    INSERT INTO runs (tenant_id, id, status, model, message, response, finish_reason, error,
                      input_tokens, output_tokens, latency_ms, created_at, finished_at)
    SELECT * FROM unnest(r_tenant, r_id, r_status, r_model, r_message, r_response, r_finish,
                         r_error, r_input, r_output, r_latency, r_created, r_finished)
    ON CONFLICT DO NOTHING;
    -- Rows of tenants deleted meanwhile are dropped rather than failing the batch.
    INSERT INTO usage_daily AS d (tenant_id, day, model, requests, input_tokens, output_tokens)
    SELECT u.* FROM unnest(u_tenant, u_day, u_model, u_requests, u_input, u_output)
             AS u (tenant_id, day, model, requests, input_tokens, output_tokens)
     WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = u.tenant_id)
    ON CONFLICT (tenant_id, day, model) DO UPDATE
        SET requests = d.requests + EXCLUDED.requests,
            input_tokens = d.input_tokens + EXCLUDED.input_tokens,
            output_tokens = d.output_tokens + EXCLUDED.output_tokens;
END $$;
