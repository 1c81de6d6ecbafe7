//! The message dialects of API.md §5.1, each a thin view over one run: S2 `/message` (sync,
//! async with a poll URL, SSE), S0 `text` and `/message/stream`, S3 `/chat`, S4 `/agent/run`
//! (and `/stream`), S1 `/sessions/{id}/messages`. Wire shapes live here and nowhere else.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use axum::{Extension, Json};
use chrono::Utc;
use openclaw_domain::{RunStatus, Scope};
use openclaw_engine::run::{parse_run_id, run_wire_id};
use openclaw_engine::{RunEvent, RunRequest, Thinking};
use serde_json::{json, Value};

use super::runs::{self, finish, render_stream, sse, Done};
use crate::auth::Authenticated;
use crate::dialect::s4::AgentRunBody;
use crate::dialect::Dialect;
use crate::dialect::{s0, s1, s2, s3, s4};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::middleware::envelope::Enveloped;
use crate::state::AppState;

fn wants_sse(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"))
}

fn data(value: Value) -> Event {
    Event::default().data(value.to_string())
}

// ---- S2 and S0: POST /message ------------------------------------------------------------

fn s2_reply(d: &Done) -> Value {
    json!(s2::Reply::of(&d.answer, &d.session_key, &d.model))
}

/// S2's SSE: `data: {"type": …}` frames.
fn s2_frames(e: &RunEvent) -> Vec<Event> {
    vec![data(json!(s2::frame(&e.kind)))]
}

/// S0's SSE: `data: {"chunk": …}` then `data: [DONE]`.
fn s0_frames(e: &RunEvent) -> Vec<Event> {
    s0::frame(&e.kind)
        .map(|f| data(json!(f)))
        .into_iter()
        .collect()
}

fn done_frame() -> Vec<Event> {
    vec![Event::default().data("[DONE]")]
}

const MAX_TIMEOUT_MS: u64 = 300_000;
/// S2's `metadata` (`user_id`, `user_name`, `attachments`, …) is stored with the user's message.
const MAX_METADATA_BYTES: usize = 16 * 1024;

/// S2's `metadata`, checked (an object of at most `MAX_METADATA_BYTES`); `null` is none. The
/// HTTP message and the WebSocket's message frame take it alike.
pub(crate) fn s2_metadata(metadata: Option<Value>) -> ApiResult<Option<Value>> {
    let metadata = metadata.filter(|m| !m.is_null());
    if let Some(m) = &metadata {
        if !m.is_object() {
            return Err(ApiError::invalid(
                "metadata",
                "`metadata` must be an object",
            ));
        }
        if m.to_string().len() > MAX_METADATA_BYTES {
            return Err(ApiError::invalid(
                "metadata",
                format!("`metadata` must be at most {MAX_METADATA_BYTES} bytes of JSON"),
            ));
        }
    }
    Ok(metadata)
}

