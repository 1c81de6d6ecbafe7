//! Memories: a tenant's stored facts, their index terms, and the reads behind search, stats,
//! prune and compaction. Scoring is not done here: `search_candidates` returns the memories that
//! share terms with a query, most shared first, with the terms each has (openclaw_domain::memory
//! scores them).

use chrono::{DateTime, Duration, Utc};
use openclaw_domain::memory::{document_terms, MemoryKind, MemoryTier};
use openclaw_domain::TenantId;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct MemoryRecord {
    pub id: Uuid,
    pub session_id: Option<Uuid>,
    /// The conversation's client-visible id (its session key), when it derives from one.
    pub session_key: Option<String>,
    pub content: String,
    pub tags: Vec<String>,
    pub kind: String,
    pub tier: String,
    pub source: String,
    pub compacted_from: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewMemory {
    pub content: String,
    pub tags: Vec<String>,
    pub kind: MemoryKind,
    /// `api`, `conversation`, or a client's label.
    pub source: String,
    /// The conversation it derives from: it is deleted with it.
    pub session: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub embedding: Option<Vec<f32>>,
    /// A vector is owed: the embedding model failed; the worker tries again.
    pub embed_pending: bool,
}

/// Which memories a read covers. Every field narrows; `None` leaves it open.
#[derive(Debug, Clone, Default)]
pub struct MemoryFilter {
    pub tier: Option<MemoryTier>,
    pub kind: Option<MemoryKind>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub tag: Option<String>,
    pub scope: MemoryScope,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum MemoryScope {
    /// All of the tenant's memories.
    #[default]
    Tenant,
    /// Only those derived from this conversation.
    Session(Uuid),
    /// What a run in this conversation may recall: the tenant's own (no conversation) and the
    /// conversation's, never another conversation's.
    Recall(Uuid),
}

/// A memory sharing terms with a query, and which of the query's terms it has (and its
/// vector, when asked for).
#[derive(Debug, Clone, FromRow)]
pub struct Candidate {
    #[sqlx(flatten)]
    pub memory: MemoryRecord,
    pub matched: Vec<String>,
    /// How many index terms it has (its length, for scoring).
    pub term_count: i32,
    pub embedding: Option<Vec<f32>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryStats {
    pub wal_entries: i64,
    pub wal_bytes: i64,
    pub wal_oldest: Option<DateTime<Utc>>,
    pub compacted_entries: i64,
    pub compacted_bytes: i64,
    pub last_compaction: Option<DateTime<Utc>>,
}

/// A summary replacing the entries it folds.
#[derive(Debug, Clone)]
pub struct Fold {
    pub entries: Vec<Uuid>,
    pub content: String,
    pub tags: Vec<String>,
    pub kind: MemoryKind,
    pub session: Option<Uuid>,
    /// The newest folded entry's: the summary is what was known as of then.
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub embedding: Option<Vec<f32>>,
    pub embed_pending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemoryRefusal {
    /// The tenant holds as many memories as it may.
    Full { cap: i64 },
}

const COLUMNS: &str = "m.id, m.session_id, s.key AS session_key, m.content, m.tags, m.kind, \
    m.tier, m.source, m.compacted_from, m.created_at, m.updated_at, m.expires_at";
const FROM: &str =
    "memories m LEFT JOIN sessions s ON s.tenant_id = m.tenant_id AND s.id = m.session_id";
/// Expired short-term memories are gone for every read before the sweep deletes them.
const LIVE: &str = "(m.expires_at IS NULL OR m.expires_at > now())";

fn push_filter(q: &mut QueryBuilder<'_, Postgres>, f: &MemoryFilter) {
    if let Some(tier) = f.tier {
        q.push(" AND m.tier = ").push_bind(tier.as_str());
    }
    if let Some(kind) = f.kind {
        q.push(" AND m.kind = ").push_bind(kind.as_str());
    }
    if let Some(since) = f.since {
        q.push(" AND m.created_at >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        q.push(" AND m.created_at < ").push_bind(until);
    }
    if let Some(tag) = &f.tag {
        q.push(" AND ")
            .push_bind(tag.clone())
            .push(" = ANY(m.tags)");
    }
    match f.scope {
        MemoryScope::Tenant => {}
        MemoryScope::Session(s) => {
            q.push(" AND m.session_id = ").push_bind(s);
        }
        MemoryScope::Recall(s) => {
            q.push(" AND (m.session_id IS NULL OR m.session_id = ")
                .push_bind(s)
                .push(")");
        }
    }
}

impl Store {
    /// Stores a memory unless the tenant already holds `cap`.
    pub async fn add_memory(
        &self,
        tenant: TenantId,
        memory: NewMemory,
        cap: i64,
    ) -> Result<Result<MemoryRecord, MemoryRefusal>> {
        self.in_tenant(tenant, async |c| {
            // Serialises a tenant's adds, so concurrent ones cannot overshoot the cap together.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('memories:' || $1::text, 0))")
                .bind(tenant.as_uuid())
                .execute(&mut *c)
                .await?;
            let held: i64 = sqlx::query_scalar(
                "SELECT coalesce(sum(entries), 0)::bigint FROM memory_totals WHERE tenant_id = $1",
            )
            .bind(tenant.as_uuid())
            .fetch_one(&mut *c)
            .await?;
            if held >= cap {
                return Ok(Err(MemoryRefusal::Full { cap }));
            }
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO memories (tenant_id, id, session_id, content, tags, kind, source, terms, \
                 expires_at, embedding, embed_pending) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(memory.session)
            .bind(&memory.content)
            .bind(&memory.tags)
            .bind(memory.kind.as_str())
            .bind(&memory.source)
            .bind(document_terms(&memory.content))
            .bind(memory.expires_at)
            .bind(&memory.embedding)
            .bind(memory.embed_pending)
            .execute(&mut *c)
            .await?;
            // Read back as written, even if it expires at once (an `expires_at` in the past).
            let record = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE m.tenant_id = $1 AND m.id = $2"
            ))
            .bind(tenant.as_uuid())
            .bind(id)
            .fetch_one(&mut *c)
            .await?;
            Ok(Ok(record))
        })
        .await
    }

    pub async fn get_memory(&self, tenant: TenantId, id: Uuid) -> Result<Option<MemoryRecord>> {
        self.in_tenant(tenant, async |c| fetch_one(c, tenant, id).await)
            .await
    }

    pub async fn delete_memory(&self, tenant: TenantId, id: Uuid) -> Result<bool> {
        self.in_tenant(tenant, async |c| {
            let done = sqlx::query("DELETE FROM memories m WHERE m.tenant_id = $1 AND m.id = $2")
                .bind(tenant.as_uuid())
                .bind(id)
                .execute(&mut *c)
                .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    /// A page of memories, newest first, and how many match in all.
    pub async fn list_memories(
        &self,
        tenant: TenantId,
        filter: &MemoryFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<MemoryRecord>, i64)> {
        self.in_tenant(tenant, async |c| {
            let mut q =
                QueryBuilder::new(format!("SELECT {COLUMNS} FROM {FROM} WHERE m.tenant_id = "));
            q.push_bind(tenant.as_uuid()).push(format!(" AND {LIVE}"));
            push_filter(&mut q, filter);
            q.push(" ORDER BY m.created_at DESC, m.id DESC LIMIT ")
                .push_bind(limit)
                .push(" OFFSET ")
                .push_bind(offset);
            let rows = q.build_query_as().fetch_all(&mut *c).await?;
            let mut q = QueryBuilder::new("SELECT count(*) FROM memories m WHERE m.tenant_id = ");
            q.push_bind(tenant.as_uuid()).push(format!(" AND {LIVE}"));
            push_filter(&mut q, filter);
            let total: i64 = q.build_query_scalar().fetch_one(c).await?;
            Ok((rows, total))
        })
        .await
    }

    /// Up to `pool` memories that have any of `terms`, those with most of them first (newest
    /// first among equals), each with the terms it has, and its vector if `embeddings`.
    ///
    /// Ranking every memory that has any of the terms would read each one (a common word may
    /// be in half of a tenant's memories), so the candidates are gathered in bounded pieces,
    /// each planned for its own terms (an index walk newest first for a common word, the GIN
    /// index for a rare one): the newest memories with all the terms, the newest
    /// `PER_TERM` with each term, and the newest `PER_PAIR` with each pair of the first
    /// `PAIR_TERMS` terms. A memory with a rare term is always among them; one with only
    /// common words may be left out when it is older than hundreds of others like it.
    pub async fn search_candidates(
        &self,
        tenant: TenantId,
        terms: &[String],
        filter: &MemoryFilter,
        pool: i64,
        embeddings: bool,
    ) -> Result<Vec<Candidate>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        self.in_tenant(tenant, async |c| {
            plan_with_values(c).await?;
            Ok(search_query("", tenant, terms, filter, pool, embeddings)
                .build_query_as()
                .fetch_all(c)
                .await?)
        })
        .await
    }

    /// `EXPLAIN (ANALYZE, BUFFERS)` of exactly what `search_candidates` runs (the benchmark
    /// checks its plans with this), one line per row.
    pub async fn explain_search(
        &self,
        tenant: TenantId,
        terms: &[String],
        filter: &MemoryFilter,
        pool: i64,
    ) -> Result<Vec<String>> {
        self.in_tenant(tenant, async |c| {
            plan_with_values(c).await?;
            Ok(search_query(
                "EXPLAIN (ANALYZE, BUFFERS) ",
                tenant,
                terms,
                filter,
                pool,
                false,
            )
            .build_query_scalar()
            .fetch_all(c)
            .await?)
        })
        .await
    }

    /// The newest `n` memories under `filter` that have a vector, with it: what a semantic
    /// search compares beyond the lexical candidates.
    pub async fn recent_embedded(
        &self,
        tenant: TenantId,
        filter: &MemoryFilter,
        n: i64,
    ) -> Result<Vec<Candidate>> {
        self.in_tenant(tenant, async |c| {
            let mut q = QueryBuilder::new(format!(
                "SELECT {COLUMNS}, m.embedding, ARRAY[]::text[] AS matched, \
                 cardinality(m.terms) AS term_count FROM {FROM} \
                 WHERE m.tenant_id = "
            ));
            q.push_bind(tenant.as_uuid())
                .push(format!(" AND {LIVE} AND m.embedding IS NOT NULL"));
            push_filter(&mut q, filter);
            q.push(" ORDER BY m.created_at DESC, m.id DESC LIMIT ")
                .push_bind(n);
            Ok(q.build_query_as().fetch_all(c).await?)
        })
        .await
    }

    /// Memories of any tenant owed a vector, oldest first: (tenant, id, content).
    pub async fn memories_to_embed(&self, batch: i64) -> Result<Vec<(TenantId, Uuid, String)>> {
        let mut tx = self.system_tx().await?;
        let rows: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
            "SELECT tenant_id, id, content FROM memories WHERE embed_pending \
             ORDER BY created_at LIMIT $1",
        )
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(t, id, c)| (TenantId(t), id, c))
            .collect())
    }

    pub async fn set_memory_embedding(
        &self,
        tenant: TenantId,
        id: Uuid,
        embedding: &[f32],
    ) -> Result<()> {
        self.in_tenant(tenant, async |c| {
            sqlx::query(
                "UPDATE memories SET embedding = $3, embed_pending = false \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(embedding)
            .execute(&mut *c)
            .await?;
            Ok(())
        })
        .await
    }

    pub async fn memory_stats(&self, tenant: TenantId) -> Result<MemoryStats> {
        let (tiers, wal_oldest, last_compaction) = self
            .in_tenant(tenant, async |c| {
                // Totals from the trigger-kept table (an expired short-term memory counts until
                // the sweep deletes it); the oldest entry from the tier index.
                let tiers: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT tier, entries, bytes FROM memory_totals WHERE tenant_id = $1",
                )
                .bind(tenant.as_uuid())
                .fetch_all(&mut *c)
                .await?;
                let wal_oldest: Option<DateTime<Utc>> = sqlx::query_scalar(
                    "SELECT created_at FROM memories WHERE tenant_id = $1 AND tier = 'wal' \
                     ORDER BY created_at LIMIT 1",
                )
                .bind(tenant.as_uuid())
                .fetch_optional(&mut *c)
                .await?;
                let last_compaction: Option<DateTime<Utc>> = sqlx::query_scalar(
                    "SELECT max(finished_at) FROM memory_compactions WHERE tenant_id = $1",
                )
                .bind(tenant.as_uuid())
                .fetch_one(&mut *c)
                .await?;
                Ok((tiers, wal_oldest, last_compaction))
            })
            .await?;
        let mut stats = MemoryStats {
            last_compaction,
            wal_oldest,
            ..Default::default()
        };
        for (tier, entries, bytes) in tiers {
            if tier == MemoryTier::Wal.as_str() {
                (stats.wal_entries, stats.wal_bytes) = (entries, bytes);
            } else {
                (stats.compacted_entries, stats.compacted_bytes) = (entries, bytes);
            }
        }
        Ok(stats)
    }

    /// Deletes the memories `filter` covers (or only counts them, with `dry_run`).
    pub async fn prune_memories(
        &self,
        tenant: TenantId,
        filter: &MemoryFilter,
        dry_run: bool,
    ) -> Result<i64> {
        self.in_tenant(tenant, async |c| {
            let mut q = QueryBuilder::new(if dry_run {
                "SELECT count(*) FROM memories m WHERE m.tenant_id = "
            } else {
                "WITH gone AS (DELETE FROM memories m WHERE m.tenant_id = "
            });
            q.push_bind(tenant.as_uuid());
            push_filter(&mut q, filter);
            if !dry_run {
                q.push(" RETURNING 1) SELECT count(*) FROM gone");
            }
            Ok(q.build_query_scalar().fetch_one(c).await?)
        })
        .await
    }

    /// Claims up to `max` of the tenant's `wal` entries written before `before` for a
    /// compaction, for `lease` (a compaction that dies lets them go when it lapses), in the
    /// order they fold: by conversation, kind and age.
    pub async fn claim_for_compaction(
        &self,
        tenant: TenantId,
        before: DateTime<Utc>,
        max: i64,
        lease: Duration,
    ) -> Result<Vec<MemoryRecord>> {
        self.in_tenant(tenant, async |c| {
            let ids: Vec<Uuid> = sqlx::query_scalar(&format!(
                "UPDATE memories SET compacting_until = now() + make_interval(secs => $4) \
                 WHERE tenant_id = $1 AND id IN (\
                   SELECT m.id FROM memories m WHERE m.tenant_id = $1 AND m.tier = 'wal' \
                   AND m.created_at < $2 AND {LIVE} \
                   AND (m.compacting_until IS NULL OR m.compacting_until < now()) \
                   ORDER BY m.created_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 RETURNING id"
            ))
            .bind(tenant.as_uuid())
            .bind(before)
            .bind(max)
            .bind(lease.num_milliseconds() as f64 / 1000.0)
            .fetch_all(&mut *c)
            .await?;
            Ok(sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE m.tenant_id = $1 AND m.id = ANY($2) \
                 ORDER BY m.session_id NULLS FIRST, m.kind, m.created_at, m.id"
            ))
            .bind(tenant.as_uuid())
            .bind(&ids)
            .fetch_all(c)
            .await?)
        })
        .await
    }

    /// Replaces the folded entries by their summary, in one commit. False (and nothing
    /// changes) if any entry is gone or no longer a `wal` entry: deleted or pruned meanwhile,
    /// so the summary would bring back what was removed.
    pub async fn fold_memories(&self, tenant: TenantId, fold: &Fold) -> Result<bool> {
        // Not `in_tenant`, which commits whatever returns `Ok`: a refused fold must roll the
        // delete back and still answer `Ok(false)`.
        let mut tx = self.tenant_tx(tenant).await?;
        let gone = sqlx::query(
            "DELETE FROM memories WHERE tenant_id = $1 AND id = ANY($2) AND tier = 'wal'",
        )
        .bind(tenant.as_uuid())
        .bind(&fold.entries)
        .execute(&mut *tx)
        .await?;
        if gone.rows_affected() != fold.entries.len() as u64 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO memories (tenant_id, id, session_id, content, tags, kind, tier, source, \
             terms, compacted_from, created_at, expires_at, embedding, embed_pending) \
             VALUES ($1, $2, $3, $4, $5, $6, 'compacted', 'compaction', $7, $8, $9, $10, $11, $12)",
        )
        .bind(tenant.as_uuid())
        .bind(Uuid::now_v7())
        .bind(fold.session)
        .bind(&fold.content)
        .bind(&fold.tags)
        .bind(fold.kind.as_str())
        .bind(document_terms(&fold.content))
        .bind(fold.entries.len() as i32)
        .bind(fold.created_at)
        .bind(fold.expires_at)
        .bind(&fold.embedding)
        .bind(fold.embed_pending)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Lets entries a compaction claimed but did not fold be claimed again at once.
    pub async fn release_compaction_claim(&self, tenant: TenantId, ids: &[Uuid]) -> Result<()> {
        self.in_tenant(tenant, async |c| {
            sqlx::query(
                "UPDATE memories SET compacting_until = NULL WHERE tenant_id = $1 AND id = ANY($2)",
            )
            .bind(tenant.as_uuid())
            .bind(ids)
            .execute(&mut *c)
            .await?;
            Ok(())
        })
        .await
    }

    pub async fn record_compaction(
        &self,
        tenant: TenantId,
        job: Option<Uuid>,
        folded: i32,
        summaries: i32,
    ) -> Result<()> {
        self.in_tenant(tenant, async |c| {
            sqlx::query(
                "INSERT INTO memory_compactions (tenant_id, id, job_id, folded, summaries) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant.as_uuid())
            .bind(Uuid::now_v7())
            .bind(job)
            .bind(folded)
            .bind(summaries)
            .execute(&mut *c)
            .await?;
            Ok(())
        })
        .await
    }

    /// Tenants with `wal` entries written before `before`, which compaction should visit.
    pub async fn tenants_due_for_compaction(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<TenantId>> {
        let mut tx = self.system_tx().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT t.id FROM tenants t WHERE t.status = 'active' AND EXISTS (\
               SELECT 1 FROM memories m WHERE m.tenant_id = t.id AND m.tier = 'wal' \
               AND m.created_at < $1 \
               AND (m.compacting_until IS NULL OR m.compacting_until < now())) \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.tenant_id = t.id \
               AND j.type = 'memory.compact' AND j.status IN ('queued', 'running')) \
             ORDER BY t.id LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids.into_iter().map(TenantId).collect())
    }

    /// Deletes expired short-term memories, `batch` at a time; how many went.
    pub async fn purge_expired_memories(&self, batch: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            let mut tx = self.system_tx().await?;
            let done = sqlx::query(
                "DELETE FROM memories WHERE (tenant_id, id) IN (\
                   SELECT tenant_id, id FROM memories WHERE expires_at <= now() LIMIT $1)",
            )
            .bind(batch)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            total += done.rows_affected();
            if done.rows_affected() < batch as u64 {
                return Ok(total);
            }
        }
    }
}

