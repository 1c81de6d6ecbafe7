//! Tasks (API.md §5.6, S1): work queued for the background workers. `type` is free-form;
//! `openclaw_engine::jobs` decides what a type does. Also what tasks and spawned agents share:
//! the per-tenant cap on unfinished jobs, status names, list paging, long-polls and cancelling.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use openclaw_domain::{Error, ErrorKind, JobStatus, Scope, TaskId};
use openclaw_engine::jobs::COMPACT_TASK;
use openclaw_engine::skills;
use openclaw_store::redis::ControlMessage;
use openclaw_store::{CancelOutcome, JobKind, JobRecord, NewJob};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::sessions::valid_session_key;
use super::{parse_id, valid_name};
use crate::auth::Authenticated;
use crate::dialect::{s1, Dialect, Page};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use openclaw_engine::run::allowed;

/// Jobs (tasks, agents with their sub-agents, queued messages) a tenant may have queued or
/// running at once.
pub const MAX_UNFINISHED_JOBS: i64 = 1000;
/// `parameters`, serialized.
const MAX_PARAMETERS_BYTES: usize = 64 * 1024;
const MAX_TYPE_CHARS: usize = 100;
pub const DEFAULT_TIMEOUT_SECS: i64 = 300;
pub const MAX_TIMEOUT_SECS: i64 = 3600;
const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = -100..=100;
/// Longest `?wait=` long-poll, in seconds.
pub const MAX_WAIT_SECS: i64 = 60;
/// Attempts a task gets when a worker dies under it or its upstream fails transiently.
const TASK_MAX_ATTEMPTS: i32 = 3;

/// `?status=` in the client's words (S1's `pending` for a queued job), as the queue records it.
fn stored_status(wire: &str) -> ApiResult<&'static str> {
    JobStatus::ALL
        .into_iter()
        .find(|s| s.wire() == wire)
        .map(JobStatus::as_str)
        .ok_or_else(|| {
            ApiError::invalid(
                "status",
                "`status` must be one of pending, running, completed, failed, cancelled",
            )
        })
}

/// 429 once the tenant has [`MAX_UNFINISHED_JOBS`] jobs that have not ended. Concurrent
/// requests may overshoot it by a few; it bounds a runaway client, not an exact quota.
pub async fn check_capacity(state: &AppState, auth: &Authenticated) -> ApiResult<()> {
    let unfinished = state.store().unfinished_jobs(auth.tenant_id).await?;
    if unfinished >= MAX_UNFINISHED_JOBS {
        return Err(ApiError(
            Error::new(
                ErrorKind::RateLimited,
                format!(
                    "this tenant already has {unfinished} unfinished jobs (tasks, spawned agents \
                     and queued messages; at most {MAX_UNFINISHED_JOBS}): wait for some to \
                     finish, or cancel some, then retry"
                ),
            )
            .with_details(json!({"unfinished": unfinished, "limit": MAX_UNFINISHED_JOBS})),
        ));
    }
    Ok(())
}

/// `timeout` in seconds (1–3600, default 300), as the queue's milliseconds.
pub fn timeout_ms(timeout: Option<i64>) -> ApiResult<i32> {
    let secs = timeout.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
        return Err(ApiError::invalid(
            "timeout",
            format!("`timeout` must be between 1 and {MAX_TIMEOUT_SECS} seconds"),
        ));
    }
    Ok((secs * 1000) as i32)
}

/// `?wait=` in seconds (0–60).
pub fn wait_duration(wait: Option<i64>) -> ApiResult<Duration> {
    let secs = wait.unwrap_or(0);
    if !(0..=MAX_WAIT_SECS).contains(&secs) {
        return Err(ApiError::invalid(
            "wait",
            format!("`wait` must be between 0 and {MAX_WAIT_SECS} seconds"),
        ));
    }
    Ok(Duration::from_secs(secs as u64))
}

/// The job, waiting up to `wait` for it to end; another tenant's, or another session's for a
/// session-limited caller, is not found.
pub async fn load_job(
    state: &AppState,
    auth: &Authenticated,
    kind: JobKind,
    id: Uuid,
    wait: Duration,
) -> ApiResult<Option<JobRecord>> {
    let store = state.store();
    // A session-limited caller never waits on a job it may not see.
    let limited = auth.session.is_some();
    if limited && !wait.is_zero() {
        let job = store.get_job(auth.tenant_id, kind, id).await?;
        if !job.as_ref().is_some_and(|j| auth.sees_job(j)) {
            return Ok(None);
        }
    }
    let job = if wait.is_zero() {
        store.get_job(auth.tenant_id, kind, id).await?
    } else {
        state.wait_for_job(auth.tenant_id, kind, id, wait).await?
    };
    Ok(job.filter(|j| auth.sees_job(j)))
}