pub async fn message(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<s2::MessageBody>,
) -> Response {
    if body.message.is_none() && body.text.is_some() {
        // S0's variant; under /api/v1 its answers and errors wear S0's envelope.
        let resp = s0_message(&state, &auth, body)
            .await
            .unwrap_or_else(IntoResponse::into_response);
        return match dialect {
            Dialect::Gateway => (Extension(Enveloped), resp).into_response(),
            Dialect::Hosted => resp,
        };
    }
    s2_message(&state, &auth, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn s2_message(
    state: &AppState,
    auth: &Authenticated,
    headers: &HeaderMap,
    body: s2::MessageBody,
) -> ApiResult<Response> {
    let message = body
        .message
        .ok_or_else(|| ApiError::invalid("message", "`message` is required"))?;
    let metadata = s2_metadata(body.metadata)?;
    let timeout_ms = body.timeout_ms.unwrap_or(30_000);
    if timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS {
        return Err(ApiError::invalid(
            "timeout_ms",
            format!("`timeout_ms` must be between 1 and {MAX_TIMEOUT_MS}"),
        ));
    }
    let req = RunRequest {
        session_key: body.conversation_id,
        message,
        metadata,
        model: body.model,
        channel: body.channel,
        ..Default::default()
    };
    // Not waiting: a worker executes the run; the poll URL (any replica) follows it.
    if body.wait_for_response == Some(false) && !wants_sse(headers) {
        let queued = runs::enqueue(state, auth, req, "conversation_id").await?;
        let id = run_wire_id(queued.run_id);
        let body = s2::Accepted {
            id: &id,
            status: "processing",
            conversation_id: &queued.session_key,
            poll_url: format!("/api/v1/message/{id}/status"),
        };
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    let started = runs::start(state, auth, req, "conversation_id").await?;
    if wants_sse(headers) {
        return Ok(sse(render_stream(started.events, s2_frames, Vec::new())));
    }
    let done = finish(started, Some(Duration::from_millis(timeout_ms))).await?;
    Ok(Json(s2_reply(&done)).into_response())
}

async fn s0_message(
    state: &AppState,
    auth: &Authenticated,
    body: s2::MessageBody,
) -> ApiResult<Response> {
    let text = body.text.unwrap_or_default();
    let req = RunRequest {
        session_key: body.session,
        message: text,
        model: body.model,
        ..Default::default()
    };
    let started = runs::start(state, auth, req, "session").await?;
    if body.stream == Some(true) {
        return Ok(sse(render_stream(started.events, s0_frames, done_frame())));
    }
    let d = finish(started, None).await?;
    Ok(Json(s0::Reply::of(&d.answer)).into_response())
}

/// S0's `POST /message/stream`.
pub async fn message_stream(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<s2::MessageBody>,
) -> ApiResult<Response> {
    let text = body
        .text
        .or(body.message)
        .ok_or_else(|| ApiError::invalid("text", "`text` is required"))?;
    let req = RunRequest {
        session_key: body.session,
        message: text,
        model: body.model,
        ..Default::default()
    };
    let started = runs::start(&state, &auth, req, "session").await?;
    Ok(sse(render_stream(started.events, s0_frames, done_frame())))
}

/// S2's poll URL: `GET /message/{id}/status`.
pub async fn message_status(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    auth.require(Scope::Messages)?;
    let id = parse_run_id(&raw).ok_or_else(|| ApiError::not_found("message"))?;
    let run = state
        .store()
        .get_run(auth.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    if !auth.sees_run(run.session_key.as_deref()) {
        return Err(ApiError::not_found("message"));
    }
    let done = (run.status == RunStatus::Completed).then(|| {
        let (input, output) = (
            run.input_tokens.unwrap_or(0) as u64,
            run.output_tokens.unwrap_or(0) as u64,
        );
        Done {
            run_id: run.id,
            session_key: run.session_key.clone().unwrap_or_default(),
            model: run.model.clone(),
            answer: openclaw_engine::Done {
                message_id: run
                    .response_message_id
                    .map(|m| format!("msg_{}", m.simple()))
                    .unwrap_or_default(),
                content: run.response.clone().unwrap_or_default(),
                finish_reason: run.finish_reason.clone().unwrap_or_default(),
                input_tokens: input,
                output_tokens: output,
                latency_ms: run.latency_ms.unwrap_or(0) as u64,
                // The run's record does not say which tools it ran (its reply's `tool_calls` do).
                tools_used: Vec::new(),
                calls: Vec::new(),
            },
        }
    });
    Ok(Json(s2::MessageStatus {
        id: run_wire_id(run.id),
        status: run.status.as_str(),
        conversation_id: run.session_key.as_deref(),
        response: done
            .as_ref()
            .map(|d| s2::Reply::of(&d.answer, &d.session_key, &d.model)),
        error: run.error.as_ref(),
    })
    .into_response())
}

// ---- S3: POST /chat ------------------------------------------------------------------------

fn valid_temperature(t: Option<f32>, param: &str) -> ApiResult<Option<f32>> {
    match t {
        Some(v) if !(0.0..=2.0).contains(&v) => Err(ApiError::invalid(
            param,
            "temperature must be between 0 and 2",
        )),
        other => Ok(other),
    }
}

pub async fn chat(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<s3::ChatBody>,
) -> ApiResult<Response> {
    let context = body.context.unwrap_or_default();
    let req = RunRequest {
        session_key: body.session_id,
        message: body.message,
        model: context.model,
        temperature: valid_temperature(context.temperature, "context.temperature")?,
        ..Default::default()
    };
    let started = runs::start(&state, &auth, req, "session_id").await?;
    if body.stream == Some(true) {
        let id = run_wire_id(started.run_id);
        let frames = move |e: &RunEvent| {
            s3::frame(&e.kind, &id)
                .map(|f| data(json!(f)))
                .into_iter()
                .collect()
        };
        return Ok(sse(render_stream(started.events, frames, done_frame())));
    }
    let d = finish(started, None).await?;
    Ok(Json(s3::Reply {
        id: &d.message_id,
        content: &d.content,
        model: &d.model,
        usage: s3::Usage {
            input_tokens: d.input_tokens,
            output_tokens: d.output_tokens,
        },
        timestamp: Utc::now(),
        session_id: &d.session_key,
    })
    .into_response())
}

// ---- S4: POST /agent/run and /agent/run/stream ---------------------------------------------

/// Starts S4's agent run (`/agent/run`, and WebSocket's `chat.run` on `channel` `websocket`),
/// with whether the caller asked for a stream (`None`: it did not say).
pub async fn agent_start(
    state: &AppState,
    auth: &Authenticated,
    body: AgentRunBody,
    channel: Option<&str>,
) -> ApiResult<(openclaw_engine::Started, Option<bool>)> {
    let options = body.options.unwrap_or_default();
    let thinking = options
        .thinking
        .as_deref()
        .map(|t| {
            Thinking::from_name(t).ok_or_else(|| {
                ApiError::invalid(
                    "options.thinking",
                    "`thinking` must be off, minimal, low, medium or high",
                )
            })
        })
        .transpose()?;
    let stream = body.stream.or(options.stream);
    let req = RunRequest {
        session_key: body.session_key,
        message: body.message,
        model: options.model,
        agent_id: body.agent_id,
        temperature: valid_temperature(options.temperature, "options.temperature")?,
        thinking,
        channel: channel.map(str::to_string),
        ..Default::default()
    };
    Ok((runs::start(state, auth, req, "sessionKey").await?, stream))
}

/// S4's SSE: each event as `event: <name>` with the view both transports share.
fn s4_frames(
    run_id: String,
    session_key: String,
) -> impl Fn(&RunEvent) -> Vec<Event> + Send + 'static {
    move |e: &RunEvent| {
        s4::event(&e.kind, &run_id, &session_key)
            .map(|view| {
                let data = serde_json::to_string(&view).expect("a view serialises");
                Event::default().event(view.sse_name()).data(data)
            })
            .into_iter()
            .collect()
    }
}

pub async fn agent_run(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<AgentRunBody>,
) -> ApiResult<Response> {
    let (started, stream) = agent_start(&state, &auth, body, None).await?;
    if stream == Some(true) {
        let frames = s4_frames(run_wire_id(started.run_id), started.session_key.clone());
        return Ok(sse(render_stream(started.events, frames, Vec::new())));
    }
    let d = finish(started, None).await?;
    Ok(Json(s4::RunView {
        run_id: &run_wire_id(d.run_id),
        session_key: &d.session_key,
        response: &d.content,
        usage: s4::Usage::of(d.input_tokens, d.output_tokens),
    })
    .into_response())
}

pub async fn agent_run_stream(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<AgentRunBody>,
) -> ApiResult<Response> {
    let (started, _) = agent_start(&state, &auth, body, None).await?;
    let frames = s4_frames(run_wire_id(started.run_id), started.session_key.clone());
    Ok(sse(render_stream(started.events, frames, Vec::new())))
}

// ---- S1: POST /sessions/{id}/messages ------------------------------------------------------

pub async fn session_message(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<s1::SessionMessageBody>,
) -> ApiResult<Response> {
    if body.kind.as_deref().is_some_and(|k| k != "text") {
        return Err(ApiError::invalid(
            "type",
            "only `text` messages are supported",
        ));
    }
    // S1 creates sessions explicitly: an unknown one is 404, not created on first use.
    if !auth.sees_session(&key)
        || state
            .store()
            .get_session(auth.tenant_id, &key)
            .await?
            .is_none()
    {
        return Err(ApiError::not_found("session"));
    }
    let req = RunRequest {
        session_key: Some(key),
        message: body.content,
        ..Default::default()
    };
    let d = finish(runs::start(&state, &auth, req, "session_id").await?, None).await?;
    Ok(Json(s1::SessionReply {
        message_id: &d.message_id,
        content: &d.content,
        role: "assistant",
        timestamp: Utc::now(),
    })
    .into_response())
}

/// S0's stream, which only S0 documents (its envelope wraps it under `/api/v1`).
pub fn s0_router() -> Router<AppState> {
    Router::new().route("/message/stream", post(message_stream))
}

/// `/message`, shared by S0 and S2: S0's answers mark themselves for the envelope.
pub fn marked_router() -> Router<AppState> {
    Router::new().route("/message", post(message))
}

/// The other dialects' message routes: S2's status, S3's chat, S4's agent runs, S1's session
/// messages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/message/{id}/status", get(message_status))
        .route("/chat", post(chat))
        .route("/agent/run", post(agent_run))
        .route("/agent/run/stream", post(agent_run_stream))
        .route("/sessions/{id}/messages", post(session_message))
}
