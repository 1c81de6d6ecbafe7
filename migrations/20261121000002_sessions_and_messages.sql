-- Sessions (a.k.a. conversations: one resource, two names) and their messages.
--
-- A session's `key` is what clients use: chosen by them (`default`, `user_123`) or generated
-- (`session_…`). It is unique per tenant, never across tenants. Messages are ordered by `seq`,
-- assigned under the session row's lock so concurrent runs cannot interleave the history.

CREATE TABLE sessions (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               uuid NOT NULL,
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
    label            text,
    agent_id         text NOT NULL DEFAULT 'default',
    model            text,
    channel          text NOT NULL DEFAULT 'api',
    context          jsonb NOT NULL DEFAULT '{}'::jsonb,
    summary          text,
    message_count    integer NOT NULL DEFAULT 0,
    next_seq         bigint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_message_at  timestamptz,
    expires_at       timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, key)
);
CREATE INDEX sessions_tenant_activity ON sessions (tenant_id, (coalesce(last_message_at, created_at)) DESC);
CREATE INDEX sessions_expiry ON sessions (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE messages (
    tenant_id      uuid NOT NULL,
    session_id     uuid NOT NULL,
    id             uuid NOT NULL,
    seq            bigint NOT NULL,
    role           text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content        text NOT NULL,
    -- Tool calls the assistant asked for, and the call a tool message answers.
    tool_calls     jsonb,
    tool_call_id   text,
    run_id         uuid,
    model          text,
    input_tokens   integer,
    output_tokens  integer,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, session_id, seq),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));

ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON messages
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));
