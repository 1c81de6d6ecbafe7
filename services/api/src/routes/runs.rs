//! What every message dialect shares: starting a run for the caller, waiting for its end,
//! streaming its events as SSE — and the dialect-free run routes, `GET /v1/runs/{id}/events`
//! (replay and tail from any replica) and `POST /v1/runs/{id}/abort` (stops it wherever it runs).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use futures::stream::BoxStream;
use futures::Stream;
use openclaw_domain::{Error, ErrorKind, RunStatus, Scope, TenantId};
use openclaw_engine::run::{parse_run_id, run_wire_id};
use openclaw_engine::{RunEvent, RunEventKind, RunRequest, Started, Subscription};
use openclaw_store::redis::ControlMessage;
use openclaw_store::{JobKind, RunRecord};
use serde_json::json;
use uuid::Uuid;

use super::sessions::valid_session_key;
use crate::auth::Authenticated;
use crate::dialect::RunState;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Starts a run for the caller. `param` names the session field in the caller's dialect.
pub async fn start(
    state: &AppState,
    auth: &Authenticated,
    req: RunRequest,
    param: &str,
) -> ApiResult<Started> {
    let mut req = for_caller(auth, req, param)?;
    req.permit = auth.permit.take();
    state.runs().start(req).await.map_err(ApiError)
}

/// Records a run for a worker to execute (the caller does not wait for it).
pub async fn enqueue(
    state: &AppState,
    auth: &Authenticated,
    req: RunRequest,
    param: &str,
) -> ApiResult<openclaw_engine::Queued> {
    let req = for_caller(auth, req, param)?;
    super::tasks::check_capacity(state, auth).await?;
    state.runs().enqueue(req).await.map_err(ApiError)
}

/// The caller's checks on a run request (scope, the session it may use, size), and what the
/// caller's identity adds to it.
fn for_caller(auth: &Authenticated, mut req: RunRequest, param: &str) -> ApiResult<RunRequest> {
    auth.require(Scope::Messages)?;
    req.memory = auth.memory_access();
    req.allowed_models = auth.allowed_models.clone();
    match (&req.session_key, &auth.session) {
        (Some(key), _) => {
            valid_session_key(param, key)?;
            if !auth.sees_session(key) {
                return Err(ApiError::not_found("session"));
            }
        }
        // A token limited to one session talks in that session.
        (None, Some(own)) => req.session_key = Some(own.clone()),
        (None, None) => {}
    }
    if req.message.len() > 1_000_000 {
        return Err(ApiError::invalid(
            "message",
            "the message must be at most 1 MB",
        ));
    }
    req.tenant = auth.tenant_id;
    req.tenant_default_model = auth.default_model.clone();
    req.tokens_per_day = Some(auth.limits.tokens_per_day);
    Ok(req)
}

/// The end of a successful run, as the sync dialects need it: the run's answer
/// (`openclaw_engine::Done`, whose fields read through this) and where it ran.
pub struct Done {
    pub run_id: Uuid,
    pub session_key: String,
    pub model: String,
    pub answer: openclaw_engine::Done,
}

impl std::ops::Deref for Done {
    type Target = openclaw_engine::Done;
    fn deref(&self) -> &Self::Target {
        &self.answer
    }
}

/// The error a failed or aborted run's terminal event stands for.
pub fn run_error(kind: &RunEventKind) -> ApiError {
    match kind.error() {
        Some(e) => ApiError(e),
        None => ApiError::internal("a run ended without an outcome"),
    }
}

/// Waits for the run's end. `limit` bounds the wait (→ 408); the run itself goes on.
pub async fn finish(started: Started, limit: Option<Duration>) -> ApiResult<Done> {
    let Started {
        run_id,
        session_key,
        model,
        events,
    } = started;
    let outcome = match limit {
        None => events.outcome().await,
        Some(d) => tokio::time::timeout(d, events.outcome())
            .await
            .map_err(|_| {
                ApiError(
                    Error::new(
                        ErrorKind::Timeout,
                        format!("no answer within {} ms; the run goes on", d.as_millis()),
                    )
                    .with_details(
                        json!({"run_id": run_wire_id(run_id), "conversation_id": session_key}),
                    ),
                )
            })?,
    };
    Ok(Done {
        run_id,
        session_key,
        model,
        answer: outcome.map_err(ApiError)?,
    })
}

