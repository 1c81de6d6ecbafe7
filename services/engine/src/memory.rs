//! Agent memory (API.md §5.4): adding and searching a tenant's memories, recalling the relevant
//! ones into a run's context, the `memory_search` / `memory_add` tools a run offers its model,
//! and compaction, which folds old `wal` entries into `compacted` summaries with the tenant's
//! model.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use openclaw_domain::memory::{self as text, MemoryKind};
use openclaw_domain::{Error, ErrorKind, TenantId};
use openclaw_store::{
    Fold, MemoryFilter, MemoryRecord, MemoryRefusal, MemoryScope, NewMemory, Store,
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::executor::ToolExecutor;
use crate::provider::{ChatMessage, ChatRequest, Providers, ToolCall, ToolSpec};
use crate::skills::{builtin, tool_error};

/// Longest memory, in bytes: a memory is a note, not a document store.
pub const MAX_CONTENT_BYTES: usize = 16 * 1024;
/// Tags per memory, and characters per tag.
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 64;
/// Results one search may return.
pub const MAX_SEARCH_LIMIT: i64 = 100;
/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 2_000;
/// Memories that share terms with a query and are scored; the rest are ranked out by the
/// database (fewer of the query's terms).
pub const SEARCH_POOL: i64 = 300;
/// With an embedding model: the newest memories compared by vector alone, beyond the lexical
/// candidates (without a vector index in Postgres, the whole store cannot be compared).
const SEMANTIC_RECENT: i64 = 500;
/// How much of a score semantic similarity makes when both halves are known.
const SEMANTIC_WEIGHT: f32 = 0.5;
/// A memory found by its vector alone must be at least this similar: unrelated texts are never
/// quite orthogonal, and their small similarities are noise, not results.
const SEMANTIC_FLOOR: f32 = 0.35;
/// An embedding call may hold up a write or a search this long; past it, lexical search alone
/// answers and the worker fills the vector in later.
const EMBED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// The memory tools a run offers its model.
pub const SEARCH_TOOL: &str = crate::skills::MEMORY_SEARCH;
pub const ADD_TOOL: &str = crate::skills::MEMORY_ADD;

#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// Whether runs recall memories into their context, and offer the memory tools.
    pub recall: bool,
    pub tools: bool,
    /// Memories recalled into a run at most, how relevant they must be, and how many tokens
    /// of the model's context they may take.
    pub recall_limit: i64,
    pub recall_min_score: f32,
    pub recall_budget_tokens: usize,
    /// How long a short-term memory lives.
    pub short_term_ttl: chrono::Duration,
    /// `wal` entries older than this are compacted by the scheduled job.
    pub compact_after: chrono::Duration,
    /// Entries one compaction job folds at most (the rest wait for the next one), and per
    /// summary.
    pub compact_max_entries: i64,
    pub fold_entries: usize,
    pub fold_bytes: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            recall: true,
            tools: true,
            recall_limit: 5,
            recall_min_score: 0.3,
            recall_budget_tokens: 800,
            short_term_ttl: chrono::Duration::days(7),
            compact_after: chrono::Duration::hours(24),
            compact_max_entries: 2_000,
            fold_entries: 20,
            fold_bytes: 8 * 1024,
        }
    }
}

/// A memory found by a search, and how well it answers the query (0..1).
#[derive(Debug, Clone)]
pub struct Found {
    pub memory: MemoryRecord,
    pub score: f32,
}

/// What a client or the model asks to remember.
#[derive(Debug, Clone)]
pub struct Remember {
    pub content: String,
    pub tags: Vec<String>,
    pub kind: MemoryKind,
    pub source: String,
    pub session: Option<Uuid>,
}

/// What one compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Compaction {
    pub folded: i32,
    pub summaries: i32,
}

#[derive(Clone)]
pub struct Memory {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    providers: Arc<Providers>,
    config: MemoryConfig,
}

fn storage(e: openclaw_store::StoreError) -> Error {
    e.to_error("memory storage failed")
}

