//! Sessions and conversations (API.md §5.3): one resource with three views — S1/S4 under
//! `/v1/sessions`, S0's enveloped shape under `/api/v1/sessions`, S2's `/conversations`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use openclaw_domain::Scope;
use openclaw_store::{MessageRecord, NewSession, SessionFilter, SessionRecord, SessionRefusal};
use serde::Deserialize;
use serde_json::{json, Value};

use super::valid_name;
use crate::auth::Authenticated;
use crate::dialect::Dialect;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

const MAX_TTL_SECS: u64 = 365 * 24 * 3600;
const MAX_CONTEXT_BYTES: usize = 64 * 1024;

/// Client-chosen session keys: printable, no `/` (they travel in paths), at most 128 bytes.
pub fn valid_session_key(param: &str, key: &str) -> ApiResult<()> {
    let ok =
        !key.is_empty() && key.len() <= 128 && !key.chars().any(|c| c.is_control() || c == '/');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            param,
            format!("`{param}` must be 1 to 128 characters, without `/` or control characters"),
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    #[serde(
        default,
        alias = "sessionKey",
        alias = "session_key",
        alias = "sessionId"
    )]
    session_id: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default, alias = "agentId")]
    agent_id: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    context: Option<Value>,
    /// Seconds until the session expires.
    #[serde(default)]
    ttl: Option<u64>,
}

fn short_text(param: &str, v: Option<String>) -> ApiResult<Option<String>> {
    v.map(|s| valid_name(param, &s)).transpose()
}

