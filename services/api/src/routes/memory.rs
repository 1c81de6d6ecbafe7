//! Memory (API.md §5.4): add and search (S0's GET and S2's POST), list, stats, prune, get and
//! delete. Under `/api/v1`, S0's two routes (add, GET search) answer in its envelope.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use openclaw_domain::memory::{MemoryKind, MemoryTier};
use openclaw_domain::{Error, ErrorKind, Scope};
use openclaw_engine::memory::{
    memory_wire_id, parse_memory_id, validate, Found, Remember, MAX_QUERY_CHARS, MAX_SEARCH_LIMIT,
};
use openclaw_store::{MemoryFilter, MemoryRecord, MemoryScope};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::dialect::{s2, Dialect};
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json, ApiJson, ApiQuery};
use crate::middleware::envelope::Enveloped;
use crate::state::AppState;

const DEFAULT_SEARCH_LIMIT: i64 = 10;
const DEFAULT_LIST_LIMIT: i64 = 20;
const MAX_SOURCE_CHARS: usize = 200;

/// S0's routes answer in its envelope under `/api/v1`, errors included.
fn in_dialect(dialect: Dialect, resp: ApiResult<Response>) -> Response {
    let resp = resp.unwrap_or_else(IntoResponse::into_response);
    match dialect {
        Dialect::Gateway => (Extension(Enveloped), resp).into_response(),
        Dialect::Hosted => resp,
    }
}

/// The conversation (session key) named in a request, as its id. A token limited to one
/// session may name only that one; an unknown conversation is 404, like another tenant's.
async fn conversation(
    state: &AppState,
    auth: &Authenticated,
    key: Option<&str>,
) -> ApiResult<Option<Uuid>> {
    let key = match (key, auth.session.as_deref()) {
        (Some(k), Some(own)) if k != own => return Err(ApiError::not_found("conversation")),
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => return Ok(None),
    };
    match state.store().get_session(auth.tenant_id, key).await? {
        Some(s) => Ok(Some(s.id)),
        None => Err(ApiError::not_found("conversation")),
    }
}

/// `type` of a read: S2's tiers (`all`, `wal`, `compacted`) or S0's kinds.
fn type_filter(raw: Option<&str>, filter: &mut MemoryFilter) -> ApiResult<()> {
    match raw {
        None | Some("all") => {}
        Some(t) => match (MemoryTier::parse(t), MemoryKind::parse(t)) {
            (Some(tier), _) => filter.tier = Some(tier),
            (_, Some(kind)) => filter.kind = Some(kind),
            _ => {
                return Err(ApiError::invalid(
                    "type",
                    "`type` must be one of all, wal, compacted, long-term, short-term",
                ));
            }
        },
    }
    Ok(())
}

fn time_range(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    filter: &mut MemoryFilter,
) -> ApiResult<()> {
    if let (Some(s), Some(u)) = (since, until) {
        if s > u {
            return Err(ApiError::invalid(
                "until",
                "`until` must not be before `since`",
            ));
        }
    }
    filter.since = since;
    filter.until = until;
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMemory {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    /// A label of where the memory comes from (S0's `MEMORY.md`); `api` by default.
    #[serde(default)]
    source: Option<String>,
    /// Links the memory to a conversation: it is recalled only there and deleted with it.
    #[serde(
        default,
        alias = "conversationId",
        alias = "session_id",
        alias = "sessionId",
        alias = "sessionKey",
        alias = "session"
    )]
    conversation_id: Option<String>,
}

/// `POST /v1/memory` → 201 with the memory, and S0's `memoryId` / `createdAt`.
pub async fn add(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    body: Bytes,
) -> Response {
    let resp = async {
        let req: AddMemory = parse_json(&body)?;
        let record = add_memory(&state, &auth, req).await?;
        Ok((StatusCode::CREATED, Json(s2::MemoryAdded::of(&record))).into_response())
    };
    in_dialect(dialect, resp.await)
}