/// SSE with the platform's conventions: 15 s heartbeats, no proxy buffering.
pub fn sse<S>(events: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let mut resp = Sse::new(events)
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .text("heartbeat"),
        )
        .into_response();
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    resp
}

/// A local subscription rendered event by event (`render` may return several frames or none),
/// ending after the terminal event, with `tail` frames after it.
pub fn render_stream<F>(
    sub: Subscription,
    render: F,
    tail: Vec<Event>,
) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: Fn(&RunEvent) -> Vec<Event> + Send + 'static,
{
    let frames = futures::stream::unfold((sub, render), |(mut sub, render)| async move {
        let event = sub.next().await?;
        let frames = event_frames(&event, &render);
        Some((futures::stream::iter(frames), (sub, render)))
    });
    use futures::StreamExt;
    frames
        .flatten()
        .chain(futures::stream::iter(tail.into_iter().map(Ok)))
}

pub fn event_frames<F: Fn(&RunEvent) -> Vec<Event>>(
    event: &RunEvent,
    render: &F,
) -> Vec<Result<Event, Infallible>> {
    render(event)
        .into_iter()
        .map(|f| Ok(f.id(event.seq.to_string())))
        .collect()
}

/// The caller's run, or 404.
async fn run_of(state: &AppState, auth: &Authenticated, raw: &str) -> ApiResult<RunRecord> {
    let id = parse_run_id(raw).ok_or_else(|| ApiError::not_found("run"))?;
    let run = state
        .store()
        .get_run(auth.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    if !auth.sees_run(run.session_key.as_deref()) {
        return Err(ApiError::not_found("run"));
    }
    Ok(run)
}

/// The caller's run executing (or lately ended) on this replica without a session: a stateless
/// completion, which reaches the runs table only through the write-behind batch.
fn local_stateless(
    state: &AppState,
    auth: &Authenticated,
    raw: &str,
    after: u64,
) -> Option<Subscription> {
    let id = parse_run_id(raw)?;
    let sub = state.runs().subscribe(auth.tenant_id, id, after)?;
    (sub.session_key().is_empty() && auth.session.is_none()).then_some(sub)
}

/// A run's events as the generic stream shows them: `event: <type>`, the event as data.
pub fn generic(event: &RunEvent) -> Vec<Event> {
    let name = match &event.kind {
        RunEventKind::Start { .. } => "start",
        RunEventKind::Delta { .. } => "delta",
        RunEventKind::ToolCall { .. } => "tool_call",
        RunEventKind::ToolResult { .. } => "tool_result",
        RunEventKind::Done { .. } => "done",
        RunEventKind::Error { .. } => "error",
    };
    vec![Event::default()
        .event(name)
        .data(serde_json::to_string(event).unwrap_or_default())]
}

pub fn last_event_id(headers: &HeaderMap) -> ApiResult<u64> {
    match headers.get("last-event-id") {
        None => Ok(0),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                ApiError::invalid(
                    "Last-Event-ID",
                    "`Last-Event-ID` must be an event id from this stream",
                )
            }),
    }
}

/// `GET /v1/runs/{id}/events`: replay after `Last-Event-ID`, then tail until the run ends.
pub async fn events(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    auth.require(Scope::Messages)?;
    let after = last_event_id(&headers)?;
    // A stateless completion executing here is in no table until it has ended.
    if let Some(sub) = local_stateless(&state, &auth, &raw, after) {
        return Ok(sse(render_stream(sub, generic, Vec::new())));
    }
    let run = run_of(&state, &auth, &raw).await?;
    let deadline = Instant::now() + state.config().request_timeout;
    Ok(sse(run_event_stream(
        state,
        auth.tenant_id,
        run,
        after,
        deadline,
    )))
}

