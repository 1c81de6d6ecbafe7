//! Spawned agents (API.md §5.6, S3): an agent works on its `task` on a background worker and
//! may spawn sub-agents (the `spawn_agent` tool, `openclaw_engine::jobs`). Clients follow it by
//! long-polling (`?wait=`, S3's `wait_for_completion()`) or through its run's events.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::Event;
use axum::response::Response;
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use futures::stream::BoxStream;
use futures::StreamExt;
use openclaw_domain::{AgentId, JobStatus, Scope, TenantId};
use openclaw_engine::{skills, RunEvent, RunEventKind};
use openclaw_store::{JobKind, JobRecord, NewJob};
use serde_json::{json, Value};
use uuid::Uuid;

use super::parse_id;
use super::runs::{event_frames, generic, last_event_id, run_event_stream, sse};
use super::tasks::{
    cancel_job, check_capacity, created, list_page, load_job, timeout_ms, wait_duration, ListQuery,
    WaitQuery,
};
use crate::auth::Authenticated;
use crate::dialect::{s3, Dialect};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use openclaw_engine::run::allowed;

const MAX_TASK_CHARS: usize = 100_000;
const MAX_SKILLS: usize = 32;
const MAX_SKILL_CHARS: usize = 100;
/// Attempts a spawned agent gets (a worker dying under it, a transient upstream failure).
const AGENT_MAX_ATTEMPTS: i32 = 3;
/// How often `/events` looks for the agent's run while it waits to start.
const RUN_POLL: Duration = Duration::from_millis(200);

/// The agent as clients see it (`GET /v1/agents/{id}` adds `children`).
pub fn agent_view(job: &JobRecord) -> Value {
    json!(crate::dialect::s3::Agent::of(job))
}

/// `POST /v1/agents/spawn` → 201 with the agent (`pending`) and its `Location`.
pub async fn spawn(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    ApiJson(req): ApiJson<s3::SpawnAgent>,
) -> ApiResult<Response> {
    auth.require(Scope::Agents)?;
    let task = req.task.unwrap_or_default();
    if task.trim().is_empty() || task.chars().count() > MAX_TASK_CHARS {
        return Err(ApiError::invalid(
            "task",
            format!(
                "`task` is required: a non-empty string of at most {MAX_TASK_CHARS} characters"
            ),
        ));
    }
    if let Some(model) = &req.model {
        let (_, resolved) = state
            .runs()
            .providers()
            .resolve(Some(model))
            .map_err(|e| ApiError(e).with_param("model"))?;
        allowed(auth.allowed_models.as_deref(), &resolved, "model")?;
    }
    let timeout_ms = timeout_ms(req.timeout)?;
    let skills = req.skills.unwrap_or_default();
    if skills.len() > MAX_SKILLS {
        return Err(ApiError::invalid(
            "skills",
            format!("at most {MAX_SKILLS} skills"),
        ));
    }
    if let Some(i) = skills
        .iter()
        .position(|s| s.trim().is_empty() || s.chars().count() > MAX_SKILL_CHARS)
    {
        return Err(ApiError::invalid(
            format!("skills[{i}]"),
            format!("skill names are 1 to {MAX_SKILL_CHARS} characters"),
        ));
    }
    if !skills.is_empty() {
        check_skills(&state, auth.tenant_id, &skills).await?;
    }
    check_capacity(&state, &auth).await?;
    let job = state
        .store()
        .enqueue_job(
            auth.tenant_id,
            NewJob {
                id: Uuid::now_v7(),
                kind: JobKind::Agent,
                name: task.chars().take(200).collect(),
                job_type: "agent".into(),
                parameters: json!({"task": task, "model": req.model, "skills": skills}),
                priority: 0,
                timeout_ms,
                max_attempts: AGENT_MAX_ATTEMPTS,
                run_id: None,
                session_key: auth.session.clone(),
                memory_access: auth.memory_access(),
            },
        )
        .await?;
    let path = format!("/agents/{}", AgentId(job.id));
    Ok(created(dialect, &path, agent_view(&job)))
}

/// S3's `skills` limit the agent to skills the tenant has installed and enabled: a name that is
/// no skill, or one not installed (or disabled), is a 400 naming `skills[i]`.
async fn check_skills(state: &AppState, tenant: TenantId, names: &[String]) -> ApiResult<()> {
    let installed = state.store().installed_skills(tenant).await?;
    let registered = state.store().http_skills(tenant).await?;
    for (i, name) in names.iter().enumerate() {
        let param = format!("skills[{i}]");
        if skills::resolve(name, &registered).is_none() {
            let known: Vec<&str> = skills::builtins()
                .iter()
                .map(|s| s.name)
                .chain(registered.iter().map(|h| h.name.as_str()))
                .collect();
            return Err(ApiError::invalid(
                param,
                format!(
                    "there is no skill `{name}`; the skills are {}",
                    known.join(", ")
                ),
            ));
        }
        if !installed.iter().any(|s| &s.name == name && s.enabled) {
            return Err(ApiError::invalid(
                param,
                format!("`{name}` is not installed and enabled (POST /v1/skills/install)"),
            ));
        }
    }
    Ok(())
}

