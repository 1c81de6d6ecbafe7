-- Tenants, their API keys and the audit log of key and tenant changes.
--
-- Row-level security is the backstop behind the tenant-scoped queries in services/store: a
-- session that has set `openclaw.tenant_id` (store::tenant_tx does) sees only that tenant's
-- rows even if a query forgets its WHERE clause. Sessions that have not set it (the auth
-- lookup by key hash, the operator API, migrations) are not filtered. Superusers and table
-- owners bypass RLS unless it is forced, so the tables force it; production should connect as
-- a role that is neither a superuser nor BYPASSRLS (see docs/architecture.md).

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tier        text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
    -- Operator overrides of the tier's limits, e.g. {"burst": 50}; absent keys mean "the tier's".
    limits      jsonb NOT NULL DEFAULT '{}'::jsonb,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    key_hash      bytea NOT NULL CHECK (length(key_hash) = 32),
    prefix        text NOT NULL,
    last4         text NOT NULL,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- NULL means "every tenant scope" (API.md §2: a key without explicit scopes has them all).
    scopes        text[],
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
-- The auth lookup: one probe by hash, across tenants.
CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);
-- JWTs carry the key id; revocation is checked by it.
CREATE UNIQUE INDEX api_keys_id ON api_keys (id);

CREATE TABLE audit_log (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    -- 'operator', 'cli', or 'key:<key id>' for a tenant acting on itself.
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, created_at DESC);

-- The backstop policy, shared by every tenant-owned table.
CREATE FUNCTION openclaw_tenant_visible(row_tenant uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('openclaw.tenant_id', true), '') = ''
        OR row_tenant = current_setting('openclaw.tenant_id', true)::uuid
$$;

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));