/// Checks content and tags as the API and the `memory_add` tool take them; `field` prefixes
/// the offending field's name.
pub fn validate(content: &str, tags: &[String], field: &str) -> Result<(), Error> {
    let name = |f: &str| format!("{field}{f}");
    if content.trim().is_empty() {
        return Err(Error::invalid(
            name("content"),
            "`content` must not be empty",
        ));
    }
    if content.len() > MAX_CONTENT_BYTES {
        return Err(Error::invalid(
            name("content"),
            format!("`content` is at most {MAX_CONTENT_BYTES} bytes"),
        ));
    }
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid(
            name("tags"),
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    if let Some(bad) = tags
        .iter()
        .find(|t| t.trim().is_empty() || t.chars().count() > MAX_TAG_CHARS)
    {
        return Err(Error::invalid(
            name("tags"),
            format!("tags must be 1 to {MAX_TAG_CHARS} characters; got {bad:?}"),
        ));
    }
    Ok(())
}

impl Memory {
    pub fn new(store: Store, providers: Arc<Providers>, config: MemoryConfig) -> Memory {
        Memory {
            inner: Arc::new(Inner {
                store,
                providers,
                config,
            }),
        }
    }

    pub fn config(&self) -> &MemoryConfig {
        &self.inner.config
    }

    /// Stores a memory (validated by the caller), unless the tenant holds `cap` already (429).
    pub async fn add(
        &self,
        tenant: TenantId,
        memory: Remember,
        cap: u64,
    ) -> Result<MemoryRecord, Error> {
        let expires_at = (memory.kind == MemoryKind::ShortTerm)
            .then(|| Utc::now() + self.inner.config.short_term_ttl);
        let mut tags: Vec<String> = Vec::new();
        for t in memory.tags {
            let t = t.trim().to_string();
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let embedding = self.embed_one(&memory.content).await;
        let new = NewMemory {
            content: memory.content,
            tags,
            kind: memory.kind,
            source: memory.source,
            session: memory.session,
            expires_at,
            embed_pending: self.embeds() && embedding.is_none(),
            embedding,
        };
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        match self.inner.store.add_memory(tenant, new, cap).await {
            Ok(Ok(record)) => {
                metrics::counter!("openclaw_memories_added_total").increment(1);
                Ok(record)
            }
            Ok(Err(MemoryRefusal::Full { cap })) => Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "this tenant holds {cap} memories, as many as its plan allows: delete or \
                     prune some, or ask for a higher limit"
                ),
            )
            .with_details(json!({"limit": cap}))),
            Err(e) => Err(storage(e)),
        }
    }

    /// The memories that best answer `query` under `filter`, best first, scoring at least
    /// `min_score`, at most `limit`.
    pub async fn search(
        &self,
        tenant: TenantId,
        query: &str,
        filter: &MemoryFilter,
        limit: i64,
        min_score: f32,
    ) -> Result<Vec<Found>, Error> {
        let started = std::time::Instant::now();
        let store = &self.inner.store;
        let terms = text::query_terms(query);
        let query_vector = self.embed_one(query).await;
        let semantic = query_vector.is_some();
        let mut candidates = store
            .search_candidates(tenant, &terms, filter, SEARCH_POOL, semantic)
            .await
            .map_err(storage)?;
        let mut scores = text::score(
            query,
            &terms,
            &candidates
                .iter()
                .map(|c| text::Candidate {
                    content: &c.memory.content,
                    terms: c.term_count.max(0) as usize,
                    matched: &c.matched,
                })
                .collect::<Vec<_>>(),
        );
        if let Some(q) = &query_vector {
            // Recent memories the words missed may still mean the same thing.
            let seen: std::collections::HashSet<Uuid> =
                candidates.iter().map(|c| c.memory.id).collect();
            let recent = store
                .recent_embedded(tenant, filter, SEMANTIC_RECENT)
                .await
                .map_err(storage)?;
            for c in recent.into_iter().filter(|c| !seen.contains(&c.memory.id)) {
                let close = c
                    .embedding
                    .as_deref()
                    .and_then(|v| cosine(q, v))
                    .is_some_and(|s| s >= SEMANTIC_FLOOR);
                if close {
                    candidates.push(c);
                    scores.push(0.0);
                }
            }
            for (c, score) in candidates.iter().zip(scores.iter_mut()) {
                if let Some(similarity) = c.embedding.as_deref().and_then(|v| cosine(q, v)) {
                    *score = (1.0 - SEMANTIC_WEIGHT) * *score
                        + SEMANTIC_WEIGHT * similarity.clamp(0.0, 1.0);
                }
            }
        }
        let mut found: Vec<Found> = candidates
            .into_iter()
            .zip(scores)
            .filter(|(_, score)| *score > 0.0 && *score >= min_score)
            .map(|(c, score)| Found {
                memory: c.memory,
                score,
            })
            .collect();
        found.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.memory.created_at.cmp(&a.memory.created_at))
        });
        found.truncate(limit.max(0) as usize);
        metrics::histogram!("openclaw_memory_search_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(found)
    }

    /// The memories worth putting before a run's model: the most relevant to `message` within
    /// `scope` (the tenant's own and its conversation's, or the conversation's alone for a
    /// session-limited credential), within the token budget. Recall is a help, never a reason
    /// to fail a run: trouble is logged and recalls nothing.
    pub async fn recall(&self, tenant: TenantId, scope: MemoryScope, message: &str) -> Vec<Found> {
        let config = &self.inner.config;
        let filter = MemoryFilter {
            scope,
            ..Default::default()
        };
        let found = match self
            .search(
                tenant,
                message,
                &filter,
                config.recall_limit,
                config.recall_min_score,
            )
            .await
        {
            Ok(found) => found,
            Err(_) => return Vec::new(),
        };
        let mut budget = config.recall_budget_tokens;
        let mut kept = Vec::new();
        for f in found {
            let cost = text::estimate_tokens(&f.memory.content) + 8;
            if cost > budget {
                continue;
            }
            budget -= cost;
            kept.push(f);
        }
        metrics::counter!("openclaw_memories_recalled_total").increment(kept.len() as u64);
        kept
    }

    /// Folds the tenant's `wal` entries written before `before` into `compacted` summaries, a
    /// conversation and kind at a time, with the tenant's model. Each summary replaces its
    /// entries in one commit, so a compaction cut short (or run twice) never loses or doubles
    /// an entry.
    pub async fn compact(
        &self,
        tenant: TenantId,
        job: Option<Uuid>,
        before: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<Compaction, Error> {
        let inner = &self.inner;
        let config = &inner.config;
        let record = inner
            .store
            .get_tenant(tenant)
            .await
            .map_err(storage)?
            .ok_or_else(|| Error::not_found("tenant"))?;
        let (provider, model) = inner.providers.resolve(record.default_model.as_deref())?;
        let mut done = Compaction::default();
        let lease = chrono::Duration::minutes(10);
        while i64::from(done.folded) < config.compact_max_entries && !cancel.is_cancelled() {
            let batch = inner
                .store
                .claim_for_compaction(tenant, before, 200, lease)
                .await
                .map_err(storage)?;
            if batch.is_empty() {
                break;
            }
            let summaries_before = done.summaries;
            let groups = fold_groups(&batch, config.fold_entries, config.fold_bytes);
            let mut result = Ok(());
            let mut untouched: Vec<Uuid> = Vec::new();
            for group in groups {
                if result.is_err() || cancel.is_cancelled() {
                    untouched.extend(group.iter().map(|m| m.id));
                    continue;
                }
                let summary = if group.len() == 1 {
                    // One entry is its own summary: no model call needed.
                    Ok(group[0].content.clone())
                } else {
                    let req = ChatRequest::new(
                        model.clone(),
                        vec![
                            ChatMessage::system(FOLD_INSTRUCTIONS),
                            ChatMessage::user(
                                group
                                    .iter()
                                    .map(|m| format!("- {}", m.content))
                                    .collect::<Vec<_>>()
                                    .join("\n"),
                            ),
                        ],
                    );
                    match provider.complete(&req).await {
                        Ok(c) => {
                            if let Err(e) = inner
                                .store
                                .record_usage(
                                    tenant,
                                    &model.to_string(),
                                    c.usage.input_tokens as i64,
                                    c.usage.output_tokens as i64,
                                )
                                .await
                            {
                                tracing::warn!(error = %e, "compaction usage not recorded");
                            }
                            Ok(c.content)
                        }
                        Err(e) => Err(e),
                    }
                };
                let content = match summary {
                    Ok(s) if !s.trim().is_empty() => s,
                    // An empty fold would lose the entries: leave them for the next attempt.
                    Ok(_) => {
                        untouched.extend(group.iter().map(|m| m.id));
                        continue;
                    }
                    Err(e) => {
                        untouched.extend(group.iter().map(|m| m.id));
                        result = Err(e);
                        continue;
                    }
                };
                let mut fold = fold_of(group, content);
                fold.embedding = self.embed_one(&fold.content).await;
                fold.embed_pending = self.embeds() && fold.embedding.is_none();
                if inner
                    .store
                    .fold_memories(tenant, &fold)
                    .await
                    .map_err(storage)?
                {
                    done.folded += fold.entries.len() as i32;
                    done.summaries += 1;
                } else {
                    untouched.extend(fold.entries);
                }
            }
            if !untouched.is_empty() {
                inner
                    .store
                    .release_compaction_claim(tenant, &untouched)
                    .await
                    .map_err(storage)?;
            }
            result?;
            // Entries skipped in this round are claimable again: a round that folded nothing
            // would only meet them again, so stop and leave them to the next compaction.
            if done.summaries == summaries_before {
                break;
            }
        }
        inner
            .store
            .record_compaction(tenant, job, done.folded, done.summaries)
            .await
            .map_err(storage)?;
        metrics::counter!("openclaw_memories_compacted_total").increment(done.folded as u64);
        Ok(done)
    }

    /// Whether memories get vectors (an embedding model is configured).
    pub fn embeds(&self) -> bool {
        self.inner.providers.embeds()
    }

    /// The vector of `text`, if an embedding model is configured and answers in time.
    async fn embed_one(&self, text: &str) -> Option<Vec<f32>> {
        if !self.embeds() {
            return None;
        }
        let inputs = [text.to_string()];
        match tokio::time::timeout(EMBED_TIMEOUT, self.inner.providers.embed(&inputs)).await {
            Ok(Some(Ok(mut vectors))) => vectors.pop(),
            Ok(Some(Err(e))) => {
                tracing::warn!(error = %e.message, "embedding failed; lexical search only");
                None
            }
            Ok(None) => None,
            Err(_) => {
                tracing::warn!("embedding timed out; lexical search only");
                None
            }
        }
    }

    /// Gives vectors to memories written while the embedding model was unavailable (or before
    /// one was configured), `batch` at a time; how many it did.
    pub async fn embed_pending(&self, batch: i64) -> Result<usize, Error> {
        if !self.embeds() {
            return Ok(0);
        }
        let store = &self.inner.store;
        let pending = store.memories_to_embed(batch).await.map_err(storage)?;
        if pending.is_empty() {
            return Ok(0);
        }
        let inputs: Vec<String> = pending.iter().map(|(_, _, c)| c.clone()).collect();
        let vectors = match self.inner.providers.embed(&inputs).await {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(e),
            None => return Ok(0),
        };
        for ((tenant, id, _), vector) in pending.iter().zip(&vectors) {
            store
                .set_memory_embedding(*tenant, *id, vector)
                .await
                .map_err(storage)?;
        }
        Ok(vectors.len())
    }

    /// The `memory_search` and `memory_add` tools for a run in `session`: searching `scope`
    /// (what the run may recall), adding memories that derive from (and go with) the
    /// conversation.
    pub fn tools(&self, tenant: TenantId, session: Uuid, scope: MemoryScope) -> MemoryTools {
        MemoryTools {
            memory: self.clone(),
            tenant,
            scope,
            add_to: Some(session),
            source: "conversation",
        }
    }

    /// The memory skills executed directly (API, tasks): they search `scope` and add to its
    /// conversation, if it has one.
    pub fn skill(&self, tenant: TenantId, scope: MemoryScope) -> MemoryTools {
        let add_to = match scope {
            MemoryScope::Tenant => None,
            MemoryScope::Session(s) | MemoryScope::Recall(s) => Some(s),
        };
        MemoryTools {
            memory: self.clone(),
            tenant,
            scope,
            add_to,
            source: "api",
        }
    }
}

