-- Skills a tenant has installed from the catalogue (API.md §5.5): which version, whether it is
-- enabled, and how much it is used. Installed and enabled skills are offered to the model as
-- tools in the tenant's runs.

CREATE TABLE tenant_skills (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    version       text NOT NULL,
    enabled       boolean NOT NULL DEFAULT true,
    installed_at  timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_used     timestamptz,
    invocations   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, name)
);

ALTER TABLE tenant_skills ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_skills FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_skills
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));