/// Stores a memory for the caller (in its session when the token is limited to one).
pub async fn add_memory(
    state: &AppState,
    auth: &Authenticated,
    req: AddMemory,
) -> ApiResult<MemoryRecord> {
    auth.require(Scope::Memory)?;
    let Some(content) = req.content else {
        return Err(ApiError::invalid("content", "`content` is required"));
    };
    let tags = req.tags.unwrap_or_default();
    validate(&content, &tags, "")?;
    let kind = match req.kind.as_deref() {
        None => MemoryKind::LongTerm,
        Some(k) => MemoryKind::parse(k).ok_or_else(|| {
            ApiError::invalid("type", "`type` must be `long-term` or `short-term`")
        })?,
    };
    let source = match req.source {
        None => "api".to_string(),
        Some(s) if !s.trim().is_empty() && s.chars().count() <= MAX_SOURCE_CHARS => {
            s.trim().to_string()
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "source",
                format!("`source` must be 1 to {MAX_SOURCE_CHARS} characters"),
            ));
        }
    };
    let session = conversation(state, auth, req.conversation_id.as_deref()).await?;
    Ok(state
        .runs()
        .memory()
        .add(
            auth.tenant_id,
            Remember {
                content,
                tags,
                kind,
                source,
                session,
            },
            auth.limits.memories,
        )
        .await?)
}

/// A search, from S0's query string (or a JSON body some of its clients send with GET) or
/// S2's POST body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    #[serde(default, alias = "q")]
    query: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default, alias = "minScore")]
    min_score: Option<f32>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    since: Option<DateTime<Utc>>,
    #[serde(default)]
    until: Option<DateTime<Utc>>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(
        default,
        alias = "conversationId",
        alias = "session_id",
        alias = "sessionId",
        alias = "sessionKey",
        alias = "session"
    )]
    conversation_id: Option<String>,
}

/// The caller's memories nearest a query, best first.
pub async fn search_memory(
    state: &AppState,
    auth: &Authenticated,
    p: SearchParams,
) -> ApiResult<Vec<Found>> {
    auth.require(Scope::Memory)?;
    let query = p.query.unwrap_or_default();
    if query.trim().is_empty() {
        return Err(ApiError::invalid("query", "`query` is required"));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(
            "query",
            format!("`query` is at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let limit = p.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
    if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("`limit` must be between 1 and {MAX_SEARCH_LIMIT}"),
        ));
    }
    let min_score = p.min_score.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&min_score) {
        return Err(ApiError::invalid(
            "min_score",
            "`minScore` must be between 0 and 1",
        ));
    }
    let mut filter = MemoryFilter {
        tag: p.tag,
        ..Default::default()
    };
    type_filter(p.kind.as_deref(), &mut filter)?;
    time_range(p.since, p.until, &mut filter)?;
    if let Some(s) = conversation(state, auth, p.conversation_id.as_deref()).await? {
        filter.scope = MemoryScope::Session(s);
    }
    Ok(state
        .runs()
        .memory()
        .search(auth.tenant_id, &query, &filter, limit, min_score)
        .await?)
}

fn results(found: &[Found]) -> Response {
    Json(s2::MemoryResults {
        results: found.iter().map(s2::MemoryFound::of).collect(),
    })
    .into_response()
}

/// `GET /v1/memory/search?query=&limit=&minScore=` (S0).
pub async fn search_get(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    query: Result<ApiQuery<SearchParams>, ApiError>,
    body: Bytes,
) -> Response {
    let resp = async {
        let ApiQuery(mut p) = query?;
        if p.query.is_none() && !body.is_empty() {
            p = parse_json(&body)?;
        }
        search_memory(&state, &auth, p).await.map(|f| results(&f))
    }
    .await;
    in_dialect(dialect, resp)
}

/// `POST /v1/memory/search` (S2).
pub async fn search_post(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(p): ApiJson<SearchParams>,
) -> ApiResult<Response> {
    search_memory(&state, &auth, p).await.map(|f| results(&f))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    since: Option<DateTime<Utc>>,
    #[serde(default)]
    until: Option<DateTime<Utc>>,
    #[serde(
        default,
        alias = "conversationId",
        alias = "session_id",
        alias = "sessionId"
    )]
    conversation_id: Option<String>,
}