const FOLD_INSTRUCTIONS: &str = "You compact an AI assistant's memory. Merge the memory entries \
the user sends into one concise note that keeps every fact, name, number, date and preference; \
drop only repetition. Write in the language of the entries. Answer with the note alone.";

/// The message put before a run's history with what it recalled.
pub fn recall_message(found: &[Found]) -> Option<ChatMessage> {
    if found.is_empty() {
        return None;
    }
    let lines: Vec<String> = found
        .iter()
        .map(|f| {
            format!(
                "- ({}) {}",
                f.memory.created_at.format("%Y-%m-%d"),
                f.memory.content
            )
        })
        .collect();
    Some(ChatMessage::system(format!(
        "Relevant memories (saved earlier; use them when they help, and prefer the user's \
         latest words when they disagree):\n{}",
        lines.join("\n")
    )))
}

/// Consecutive entries of one conversation and kind, at most `max_entries` and about
/// `max_bytes` each (the claim returns them in that order).
fn fold_groups(
    batch: &[MemoryRecord],
    max_entries: usize,
    max_bytes: usize,
) -> Vec<&[MemoryRecord]> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, m) in batch.iter().enumerate() {
        let first = &batch[start];
        let same = m.session_id == first.session_id && m.kind == first.kind;
        if i > start && (!same || i - start >= max_entries || bytes + m.content.len() > max_bytes) {
            groups.push(&batch[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += m.content.len();
    }
    if start < batch.len() {
        groups.push(&batch[start..]);
    }
    groups
}

fn fold_of(group: &[MemoryRecord], content: String) -> Fold {
    let tags: BTreeSet<&String> = group.iter().flat_map(|m| &m.tags).collect();
    Fold {
        entries: group.iter().map(|m| m.id).collect(),
        content,
        tags: tags.into_iter().take(MAX_TAGS).cloned().collect(),
        kind: MemoryKind::parse(&group[0].kind).unwrap_or(MemoryKind::LongTerm),
        session: group[0].session_id,
        created_at: group
            .iter()
            .map(|m| m.created_at)
            .max()
            .unwrap_or_else(Utc::now),
        expires_at: group.iter().filter_map(|m| m.expires_at).max(),
        embedding: None,
        embed_pending: false,
    }
}

/// Cosine similarity; `None` for vectors of different lengths (a model changed) or zero ones.
fn cosine(a: &[f32], b: &[f32]) -> Option<f32> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    (na > 0.0 && nb > 0.0).then(|| dot / (na.sqrt() * nb.sqrt()))
}

/// The memory skills (`memory_search`, `memory_add`) bound to a tenant and a scope: a run's
/// (its recall scope, adding to its conversation) or a direct caller's.
pub struct MemoryTools {
    memory: Memory,
    tenant: TenantId,
    scope: MemoryScope,
    /// The conversation a memory added here derives from (deleted with it).
    add_to: Option<Uuid>,
    source: &'static str,
}

impl MemoryTools {
    /// Executes `memory_search` or `memory_add` on `input`, naming bad params below `path`.
    pub async fn execute(&self, name: &str, input: &Value, path: &str) -> Result<Value, Error> {
        let skill = builtin(name)
            .filter(|_| name == SEARCH_TOOL || name == ADD_TOOL)
            .ok_or_else(|| Error::invalid("name", format!("no memory skill `{name}`")))?;
        skill.validate_input(input, path)?;
        if name == SEARCH_TOOL {
            let query = input["query"].as_str().unwrap_or_default();
            if query.trim().is_empty() {
                let at = format!("{path}.query");
                return Err(Error::invalid(&at, format!("`{at}` must not be blank")));
            }
            let limit = input["limit"].as_i64().unwrap_or(5);
            let filter = MemoryFilter {
                scope: self.scope,
                ..Default::default()
            };
            let found = self
                .memory
                .search(self.tenant, query, &filter, limit, 0.0)
                .await?;
            return Ok(json!({
                "results": found.iter().map(|f| json!({
                    "id": memory_wire_id(f.memory.id),
                    "content": f.memory.content,
                    "score": f.score,
                    "tags": f.memory.tags,
                    "created_at": f.memory.created_at,
                })).collect::<Vec<_>>()
            }));
        }
        let content = input["content"].as_str().unwrap_or_default().to_string();
        let tags: Vec<String> = input["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        let kind = input["type"]
            .as_str()
            .and_then(MemoryKind::parse)
            .unwrap_or(MemoryKind::LongTerm);
        validate(&content, &tags, &format!("{path}."))?;
        let cap = match self.memory.inner.store.get_tenant(self.tenant).await {
            Ok(Some(t)) => t.limits().memories,
            Ok(None) => return Err(Error::not_found("tenant")),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the tenant's memory limit");
                return Err(Error::internal());
            }
        };
        let record = self
            .memory
            .add(
                self.tenant,
                Remember {
                    content,
                    tags,
                    kind,
                    source: self.source.into(),
                    session: self.add_to,
                },
                cap,
            )
            .await?;
        Ok(json!({"id": memory_wire_id(record.id), "saved": true}))
    }
}

#[async_trait::async_trait]
impl ToolExecutor for MemoryTools {
    fn tools(&self) -> Vec<ToolSpec> {
        [SEARCH_TOOL, ADD_TOOL]
            .iter()
            .filter_map(|n| builtin(n))
            .map(|s| s.tool_spec())
            .collect()
    }

    async fn call(&self, call: &ToolCall) -> Result<Value, String> {
        let result = self.execute(&call.name, &call.arguments, "arguments").await;
        let store = &self.memory.inner.store;
        if let Err(e) = store.record_skill_use(self.tenant, &call.name).await {
            tracing::warn!(error = %e, skill = %call.name, "skill use not recorded");
        }
        result.map_err(tool_error)
    }
}

/// `mem_<uuid>` on the wire.
pub fn memory_wire_id(id: Uuid) -> String {
    format!("mem_{}", id.simple())
}

pub fn parse_memory_id(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw.strip_prefix("mem_").unwrap_or(raw)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(session: Option<Uuid>, kind: &str, content: &str) -> MemoryRecord {
        MemoryRecord {
            id: Uuid::now_v7(),
            session_id: session,
            session_key: None,
            content: content.into(),
            tags: vec!["t".into()],
            kind: kind.into(),
            tier: "wal".into(),
            source: "api".into(),
            compacted_from: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            expires_at: None,
        }
    }

    #[test]
    fn folds_never_mix_conversations_or_kinds_and_stay_bounded() {
        let s = Some(Uuid::now_v7());
        let batch = vec![
            entry(None, "long-term", "a"),
            entry(None, "long-term", "b"),
            entry(None, "long-term", "c"),
            entry(None, "short-term", "d"),
            entry(s, "long-term", "e"),
            entry(s, "long-term", &"x".repeat(100)),
        ];
        let sizes: Vec<usize> = fold_groups(&batch, 2, 64).iter().map(|g| g.len()).collect();
        assert_eq!(sizes, [2, 1, 1, 1, 1]);
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            validate(" ", &[], "").unwrap_err().param.as_deref(),
            Some("content")
        );
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert_eq!(
            validate("x", &many, "").unwrap_err().param.as_deref(),
            Some("tags")
        );
    }
}
