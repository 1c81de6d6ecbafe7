-- Skills a tenant registers itself (API.md §5.5): a manifest and an HTTPS endpoint the platform
-- calls with an HMAC-signed request. `secret` signs those requests (shown to the tenant once,
-- at registration; kept here because every call needs it). Registering also installs the skill
-- (tenant_skills); uninstalling deletes the registration.

CREATE TABLE tenant_http_skills (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    version       text NOT NULL,
    description   text NOT NULL,
    input_schema  jsonb NOT NULL,
    endpoint      text NOT NULL,
    timeout_ms    integer NOT NULL CHECK (timeout_ms BETWEEN 1000 AND 30000),
    secret        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

ALTER TABLE tenant_http_skills ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_http_skills FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_http_skills
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));
