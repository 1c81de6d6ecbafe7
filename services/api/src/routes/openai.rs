//! The OpenAI dialect (API.md §5.2), so that the official OpenAI SDKs work unchanged:
//! `POST /v1/chat/completions` as a thin view over one run, and `GET /v1/models[/{id}]` from the
//! provider registry.
//!
//! The wire shapes are `dialect::openai`'s (the request and its parsing, the completion and
//! chunk views); this module has the handlers and the `x-ratelimit-*-requests` / `-tokens`
//! headers OpenAI clients read. The run itself — session, model resolution, upstream call,
//! persistence, usage — is `runs::start`'s.

use std::time::Duration;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use chrono::Utc;
use openclaw_domain::Scope;
use openclaw_engine::run::quota::until_midnight;
use openclaw_engine::run::run_wire_id;
use serde_json::{json, Value};

use super::runs::{self, render_stream, sse};
use crate::auth::Authenticated;
use crate::dialect::openai::request::{parse, session_header, CompletionBody, SESSION_HEADER};
use crate::dialect::openai::views::{chunks, completion, model_json, Meta};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::limits::Decision;
use crate::state::AppState;

// ---- rate-limit headers --------------------------------------------------------------------

/// A duration as OpenAI writes its resets (Go's notation): `17ms`, `1s`, `1.5s`, `6m0s`,
/// `2h3m4s`.
pub fn openai_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d < Duration::from_secs(1) {
        // Rounded up: a reset reported as 0ms would invite a retry that is still refused.
        return format!("{}ms", d.as_micros().div_ceil(1000));
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let millis = d.subsec_millis();
    let s = if millis == 0 {
        s.to_string()
    } else {
        format!("{s}.{millis:03}").trim_end_matches('0').to_string()
    };
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

/// OpenAI's `x-ratelimit-*-requests` (from the rate limiter's decision for this request) and
/// `-tokens` (the daily token quota against the tenant's counter, which this replica mirrors:
/// no database read). They are added after the answer is ready, so a non-streamed
/// completion's own tokens are already counted.
fn limit_headers(
    state: &AppState,
    auth: &Authenticated,
    decision: Option<Decision>,
    headers: &mut HeaderMap,
) {
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    if let Some(d) = decision {
        put("x-ratelimit-limit-requests", d.limit_per_hour.to_string());
        put("x-ratelimit-remaining-requests", d.remaining.to_string());
        put("x-ratelimit-reset-requests", openai_duration(d.reset_after));
    }
    let used = state.runs().quota().used(auth.tenant_id);
    let limit = auth.limits.tokens_per_day;
    put("x-ratelimit-limit-tokens", limit.to_string());
    put(
        "x-ratelimit-remaining-tokens",
        limit.saturating_sub(used).to_string(),
    );
    put(
        "x-ratelimit-reset-tokens",
        openai_duration(until_midnight(Utc::now())),
    );
}

// ---- handlers ------------------------------------------------------------------------------

/// `POST /v1/chat/completions`. The body is read here rather than by an extractor so that its
/// errors carry the rate-limit headers too.
pub async fn chat_completions(
    State(state): State<AppState>,
    auth: Authenticated,
    req: Request,
) -> Response {
    let decision = req.extensions().get::<Decision>().copied();
    let mut resp = answer(&state, &auth, req)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    limit_headers(&state, &auth, decision, resp.headers_mut());
    resp
}

async fn answer(state: &AppState, auth: &Authenticated, req: Request) -> ApiResult<Response> {
    auth.require(Scope::Messages)?;
    let header = session_header(req.headers())?;
    let ApiJson(body) = ApiJson::<CompletionBody>::from_request(req, state).await?;
    let parsed = parse(body, header)?;
    let started = runs::start(state, auth, parsed.run, parsed.session_param).await?;
    // OpenAI's body has no session field: these tell the client where the turn was recorded.
    let mut extra = HeaderMap::new();
    // (A stateless completion has no session to name.)
    if let (false, Ok(v)) = (
        started.session_key.is_empty(),
        HeaderValue::from_str(&started.session_key),
    ) {
        extra.insert(SESSION_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&run_wire_id(started.run_id)) {
        extra.insert("x-openclaw-run-id", v);
    }
    let mut resp = if parsed.stream {
        let frames = chunks(Meta::of(&started), parsed.include_usage);
        sse(render_stream(started.events, frames, Vec::new()))
    } else {
        Json(completion(started).await?).into_response()
    };
    resp.headers_mut().extend(extra);
    Ok(resp)
}

/// Whether the caller may name `id` (`provider/model`).
fn may_use(auth: &Authenticated, id: &str) -> bool {
    auth.allowed_models.as_ref().is_none_or(|l| l.allows(id))
}

/// `GET /v1/models`: every model on offer that the caller may name.
pub async fn list_models(State(state): State<AppState>, auth: Authenticated) -> Json<Value> {
    let models = state.runs().providers().models().await;
    let data: Vec<Value> = models
        .iter()
        .filter(|m| may_use(&auth, &m.id))
        .map(model_json)
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// `GET /v1/models/{id}`; ids contain `/` (`openai/gpt-4o`), hence the wildcard route.
pub async fn get_model(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = id.trim_start_matches('/');
    if !may_use(&auth, id) {
        return Err(ApiError::not_found("model"));
    }
    state
        .runs()
        .providers()
        .models()
        .await
        .iter()
        .find(|m| m.id == id)
        .map(|m| Json(model_json(m)))
        .ok_or_else(|| ApiError::not_found("model"))
}

/// OpenAI's routes: chat completions and models.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/chat/completions", post(chat_completions))
        .route("/models", get(list_models))
        // Model ids contain `/` (`openai/gpt-4o`).
        .route("/models/{*id}", get(get_model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_the_way_openai_does() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_micros(16_200), "17ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(3_250), "3.25s"),
            (Duration::from_secs(360), "6m0s"),
            (Duration::from_secs(7384), "2h3m4s"),
            (Duration::from_secs(3600), "1h0m0s"),
        ];
        for (d, want) in cases {
            assert_eq!(openai_duration(d), want, "{d:?}");
        }
    }
}