/// 201 with a new resource and its `Location`, under the prefix the request came in on.
pub fn created(dialect: Dialect, path: &str, body: Value) -> Response {
    let prefix = match dialect {
        Dialect::Hosted => "/v1",
        Dialect::Gateway => "/api/v1",
    };
    let location = HeaderValue::from_str(&format!("{prefix}{path}")).expect("ids are header-safe");
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    resp.headers_mut().insert(LOCATION, location);
    resp
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    offset: Option<i64>,
}

/// One page of the caller's jobs of `kind`: `{data, total, limit, offset}`.
pub async fn list_page(
    state: &AppState,
    auth: &Authenticated,
    kind: JobKind,
    q: ListQuery,
    view: fn(&JobRecord) -> Value,
) -> ApiResult<Json<Value>> {
    let status = q.status.as_deref().map(stored_status).transpose()?;
    let (limit, offset) = super::page(q.limit, q.offset, 20, 100)?;
    let (jobs, total) = state
        .store()
        .list_jobs(
            auth.tenant_id,
            kind,
            status,
            auth.session.as_deref(),
            limit,
            offset,
        )
        .await?;
    Ok(Json(json!(Page {
        data: jobs.iter().map(view).collect(),
        total,
        limit,
        offset,
    })))
}

/// Cancels the caller's job (and every sub-agent under it); a running one is told to stop
/// wherever it runs. Answers the job as it now stands; an ended one is 409.
pub async fn cancel_job(
    state: &AppState,
    auth: &Authenticated,
    kind: JobKind,
    id: Uuid,
    what: &str,
) -> ApiResult<JobRecord> {
    let session = auth.session.as_deref();
    match state
        .store()
        .cancel_job(auth.tenant_id, kind, id, session)
        .await?
    {
        CancelOutcome::Cancelled { job, was_running } => {
            if was_running {
                state.announce(ControlMessage::JobCancel { job_id: job.id });
            }
            // Long-polls of it, here and on other replicas, return now.
            state.announce(ControlMessage::JobEnded { job_id: job.id });
            Ok(job)
        }
        CancelOutcome::AlreadyEnded(job) => {
            let status = job.status.wire();
            Err(ApiError(
                Error::new(
                    ErrorKind::Conflict,
                    format!("the {what} has already ended ({status}); only a pending or running {what} can be cancelled"),
                )
                .with_details(json!({"status": status})),
            ))
        }
        CancelOutcome::NotFound => Err(ApiError::not_found(what)),
    }
}

/// The task as clients see it, on every route.
pub fn task_view(job: &JobRecord) -> Value {
    json!(crate::dialect::s1::Task::of(job))
}

fn valid_type(t: Option<String>) -> ApiResult<String> {
    let Some(t) = t else {
        return Err(ApiError::invalid("type", "`type` is required"));
    };
    let ok = !t.is_empty()
        && t.chars().count() <= MAX_TYPE_CHARS
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(ApiError::invalid(
            "type",
            format!(
                "`type` must be 1 to {MAX_TYPE_CHARS} characters of A-Z a-z 0-9 . _ - \
                 (for example `data-processing`)"
            ),
        ));
    }
    Ok(t)
}

/// What the caller's credential adds to an `agent` task: its model is checked now, and a token
/// limited to one session runs it in that session.
fn check_agent_task(
    state: &AppState,
    auth: &Authenticated,
    parameters: &mut Value,
) -> ApiResult<()> {
    if let Some(model) = parameters.get("model").and_then(Value::as_str) {
        let (_, resolved) = state
            .runs()
            .providers()
            .resolve(Some(model))
            .map_err(|e| ApiError(e).with_param("parameters.model"))?;
        allowed(
            auth.allowed_models.as_deref(),
            &resolved,
            "parameters.model",
        )?;
    }
    stamp_session(auth, parameters)
}