/// A run's events after `after`, as `GET /v1/runs/{id}/events` serves them (and an agent's
/// `/events`): the engine's replay (memory, else the run's Redis stream, else its record) in
/// the generic shape.
pub fn run_event_stream(
    state: AppState,
    tenant: TenantId,
    run: RunRecord,
    after: u64,
    deadline: Instant,
) -> BoxStream<'static, Result<Event, Infallible>> {
    use futures::StreamExt;
    state
        .runs()
        .replay(tenant, run, after, deadline)
        .flat_map(|e| futures::stream::iter(event_frames(&e, &generic)))
        .boxed()
}

/// `POST /v1/runs/{id}/abort`: stops the run wherever it executes; answers with its final status.
pub async fn abort(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<(StatusCode, Json<RunState>)> {
    let (status, body) = abort_run(&state, &auth, &raw).await?;
    Ok((status, Json(body)))
}

/// Stops run `raw` of the caller's wherever it executes (any replica, through the control
/// channel) and waits up to 5 s for it to end: 200 with its final status, or 202 `cancelling`.
pub async fn abort_run(
    state: &AppState,
    auth: &Authenticated,
    raw: &str,
) -> ApiResult<(StatusCode, RunState)> {
    auth.require(Scope::Messages)?;
    if let Some(sub) = local_stateless(state, auth, raw, 0) {
        let id = sub.run_id();
        state.runs().abort_local(id);
        let status = match sub.outcome().await {
            Ok(_) => "completed",
            Err(e) if e.details["reason"] == "cancelled" => "cancelled",
            Err(_) => "failed",
        };
        return Ok((StatusCode::OK, RunState::new(run_wire_id(id), status)));
    }
    let run = run_of(state, auth, raw).await?;
    if run.status.is_ended() {
        return Err(ApiError(
            Error::new(
                ErrorKind::Conflict,
                format!("the run has already ended ({})", run.status),
            )
            .with_details(json!({"status": run.status.as_str()})),
        ));
    }
    // An async message still queued is cancelled in the queue; a running one (its job ends
    // with it) is stopped by whichever process runs it.
    state
        .store()
        // The run is the caller's (`run_of` checked its session).
        .cancel_job(auth.tenant_id, JobKind::Message, run.id, None)
        .await?;
    state.announce(ControlMessage::RunAbort {
        run_id: run_wire_id(run.id),
    });
    // Its end arrives as its terminal event, wherever it runs (memory, its Redis stream, or
    // its record once written).
    let wait = Duration::from_secs(5);
    let deadline = Instant::now() + wait;
    let id = run.id;
    let mut events = state.runs().replay(auth.tenant_id, run, 0, deadline);
    let end = tokio::time::timeout(wait, async {
        use futures::StreamExt;
        while let Some(e) = events.next().await {
            if e.kind.is_terminal() {
                return Some(e.kind);
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    Ok(match end {
        Some(end) => (
            StatusCode::OK,
            RunState::new(run_wire_id(id), ended_status(&end)),
        ),
        // No replica answered (the one running it may be gone): the abort stays requested.
        None => (
            StatusCode::ACCEPTED,
            RunState::new(run_wire_id(id), "cancelling"),
        ),
    })
}

/// The status a run's terminal event stands for, as its record says it.
fn ended_status(end: &RunEventKind) -> &'static str {
    match end {
        RunEventKind::Error { code, .. } if code == "cancelled" => RunStatus::Cancelled,
        RunEventKind::Error { .. } => RunStatus::Failed,
        _ => RunStatus::Completed,
    }
    .as_str()
}

/// A run's events and its abort.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/runs/{id}/events", get(events))
        .route("/runs/{id}/abort", post(abort))
}