pub async fn create(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    ApiJson(req): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require(Scope::Sessions)?;
    if let Some(key) = &req.session_id {
        valid_session_key("session_id", key)?;
        if !auth.sees_session(key) {
            return Err(ApiError(openclaw_domain::Error::forbidden(
                "this token is limited to another session",
            )));
        }
    } else if auth.session.is_some() {
        return Err(ApiError(openclaw_domain::Error::forbidden(
            "this token is limited to one session",
        )));
    }
    if let Some(ctx) = &req.context {
        if !ctx.is_object() {
            return Err(ApiError::invalid("context", "`context` must be an object"));
        }
        if ctx.to_string().len() > MAX_CONTEXT_BYTES {
            return Err(ApiError::invalid(
                "context",
                "`context` must be at most 64 KiB of JSON",
            ));
        }
    }
    let ttl = match req.ttl {
        Some(t) if t == 0 || t > MAX_TTL_SECS => {
            return Err(ApiError::invalid(
                "ttl",
                format!("`ttl` must be between 1 and {MAX_TTL_SECS} seconds"),
            ));
        }
        Some(t) => Some(chrono::Duration::seconds(t as i64)),
        None => None,
    };
    let new = NewSession {
        key: req.session_id,
        label: short_text("label", req.label)?,
        agent_id: short_text("agent_id", req.agent_id)?,
        model: short_text("model", req.model)?,
        channel: short_text("channel", req.channel)?,
        context: req.context,
        ttl,
    };
    let session = state
        .store()
        .create_session(auth.tenant_id, new)
        .await?
        .map_err(|refusal| match refusal {
            SessionRefusal::KeyTaken => ApiError::new(
                openclaw_domain::ErrorKind::Conflict,
                "a session with this id already exists",
            )
            .with_param("session_id"),
            SessionRefusal::Expired => ApiError::internal("a fresh session cannot be expired"),
        })?;
    let body = match dialect {
        Dialect::Gateway => json!({
            "sessionId": session.key,
            "label": session.label,
            "createdAt": session.created_at,
        }),
        Dialect::Hosted => json!({
            "session_id": session.key,
            "label": session.label,
            "agent_id": session.agent_id,
            "model": session.model,
            "channel": session.channel,
            "context": session.context,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
        }),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// S4's session object (camelCase, as S4 documents it).
fn hosted_view(s: &SessionRecord) -> Value {
    json!({
        "sessionKey": s.key,
        "agentId": s.agent_id,
        "channel": s.channel,
        "label": s.label,
        "model": s.model,
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
        "lastMessageAt": s.last_message_at,
        "expiresAt": s.expires_at,
        "messageCount": s.message_count,
    })
}

/// S0's session object. S0's page lists sessions by `label`: one the client never named (the
/// `default` session a message created) is shown by its key.
fn gateway_view(s: &SessionRecord) -> Value {
    json!({
        "id": s.key,
        "label": s.label.as_deref().unwrap_or(&s.key),
        "createdAt": s.created_at,
        "messageCount": s.message_count,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    since: Option<DateTime<Utc>>,
    #[serde(default)]
    until: Option<DateTime<Utc>>,
}

impl ListQuery {
    fn filter(self, default_limit: i64, max_limit: i64) -> ApiResult<SessionFilter> {
        let (limit, offset) = super::page(self.limit, self.offset, default_limit, max_limit)?;
        Ok(SessionFilter {
            channel: self.channel,
            since: self.since,
            until: self.until,
            limit,
            offset,
        })
    }
}

/// Lists the caller's sessions; a token limited to one session sees just that one.
async fn visible_sessions(
    state: &AppState,
    auth: &Authenticated,
    filter: &SessionFilter,
) -> ApiResult<(Vec<SessionRecord>, i64)> {
    match &auth.session {
        None => Ok(state.store().list_sessions(auth.tenant_id, filter).await?),
        Some(key) => {
            let one = state.store().get_session(auth.tenant_id, key).await?;
            let n = i64::from(one.is_some());
            Ok((one.into_iter().collect(), n))
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(list_sessions(&state, &auth, q, dialect).await?))
}

/// The caller's sessions in `dialect`'s shape: the route's and WebSocket `session.list`'s.
pub async fn list_sessions(
    state: &AppState,
    auth: &Authenticated,
    q: ListQuery,
    dialect: Dialect,
) -> ApiResult<Value> {
    auth.require(Scope::Sessions)?;
    let filter = q.filter(50, 200)?;
    let (sessions, total) = visible_sessions(state, auth, &filter).await?;
    let view = match dialect {
        Dialect::Gateway => gateway_view,
        Dialect::Hosted => hosted_view,
    };
    Ok(json!({
        "sessions": sessions.iter().map(view).collect::<Vec<_>>(),
        "total": total,
        "limit": filter.limit,
        "offset": filter.offset,
    }))
}

/// A live session of the caller's, or 404.
async fn session(state: &AppState, auth: &Authenticated, key: &str) -> ApiResult<SessionRecord> {
    if !auth.sees_session(key) {
        return Err(ApiError::not_found("session"));
    }
    state
        .store()
        .get_session(auth.tenant_id, key)
        .await?
        .ok_or_else(|| ApiError::not_found("session"))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(get_session(&state, &auth, &key, dialect).await?))
}

/// One of the caller's sessions in `dialect`'s shape, with its context: the route's and
/// WebSocket `session.get`'s.
pub async fn get_session(
    state: &AppState,
    auth: &Authenticated,
    key: &str,
    dialect: Dialect,
) -> ApiResult<Value> {
    auth.require(Scope::Sessions)?;
    let s = session(state, auth, key).await?;
    let mut body = match dialect {
        Dialect::Gateway => gateway_view(&s),
        Dialect::Hosted => hosted_view(&s),
    };
    body["context"] = s.context.clone();
    Ok(body)
}

async fn delete_for(state: &AppState, auth: &Authenticated, key: &str) -> ApiResult<()> {
    auth.require(Scope::Sessions)?;
    if !auth.sees_session(key) || !state.store().delete_session(auth.tenant_id, key).await? {
        return Err(ApiError::not_found("session"));
    }
    Ok(())
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    delete_for(&state, &auth, &key).await?;
    Ok(Json(match dialect {
        Dialect::Gateway => json!({"deleted": true}),
        Dialect::Hosted => json!({"sessionKey": key, "deleted": true}),
    }))
}

/// S2's conversation summary.
fn conversation_view(s: &SessionRecord) -> Value {
    json!({
        "id": s.key,
        "channel": s.channel,
        "created_at": s.created_at,
        "last_message_at": s.last_message_at,
        "message_count": s.message_count,
        "summary": s.summary,
    })
}

pub fn message_view(m: &MessageRecord) -> Value {
    let mut v = json!({
        "id": format!("msg_{}", m.id.simple()),
        "role": m.role,
        "content": m.content,
        "created_at": m.created_at,
    });
    if let Some(model) = &m.model {
        v["model"] = json!(model);
    }
    if m.input_tokens.is_some() || m.output_tokens.is_some() {
        v["tokens"] =
            json!({"input": m.input_tokens.unwrap_or(0), "output": m.output_tokens.unwrap_or(0)});
    }
    if let Some(calls) = &m.tool_calls {
        v["tool_calls"] = calls.clone();
    }
    if let Some(run) = m.run_id {
        v["run_id"] = json!(format!("run_{}", run.simple()));
    }
    if let Some(metadata) = &m.metadata {
        v["metadata"] = metadata.clone();
    }
    v
}

pub async fn list_conversations(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::Sessions)?;
    let filter = q.filter(20, 100)?;
    let (sessions, total) = visible_sessions(&state, &auth, &filter).await?;
    Ok(Json(json!({
        "conversations": sessions.iter().map(conversation_view).collect::<Vec<_>>(),
        "total": total,
        "limit": filter.limit,
        "offset": filter.offset,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationQuery {
    /// How many messages, from the first (default and maximum 1000).
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn get_conversation(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<ConversationQuery>,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::Sessions)?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "`limit` must be between 1 and 1000",
        ));
    }
    let s = session(&state, &auth, &key).await?;
    let (messages, has_more) = state
        .store()
        .list_messages(auth.tenant_id, s.id, limit)
        .await?;
    let mut body = conversation_view(&s);
    body["label"] = json!(s.label);
    body["agent_id"] = json!(s.agent_id);
    body["model"] = json!(s.model);
    body["messages"] = messages.iter().map(message_view).collect();
    body["has_more"] = json!(has_more);
    Ok(Json(body))
}

/// Deletes the conversation and its messages. (S2 also deletes the memory derived from it; the
/// memory store will hang off the session so that it goes with it.)
pub async fn delete_conversation(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    delete_for(&state, &auth, &key).await?;
    Ok(Json(json!({"id": key, "deleted": true})))
}

/// The routes only S0 documents under these paths (S0's envelope wraps them under `/api/v1`).
pub fn s0_router() -> Router<AppState> {
    Router::new()
        .route("/sessions", routing::post(create).get(list))
        .route("/sessions/{id}", routing::get(get).delete(delete))
}

/// S2's conversations.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", routing::get(list_conversations))
        .route(
            "/conversations/{id}",
            routing::get(get_conversation).delete(delete_conversation),
        )
}