/// Makes the rest of the transaction `c` is in plan its statements with their own values: a
/// generic plan would read a common word's postings whole.
async fn plan_with_values(c: &mut PgConnection) -> Result<()> {
    sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(c)
        .await?;
    Ok(())
}

async fn fetch_one(
    c: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<MemoryRecord>> {
    let row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE m.tenant_id = $1 AND m.id = $2 AND {LIVE}"
    ))
    .bind(tenant.as_uuid())
    .bind(id)
    .fetch_optional(c)
    .await?;
    Ok(row)
}

/// The search of [`Store::search_candidates`], after `prefix` (empty, or `EXPLAIN …`).
fn search_query<'a>(
    prefix: &str,
    tenant: TenantId,
    terms: &[String],
    filter: &MemoryFilter,
    pool: i64,
    embeddings: bool,
) -> QueryBuilder<'a, Postgres> {
    const PER_TERM: i64 = 100;
    const PER_PAIR: i64 = 50;
    const PAIR_TERMS: usize = 6;
    let mut pieces: Vec<(Vec<String>, i64)> = Vec::new();
    if terms.len() > 1 {
        pieces.push((terms.to_vec(), pool));
    }
    pieces.extend(terms.iter().map(|t| (vec![t.clone()], PER_TERM)));
    if terms.len() > 2 {
        let first = &terms[..terms.len().min(PAIR_TERMS)];
        for (i, a) in first.iter().enumerate() {
            for b in &first[i + 1..] {
                pieces.push((vec![a.clone(), b.clone()], PER_PAIR));
            }
        }
    }
    // Innermost: the bounded pieces; then each candidate's matched terms, computed once and
    // ranked on; the conversation's key is joined only for the rows kept.
    let mut q = QueryBuilder::new(format!(
        "{prefix}SELECT c.*, s.key AS session_key FROM (\
         SELECT m.id, m.tenant_id, m.session_id, m.content, m.tags, m.kind, m.tier, m.source, \
         m.compacted_from, m.created_at, m.updated_at, m.expires_at, {}, \
         cardinality(m.terms) AS term_count, ARRAY(SELECT t FROM unnest(",
        if embeddings {
            "m.embedding"
        } else {
            "NULL::real[] AS embedding"
        }
    ));
    q.push_bind(terms.to_vec())
        .push("::text[]) t WHERE t = ANY(m.terms)) AS matched FROM memories m WHERE m.tenant_id = ")
        .push_bind(tenant.as_uuid())
        .push(" AND m.id IN (");
    for (i, (with, limit)) in pieces.into_iter().enumerate() {
        if i > 0 {
            q.push(" UNION ");
        }
        q.push("(SELECT m.id FROM memories m WHERE m.tenant_id = ")
            .push_bind(tenant.as_uuid())
            .push(" AND m.terms @> ")
            .push_bind(with)
            .push(format!("::text[] AND {LIVE}"));
        push_filter(&mut q, filter);
        q.push(" ORDER BY m.created_at DESC LIMIT ")
            .push_bind(limit)
            .push(")");
    }
    q.push(
        ")) c LEFT JOIN sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id \
         ORDER BY cardinality(c.matched) DESC, c.created_at DESC LIMIT ",
    )
    .push_bind(pool);
    q
}