/// `GET /v1/memory`: newest first, `{memories, total, limit, offset}`.
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    auth.require(Scope::Memory)?;
    let (limit, offset) = super::page(q.limit, q.offset, DEFAULT_LIST_LIMIT, MAX_SEARCH_LIMIT)?;
    let mut filter = MemoryFilter {
        tag: q.tag,
        ..Default::default()
    };
    type_filter(q.kind.as_deref(), &mut filter)?;
    time_range(q.since, q.until, &mut filter)?;
    if let Some(s) = conversation(&state, &auth, q.conversation_id.as_deref()).await? {
        filter.scope = MemoryScope::Session(s);
    }
    let (rows, total) = state
        .store()
        .list_memories(auth.tenant_id, &filter, limit, offset)
        .await?;
    Ok(Json(s2::Memories {
        memories: rows.iter().map(s2::Memory::of).collect(),
        total,
        limit,
        offset,
    })
    .into_response())
}

/// A memory the caller may see: the tenant's, and for a token limited to one session, that
/// session's. Anything else is 404.
async fn visible(state: &AppState, auth: &Authenticated, raw: &str) -> ApiResult<MemoryRecord> {
    let id = parse_memory_id(raw).ok_or_else(|| ApiError::not_found("memory"))?;
    let memory = state
        .store()
        .get_memory(auth.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("memory"))?;
    if let Some(own) = &auth.session {
        if memory.session_key.as_deref() != Some(own.as_str()) {
            return Err(ApiError::not_found("memory"));
        }
    }
    Ok(memory)
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    auth.require(Scope::Memory)?;
    let memory = visible(&state, &auth, &id).await?;
    Ok(Json(s2::Memory::of(&memory)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<s2::MemoryDeleted>> {
    auth.require(Scope::Memory)?;
    let memory = visible(&state, &auth, &id).await?;
    if !state
        .store()
        .delete_memory(auth.tenant_id, memory.id)
        .await?
    {
        return Err(ApiError::not_found("memory"));
    }
    Ok(Json(s2::MemoryDeleted {
        id: memory_wire_id(memory.id),
        deleted: true,
    }))
}

/// `GET /v1/memory/stats` (S2).
pub async fn stats(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<s2::MemoryStatsView>> {
    auth.require(Scope::Memory)?;
    if auth.session.is_some() {
        // The tenant's totals are not a one-session token's to see.
        return Err(ApiError(Error::new(
            ErrorKind::Forbidden,
            "a token limited to one session cannot read the tenant's memory stats",
        )));
    }
    let s = state.store().memory_stats(auth.tenant_id).await?;
    Ok(Json(s2::MemoryStatsView::of(&s, auth.limits.memories)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prune {
    #[serde(default)]
    before: Option<DateTime<Utc>>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(
        default,
        alias = "conversationId",
        alias = "session_id",
        alias = "sessionId"
    )]
    conversation_id: Option<String>,
    #[serde(default)]
    confirm: Option<bool>,
}

/// `DELETE /v1/memory/prune` `{before, type, confirm: true}` (S2): deletes what matches.
/// Without `confirm: true` nothing is deleted: 400, saying how many would be.
pub async fn prune(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Bytes,
) -> ApiResult<Json<s2::Pruned>> {
    auth.require(Scope::Memory)?;
    let req: Prune = if body.iter().all(u8::is_ascii_whitespace) {
        Prune::default()
    } else {
        parse_json(&body)?
    };
    let mut filter = MemoryFilter {
        tag: req.tag,
        until: req.before,
        ..Default::default()
    };
    type_filter(req.kind.as_deref(), &mut filter)?;
    if let Some(s) = conversation(&state, &auth, req.conversation_id.as_deref()).await? {
        filter.scope = MemoryScope::Session(s);
    }
    let store = state.store();
    if req.confirm != Some(true) {
        let matching = store.prune_memories(auth.tenant_id, &filter, true).await?;
        return Err(ApiError(
            Error::invalid(
                "confirm",
                format!(
                    "pruning deletes {matching} memories for good; send `confirm: true` to do it"
                ),
            )
            .with_details(json!({"matching": matching})),
        ));
    }
    let deleted = store.prune_memories(auth.tenant_id, &filter, false).await?;
    Ok(Json(s2::Pruned { deleted }))
}

/// Memory. S0's add and search share paths with S2's and mark their answers for the envelope.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/memory", routing::post(add).get(list))
        .route("/memory/search", routing::get(search_get).post(search_post))
        .route("/memory/stats", routing::get(stats))
        .route("/memory/prune", routing::delete(prune))
        .route("/memory/{id}", routing::get(get).delete(delete))
}