/// A task in a session (`parameters.session_id`): a token limited to one session may name only
/// that one, and its tasks run there when they name none.
fn stamp_session(auth: &Authenticated, parameters: &mut Value) -> ApiResult<()> {
    match (
        parameters.get("session_id").and_then(Value::as_str),
        &auth.session,
    ) {
        (Some(key), _) => {
            valid_session_key("parameters.session_id", key)?;
            if !auth.sees_session(key) {
                return Err(ApiError::not_found("session"));
            }
        }
        (None, Some(own)) => parameters["session_id"] = json!(own),
        (None, None) => {}
    }
    Ok(())
}

/// `POST /v1/tasks` → 201 with the task (`pending`) and its `Location`.
pub async fn create(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    ApiJson(req): ApiJson<s1::CreateTask>,
) -> ApiResult<Response> {
    auth.require(Scope::Tasks)?;
    let name = match req.name {
        Some(n) => valid_name("name", &n)?,
        None => return Err(ApiError::invalid("name", "`name` is required")),
    };
    let job_type = valid_type(req.job_type)?;
    let mut parameters = req.parameters.unwrap_or_else(|| json!({}));
    if !parameters.is_object() {
        return Err(ApiError::invalid(
            "parameters",
            "`parameters` must be an object",
        ));
    }
    if parameters.to_string().len() > MAX_PARAMETERS_BYTES {
        return Err(ApiError::invalid(
            "parameters",
            "`parameters` must be at most 64 KiB of JSON",
        ));
    }
    let priority = req.priority.unwrap_or(0);
    if !PRIORITY_RANGE.contains(&priority) {
        return Err(ApiError::invalid(
            "priority",
            "`priority` must be an integer between -100 and 100 (higher runs first)",
        ));
    }
    let timeout_ms = timeout_ms(req.timeout)?;
    openclaw_engine::jobs::validate_task(&job_type, &parameters)?;
    if job_type == "agent" {
        check_agent_task(&state, &auth, &mut parameters)?;
    }
    // The memory skills reach the tenant's memories: the memory scope, and a session-limited
    // token's own conversation only.
    let skill = parameters.get("skill").and_then(Value::as_str);
    if job_type == "skill"
        && skill
            .and_then(skills::builtin)
            .is_some_and(|s| s.needs_tenant())
    {
        auth.require(Scope::Memory)?;
        stamp_session(&auth, &mut parameters)?;
    }
    check_capacity(&state, &auth).await?;
    // A session-limited token's task is its session's; any task naming a session is that
    // session's too (a token limited to it sees it).
    let session_key = auth.session.clone().or_else(|| {
        parameters
            .get("session_id")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let job = NewJob {
        id: Uuid::now_v7(),
        kind: JobKind::Task,
        name,
        job_type,
        parameters,
        priority: priority as i32,
        timeout_ms,
        max_attempts: TASK_MAX_ATTEMPTS,
        run_id: None,
        session_key,
        memory_access: auth.memory_access(),
    };
    let job = if job.job_type == COMPACT_TASK {
        // One compaction at a time per tenant: asking again while one is queued or running
        // gets that one (200), which will fold what this one would have.
        match state.store().enqueue_job_once(auth.tenant_id, job).await? {
            Ok(job) => job,
            Err(existing) => return Ok(Json(task_view(&existing)).into_response()),
        }
    } else {
        state.store().enqueue_job(auth.tenant_id, job).await?
    };
    let path = format!("/tasks/{}", TaskId(job.id));
    Ok(created(dialect, &path, task_view(&job)))
}

/// `?wait=N`: seconds to wait for a task or agent to end (long-poll).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    #[serde(default)]
    pub wait: Option<i64>,
}

/// `GET /v1/tasks/{id}` (`?wait=N` waits up to N seconds for it to end).
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::Tasks)?;
    let id: TaskId = parse_id(&raw, "task")?;
    let wait = wait_duration(q.wait)?;
    let job = load_job(&state, &auth, JobKind::Task, id.0, wait)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))?;
    Ok(Json(task_view(&job)))
}

/// `GET /v1/tasks?status=&limit=&offset=`, newest first.
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::Tasks)?;
    list_page(&state, &auth, JobKind::Task, q, task_view).await
}

/// `DELETE /v1/tasks/{id}`: cancels it → 200 with the task, now `cancelled`.
pub async fn cancel(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::Tasks)?;
    let id: TaskId = parse_id(&raw, "task")?;
    let job = cancel_job(&state, &auth, JobKind::Task, id.0, "task").await?;
    Ok(Json(task_view(&job)))
}

/// S1's tasks.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tasks", routing::post(create).get(list))
        .route("/tasks/{id}", routing::get(get).delete(cancel))
}
