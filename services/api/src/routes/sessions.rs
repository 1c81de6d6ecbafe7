//! Sessions and conversations (API.md §5.3): one resource with three views — S1/S4 under
//! `/v1/sessions`, S0's enveloped shape under `/api/v1/sessions`, S2's `/conversations`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use openclaw_domain::Scope;
use openclaw_store::{MessageRecord, NewSession, SessionFilter, SessionRecord, SessionRefusal};
use serde::Deserialize;
use serde_json::Value;

use super::valid_name;
use crate::auth::Authenticated;
use crate::dialect::{self, s0, s1, s2, s4, Dialect};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

const MAX_TTL_SECS: u64 = 365 * 24 * 3600;
const MAX_CONTEXT_BYTES: usize = 64 * 1024;
/// The most message bytes one conversation read answers with beyond its first message
/// (`has_more` says the rest is there).
const MAX_CONVERSATION_BYTES: i64 = 4 * 1024 * 1024;

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
) -> ApiResult<Response> {
    let s = create_session(&state, &auth, req).await?;
    Ok(match dialect {
        Dialect::Gateway => (StatusCode::CREATED, Json(s0::SessionCreated::of(&s))).into_response(),
        Dialect::Hosted => (StatusCode::CREATED, Json(s1::SessionCreated::of(&s))).into_response(),
    })
}

/// Creates a session for the caller; a session-limited token may only create its own.
pub async fn create_session(
    state: &AppState,
    auth: &Authenticated,
    req: CreateSession,
) -> ApiResult<SessionRecord> {
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
    // A session's model is what its runs use when they name none: within the caller's reach.
    if let (Some(model), Some(list)) = (&req.model, auth.allowed_models.as_deref()) {
        let (_, resolved) = state.runs().providers().resolve(Some(model))?;
        openclaw_engine::run::allowed(Some(list), &resolved, "model")?;
    }
    let new = NewSession {
        key: req.session_id,
        label: short_text("label", req.label)?,
        agent_id: short_text("agent_id", req.agent_id)?,
        model: short_text("model", req.model)?,
        channel: short_text("channel", req.channel)?,
        context: req.context,
        ttl,
    };
    state
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

/// A page of the caller's sessions, as the store answered it.
pub struct SessionPage {
    pub sessions: Vec<SessionRecord>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl SessionPage {
    /// The page in one dialect's view of a session.
    pub fn view<'a, T>(&'a self, one: impl Fn(&'a SessionRecord) -> T) -> dialect::Sessions<T> {
        dialect::Sessions {
            sessions: self.sessions.iter().map(one).collect(),
            total: self.total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// The caller's sessions, `default_limit` to a page (at most `max_limit`); a token limited to
/// one session sees just that one. The sessions routes', S2's conversations' and WebSocket
/// `session.list`'s.
pub async fn list_sessions(
    state: &AppState,
    auth: &Authenticated,
    q: ListQuery,
    default_limit: i64,
    max_limit: i64,
) -> ApiResult<SessionPage> {
    auth.require(Scope::Sessions)?;
    let (limit, offset) = super::page(q.limit, q.offset, default_limit, max_limit)?;
    let filter = SessionFilter {
        channel: q.channel,
        since: q.since,
        until: q.until,
        limit,
        offset,
    };
    let (sessions, total) = match &auth.session {
        None => state.store().list_sessions(auth.tenant_id, &filter).await?,
        Some(key) => {
            let one = state.store().get_session(auth.tenant_id, key).await?;
            let n = i64::from(one.is_some());
            (one.into_iter().collect(), n)
        }
    };
    Ok(SessionPage {
        sessions,
        total,
        limit,
        offset,
    })
}

pub async fn list(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = list_sessions(&state, &auth, q, 50, 200).await?;
    Ok(match dialect {
        Dialect::Gateway => Json(page.view(s0::Session::of)).into_response(),
        Dialect::Hosted => Json(page.view(s4::Session::of)).into_response(),
    })
}

/// A live session of the caller's, or 404: the routes' and WebSocket `session.get`'s.
pub async fn get_session(
    state: &AppState,
    auth: &Authenticated,
    key: &str,
) -> ApiResult<SessionRecord> {
    auth.require(Scope::Sessions)?;
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
) -> ApiResult<Response> {
    let s = get_session(&state, &auth, &key).await?;
    Ok(match dialect {
        Dialect::Gateway => Json(s0::Session::with_context(&s)).into_response(),
        Dialect::Hosted => Json(s4::Session::with_context(&s)).into_response(),
    })
}

/// Deletes one of the caller's sessions with its messages, or 404.
pub async fn delete_session(state: &AppState, auth: &Authenticated, key: &str) -> ApiResult<()> {
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
) -> ApiResult<Response> {
    delete_session(&state, &auth, &key).await?;
    Ok(match dialect {
        Dialect::Gateway => Json(s0::Deleted { deleted: true }).into_response(),
        Dialect::Hosted => Json(s4::SessionDeleted {
            session_key: &key,
            deleted: true,
        })
        .into_response(),
    })
}

pub async fn list_conversations(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = list_sessions(&state, &auth, q, 20, 100).await?;
    Ok(Json(s2::Conversations {
        conversations: page.sessions.iter().map(s2::Conversation::of).collect(),
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationQuery {
    /// How many messages, from the first (default and maximum 1000).
    #[serde(default)]
    limit: Option<i64>,
}

/// A conversation of the caller's and its first `limit` messages, with whether there are more.
pub async fn read_conversation(
    state: &AppState,
    auth: &Authenticated,
    key: &str,
    q: ConversationQuery,
) -> ApiResult<(SessionRecord, Vec<MessageRecord>, bool)> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "`limit` must be between 1 and 1000",
        ));
    }
    let s = get_session(state, auth, key).await?;
    let (messages, has_more) = state
        .store()
        .list_messages(auth.tenant_id, s.id, limit, MAX_CONVERSATION_BYTES)
        .await?;
    Ok((s, messages, has_more))
}

pub async fn get_conversation(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<ConversationQuery>,
) -> ApiResult<Response> {
    let (s, messages, has_more) = read_conversation(&state, &auth, &key, q).await?;
    Ok(Json(s2::ConversationDetail::of(&s, &messages, has_more)).into_response())
}

/// Deletes the conversation and its messages. (S2 also deletes the memory derived from it; the
/// memory store will hang off the session so that it goes with it.)
pub async fn delete_conversation(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    delete_session(&state, &auth, &key).await?;
    Ok(Json(s2::Deleted {
        id: &key,
        deleted: true,
    })
    .into_response())
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