/// `GET /v1/agents/{id}` (`?wait=N`: up to N seconds, 0–60, for it to end), with `children`.
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::Agents)?;
    let id: AgentId = parse_id(&raw, "agent")?;
    let wait = wait_duration(q.wait)?;
    let job = load_job(&state, &auth, JobKind::Agent, id.0, wait)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let children = state.store().job_children(auth.tenant_id, job.id).await?;
    let mut view = agent_view(&job);
    view["children"] = children
        .iter()
        .map(|c| json!(AgentId(c.id).to_string()))
        .collect();
    Ok(Json(view))
}

/// `GET /v1/agents?status=&limit=&offset=`, newest first; sub-agents included.
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::Agents)?;
    list_page(&state, &auth, JobKind::Agent, q, agent_view).await
}

/// `DELETE /v1/agents/{id}`: cancels it and its sub-agents → 200 with the agent.
pub async fn cancel(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::Agents)?;
    let id: AgentId = parse_id(&raw, "agent")?;
    let job = cancel_job(&state, &auth, JobKind::Agent, id.0, "agent").await?;
    Ok(Json(agent_view(&job)))
}

/// `GET /v1/agents/{id}/events`: the events of the agent's run, exactly as
/// `GET /v1/runs/{run}/events` serves them. Until a worker has started the run, the stream
/// is open with nothing but heartbeats; an agent that ended without a run (cancelled while
/// pending) gets one terminal event.
pub async fn events(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    auth.require(Scope::Agents)?;
    let id: AgentId = parse_id(&raw, "agent")?;
    let after = last_event_id(&headers)?;
    let job = load_job(&state, &auth, JobKind::Agent, id.0, Duration::ZERO)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let deadline = Instant::now() + state.config().request_timeout;
    let tenant = auth.tenant_id;
    let stream = futures::stream::once(agent_stream(state, tenant, job, after, deadline)).flatten();
    Ok(sse(stream))
}

/// Waits for the agent's run (or its end), then its events.
async fn agent_stream(
    state: AppState,
    tenant: TenantId,
    mut job: JobRecord,
    after: u64,
    deadline: Instant,
) -> BoxStream<'static, Result<Event, Infallible>> {
    let empty = || futures::stream::empty().boxed();
    loop {
        if let Some(run) = job.run_id {
            return match state.store().get_run(tenant, run).await {
                Ok(Some(run)) => run_event_stream(state, tenant, run, after, deadline),
                Ok(None) => empty(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read an agent's run");
                    empty()
                }
            };
        }
        if job.is_terminal() {
            let event = ended_without_run(&job);
            if event.seq <= after {
                return empty();
            }
            return futures::stream::iter(event_frames(&event, &generic)).boxed();
        }
        if Instant::now() + RUN_POLL > deadline {
            return empty();
        }
        tokio::time::sleep(RUN_POLL).await;
        job = match state.store().get_job(tenant, JobKind::Agent, job.id).await {
            Ok(Some(j)) => j,
            Ok(None) => return empty(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read an agent while waiting for its run");
                continue;
            }
        };
    }
}

/// The one event of an agent that ended before any run: what a run's stream would end with.
fn ended_without_run(job: &JobRecord) -> RunEvent {
    let kind = match (job.status, &job.result) {
        (JobStatus::Completed, Some(result)) => RunEventKind::Done {
            message_id: String::new(),
            content: result["content"].as_str().unwrap_or_default().into(),
            finish_reason: result["finish_reason"].as_str().unwrap_or("stop").into(),
            input_tokens: result["usage"]["input_tokens"].as_u64().unwrap_or(0),
            output_tokens: result["usage"]["output_tokens"].as_u64().unwrap_or(0),
            latency_ms: 0,
        },
        (status, _) => {
            let mut err = job.error.clone().unwrap_or(Value::Null);
            if status == JobStatus::Cancelled && err["code"].is_null() {
                err = json!({"code": "cancelled"});
            }
            RunEventKind::from_stored(&err, "the agent ended without running")
        }
    };
    RunEvent { seq: 1, kind }
}

/// S3's spawned agents.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", routing::get(list))
        .route("/agents/spawn", routing::post(spawn))
        .route("/agents/{id}", routing::get(get).delete(cancel))
        .route("/agents/{id}/events", routing::get(events))
}
