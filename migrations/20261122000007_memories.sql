-- Agent memory (API.md §5.4): what a tenant's agents remember, searchable in any language.
--
-- `terms` holds the memory's index terms, computed by the application (openclaw_domain::memory:
-- stemmed words, CJK characters and bigrams), sorted and without repeats. Search is
-- `tenant_id = $1 AND terms && $query_terms` on one GIN index over both columns (btree_gin lets
-- GIN index the tenant id), so a query touches only its own tenant's postings.
--
-- A memory derived from a conversation (`session_id`) goes when the conversation is deleted.
-- Fresh memories are `wal` entries; compaction folds old ones into `compacted` summaries, each
-- claiming its entries for a while (`compacting_until`) so two compactions never fold the same
-- entry twice.

CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE memories (
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                uuid NOT NULL,
    session_id        uuid,
    content           text NOT NULL CHECK (length(content) >= 1),
    tags              text[] NOT NULL DEFAULT '{}',
    kind              text NOT NULL CHECK (kind IN ('long-term', 'short-term')),
    tier              text NOT NULL DEFAULT 'wal' CHECK (tier IN ('wal', 'compacted')),
    -- `api`, `conversation`, `compaction`, or the label a client gave (S0's "MEMORY.md").
    source            text NOT NULL,
    terms             text[] NOT NULL,
    -- How many entries a compacted summary folds (0 for an entry as written).
    compacted_from    integer NOT NULL DEFAULT 0,
    compacting_until  timestamptz,
    -- The content's vector from the configured embedding model (none configured: NULL), and
    -- whether one is owed (the model failed when it was written; the worker retries).
    embedding         real[],
    embed_pending     boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX memories_search ON memories USING gin (tenant_id, terms);
-- Listing newest first; stats and prune by tier; what compaction folds.
CREATE INDEX memories_listing ON memories (tenant_id, created_at DESC, id DESC);
CREATE INDEX memories_tier ON memories (tenant_id, tier, created_at);
CREATE INDEX memories_session ON memories (tenant_id, session_id) WHERE session_id IS NOT NULL;
CREATE INDEX memories_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX memories_unembedded ON memories (created_at) WHERE embed_pending;

-- Entries and content bytes per tenant and tier, kept by statement-level triggers, so stats and
-- the per-tenant cap cost one row read however many memories a tenant holds. Removals only
-- update existing rows: when a tenant is deleted its totals may already be gone.
CREATE TABLE memory_totals (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    tier       text NOT NULL,
    entries    bigint NOT NULL DEFAULT 0,
    bytes      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, tier)
);

CREATE FUNCTION memory_totals_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO memory_totals (tenant_id, tier, entries, bytes)
    SELECT tenant_id, tier, count(*), coalesce(sum(octet_length(content)), 0)
    FROM added GROUP BY tenant_id, tier
    ON CONFLICT (tenant_id, tier) DO UPDATE
        SET entries = memory_totals.entries + EXCLUDED.entries,
            bytes = memory_totals.bytes + EXCLUDED.bytes;
    RETURN NULL;
END $$;

CREATE FUNCTION memory_totals_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE memory_totals t SET entries = t.entries - g.entries, bytes = t.bytes - g.bytes
    FROM (SELECT tenant_id, tier, count(*) AS entries,
                 coalesce(sum(octet_length(content)), 0) AS bytes
          FROM gone GROUP BY tenant_id, tier) g
    WHERE t.tenant_id = g.tenant_id AND t.tier = g.tier;
    RETURN NULL;
END $$;

CREATE TRIGGER memories_added AFTER INSERT ON memories
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION memory_totals_added();
CREATE TRIGGER memories_removed AFTER DELETE ON memories
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION memory_totals_removed();

-- Each compaction of a tenant's memory (`last_compaction` in the stats).
CREATE TABLE memory_compactions (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    job_id       uuid,
    folded       integer NOT NULL,
    summaries    integer NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX memory_compactions_latest ON memory_compactions (tenant_id, finished_at DESC);

-- At most one compaction queued or running per tenant: the scheduler on every worker inserts
-- with ON CONFLICT DO NOTHING against this.
CREATE UNIQUE INDEX jobs_one_compaction ON jobs (tenant_id)
    WHERE type = 'memory.compact' AND status IN ('queued', 'running');

ALTER TABLE memories ENABLE ROW LEVEL SECURITY;
ALTER TABLE memories FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memories
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));

ALTER TABLE memory_totals ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory_totals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memory_totals
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));

ALTER TABLE memory_compactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory_compactions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memory_compactions
    USING (openclaw_tenant_visible(tenant_id)) WITH CHECK (openclaw_tenant_visible(tenant_id));
