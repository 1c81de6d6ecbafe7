-- Runs (one agent turn in a session) and token usage per tenant, day and model.
--
-- A session's turn lease (`turn_run`, `turn_until`) serialises runs in one session across
-- replicas without holding a database connection across the model call: a run takes the lease,
-- renews it while it works, and releases it when done; a crashed replica's lease simply lapses.

ALTER TABLE sessions ADD COLUMN turn_run uuid, ADD COLUMN turn_until timestamptz;

CREATE TABLE runs (
    tenant_id            uuid NOT NULL,
    id                   uuid NOT NULL,
    session_id           uuid NOT NULL,
    status               text NOT NULL DEFAULT 'processing'
                         CHECK (status IN ('processing', 'completed', 'failed', 'cancelled')),
    model                text NOT NULL,
    response             text,
    response_message_id  uuid,
    finish_reason        text,
    error                jsonb,
    input_tokens         integer,
    output_tokens        integer,
    latency_ms           integer,
    created_at           timestamptz NOT NULL DEFAULT now(),
    finished_at          timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX runs_session ON runs (tenant_id, session_id, created_at);

CREATE TABLE usage_daily (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day            date NOT NULL,
    model          text NOT NULL,
    requests       bigint NOT NULL DEFAULT 0,
    input_tokens   bigint NOT NULL DEFAULT 0,
    output_tokens  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, model)
);

ALTER TABLE runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON runs
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));

ALTER TABLE usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_daily
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));
