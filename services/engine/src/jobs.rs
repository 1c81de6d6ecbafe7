//! Job handlers: what a worker does with a claimed task, spawned agent or async message, and
//! the sub-agents an agent spawns as a tool. The queue itself lives in `openclaw_store::jobs`;
//! the worker crate claims, leases and ends jobs and calls [`Jobs::execute`] for each attempt.

use std::sync::atomic::{AtomicI16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dashmap::DashMap;
use openclaw_domain::memory::MemoryAccess;
use openclaw_domain::{Error, ErrorKind, TenantId};
use openclaw_store::{Held, JobEnd, JobKind, JobRecord, Lineage, MemoryScope, NewJob, Store};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::provider::{ToolCall, ToolSpec};
use crate::run::{run_wire_id, RunEventKind, RunRequest, Runs, Started, ToolExecutor};
use crate::skills::{self, Skill};

/// Task types with a handler of their own; any other type runs as an agent task.
pub const TASK_HANDLERS: &[&str] = &["agent", "noop", "skill", COMPACT_TASK];
/// The task type that compacts a tenant's memory (scheduled by workers, or asked for).
pub const COMPACT_TASK: &str = "memory.compact";
/// The longest `older_than` a compaction takes, in seconds (a year).
const MAX_COMPACT_AGE_SECS: i64 = 366 * 24 * 3600;
/// How deep sub-agents nest under a spawned agent (the agent itself is depth 0).
pub const MAX_SUBAGENT_DEPTH: i16 = 2;
/// Sub-agents one agent may spawn in all.
pub const MAX_SUBAGENTS: usize = 5;
/// The tool through which an agent spawns sub-agents.
pub const SPAWN_TOOL: &str = skills::SPAWN_AGENT;

/// Checks a task's type and parameters before it is queued: 400 naming the field.
pub fn validate_task(job_type: &str, parameters: &Value) -> Result<(), Error> {
    if !parameters.is_object() {
        return Err(Error::invalid(
            "parameters",
            "`parameters` must be an object",
        ));
    }
    if job_type == COMPACT_TASK {
        compact_age(parameters)?;
    }
    if job_type == "agent" || job_type == "skill" {
        if job_type == "agent" {
            agent_task_message(parameters)?;
        }
        for field in ["model", "session_id"] {
            if parameters.get(field).is_some_and(|v| !v.is_string()) {
                return Err(Error::invalid(
                    format!("parameters.{field}"),
                    format!("`parameters.{field}` must be a string"),
                ));
            }
        }
    }
    if job_type == "skill" {
        let (skill, input) = skill_task(parameters)?;
        if skill.name == SPAWN_TOOL {
            return Err(Error::invalid(
                "parameters.skill",
                "`spawn_agent` runs inside background agents; create an `agent` task instead",
            ));
        }
        skill.validate_input(&input, "parameters.input")?;
    }
    Ok(())
}

/// The skill of a `skill` task (`parameters.skill`, a built-in) and its input
/// (`parameters.input`, an object; `{}` when absent).
fn skill_task(parameters: &Value) -> Result<(&'static Skill, Value), Error> {
    let name = match parameters.get("skill") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) | None => {
            return Err(Error::invalid(
                "parameters.skill",
                format!(
                    "`skill` tasks need `parameters.skill`, the name of a skill: one of {}",
                    skills::builtin_names()
                ),
            ));
        }
    };
    let skill = skills::builtin(name).ok_or_else(|| {
        Error::invalid(
            "parameters.skill",
            format!(
                "there is no skill `{name}`; the skills are {}",
                skills::builtin_names()
            ),
        )
    })?;
    let input = match parameters.get("input") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return Err(Error::invalid(
                "parameters.input",
                "`parameters.input` must be an object",
            ));
        }
    };
    Ok((skill, input))
}

/// How old a `wal` entry must be for a `memory.compact` task to fold it:
/// `parameters.older_than` in seconds (0 folds everything), else the configured age.
fn compact_age(parameters: &Value) -> Result<Option<chrono::Duration>, Error> {
    for key in parameters.as_object().into_iter().flat_map(|o| o.keys()) {
        if key != "older_than" && key != "scheduled" {
            return Err(Error::invalid(
                format!("parameters.{key}"),
                format!("`memory.compact` takes `parameters.older_than` only; unknown `{key}`"),
            ));
        }
    }
    match parameters.get("older_than") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(secs) if (0..=MAX_COMPACT_AGE_SECS).contains(&secs) => {
                Ok(Some(chrono::Duration::seconds(secs)))
            }
            _ => Err(Error::invalid(
                "parameters.older_than",
                format!(
                    "`parameters.older_than` is a number of seconds from 0 to {MAX_COMPACT_AGE_SECS}"
                ),
            )),
        },
    }
}

/// The instructions of an `agent` task: `parameters.message` (or `prompt`).
fn agent_task_message(parameters: &Value) -> Result<String, Error> {
    let text = parameters
        .get("message")
        .or_else(|| parameters.get("prompt"))
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    if text.is_empty() {
        return Err(Error::invalid(
            "parameters.message",
            "`agent` tasks need `parameters.message`, a non-empty string",
        ));
    }
    Ok(text.to_string())
}

/// How an attempt ended, before the worker turns it into a [`JobEnd`].
#[derive(Debug)]
pub enum Verdict {
    Completed(Value),
    Failed(Error),
    /// Worth another attempt later (the provider failed or timed out).
    Retry(Error),
    /// Stopped on request (the client cancelled, or the worker is handing the job back).
    Cancelled,
}

impl Verdict {
    /// What the store should record; `None` for a cancelled attempt, whose job was either
    /// cancelled already or is handed back by the worker.
    pub fn into_end(self, attempts: i32) -> Option<JobEnd> {
        match self {
            Verdict::Completed(result) => Some(JobEnd::Completed(result)),
            Verdict::Failed(e) => Some(JobEnd::Failed(error_json(&e))),
            Verdict::Retry(e) => Some(JobEnd::Retry {
                error: error_json(&e),
                after: retry_backoff(attempts),
            }),
            Verdict::Cancelled => None,
        }
    }
}

/// How a job records an error: `{code, message}`, as runs do.
fn error_json(e: &Error) -> Value {
    json!({"code": e.kind.parts().1, "message": e.message})
}

/// 2 s, 4 s, 8 s… capped at five minutes, with up to a quarter of jitter so retries of jobs
/// that failed together do not return together.
pub fn retry_backoff(attempts: i32) -> chrono::Duration {
    let base = 2_000i64.saturating_mul(1i64 << attempts.clamp(1, 8).saturating_sub(1));
    let base = base.min(300_000);
    let jitter = (rand::random::<f64>() * base as f64 / 4.0) as i64;
    chrono::Duration::milliseconds(base + jitter)
}

/// One attempt at a job (or a sub-agent) executing on this worker.
pub struct Attempt {
    pub tenant: TenantId,
    pub id: Uuid,
    pub attempt: i32,
    pub cancel: CancellationToken,
    progress: AtomicI16,
    run: Mutex<Option<Uuid>>,
}

impl Attempt {
    fn set_progress(&self, p: i16) {
        self.progress.fetch_max(p.clamp(0, 99), Ordering::Relaxed);
    }
}

/// Executes jobs on a worker, and keeps track of the attempts in flight there.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    runs: Runs,
    worker: String,
    attempts: DashMap<Uuid, Arc<Attempt>>,
}

/// Drops an attempt from the registry, and aborts its run, however the attempt ends (a
/// timed-out parent drops its sub-agents' futures; their runs must not go on regardless).
struct AttemptGuard {
    jobs: Jobs,
    attempt: Arc<Attempt>,
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        self.jobs.inner.attempts.remove(&self.attempt.id);
        if let Some(run) = *self.attempt.run.lock().expect("attempt run") {
            self.jobs.inner.runs.abort_local(run);
        }
    }
}

impl Jobs {
    pub fn new(store: Store, runs: Runs, worker: String) -> Jobs {
        Jobs {
            inner: Arc::new(Inner {
                store,
                runs,
                worker,
                attempts: DashMap::new(),
            }),
        }
    }

    pub fn worker(&self) -> &str {
        &self.inner.worker
    }

    pub fn runs(&self) -> &Runs {
        &self.inner.runs
    }

    /// Every attempt in flight here, sub-agents included, for the heartbeat.
    pub fn held(&self) -> Vec<Held> {
        self.inner
            .attempts
            .iter()
            .map(|a| Held {
                tenant: a.tenant,
                id: a.id,
                attempt: a.attempt,
                progress: a.progress.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Stops an attempt executing here (a sub-agent's stops its own sub-agents too).
    pub fn cancel(&self, id: Uuid) -> bool {
        match self.inner.attempts.get(&id) {
            Some(a) => {
                a.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Runs one claimed attempt to its end, within the job's timeout; `cancel` stops it.
    pub async fn execute(&self, job: &JobRecord, cancel: CancellationToken) -> Verdict {
        let attempt = self.register(job, cancel);
        let timeout = Duration::from_millis(job.timeout_ms.max(1) as u64);
        self.attempt(job, attempt, timeout, None).await
    }

    fn register(&self, job: &JobRecord, cancel: CancellationToken) -> Arc<Attempt> {
        let attempt = Arc::new(Attempt {
            tenant: job.tenant(),
            id: job.id,
            attempt: job.attempts,
            cancel,
            progress: AtomicI16::new(job.progress),
            run: Mutex::new(None),
        });
        self.inner.attempts.insert(job.id, attempt.clone());
        attempt
    }

    async fn attempt(
        &self,
        job: &JobRecord,
        attempt: Arc<Attempt>,
        timeout: Duration,
        lineage: Option<Lineage>,
    ) -> Verdict {
        let guard = AttemptGuard {
            jobs: self.clone(),
            attempt,
        };
        let attempt = &guard.attempt;
        let work = self.dispatch(job, attempt, lineage);
        tokio::select! {
            _ = attempt.cancel.cancelled() => Verdict::Cancelled,
            r = tokio::time::timeout(timeout, work) => r.unwrap_or_else(|_| Verdict::Failed(
                Error::new(ErrorKind::Timeout, format!("the job took longer than its timeout of {} ms", job.timeout_ms)),
            )),
        }
    }

    /// The conversation a task is limited to (`parameters.session_id`, stamped for a token
    /// limited to one session): the memory skills then work on its memories only.
    async fn task_session(&self, job: &JobRecord) -> Result<Option<Uuid>, Error> {
        let Some(key) = job.parameters.get("session_id").and_then(Value::as_str) else {
            return Ok(None);
        };
        match self.inner.store.get_session(job.tenant(), key).await {
            Ok(Some(session)) => Ok(Some(session.id)),
            Ok(None) => Err(Error::not_found("session")),
            Err(e) => {
                tracing::error!(error = %e, "cannot read a task's session");
                Err(Error::internal())
            }
        }
    }

    async fn dispatch(
        &self,
        job: &JobRecord,
        attempt: &Arc<Attempt>,
        lineage: Option<Lineage>,
    ) -> Verdict {
        let params = &job.parameters;
        match JobKind::parse(&job.kind) {
            Some(JobKind::Message) => self.message(job, attempt).await,
            Some(JobKind::Agent) => {
                let task = params
                    .get("task")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let model = params.get("model").and_then(Value::as_str);
                // S3's `skills`: the only installed skills the agent (and its sub-agents) may
                // use; absent or empty, all of them.
                let skills: Option<Vec<String>> = params
                    .get("skills")
                    .and_then(Value::as_array)
                    .filter(|names| !names.is_empty())
                    .map(|names| {
                        names
                            .iter()
                            .filter_map(|n| n.as_str().map(str::to_string))
                            .collect()
                    });
                let depth = lineage.map_or(job.depth, |l| l.depth);
                let sub = (depth < MAX_SUBAGENT_DEPTH).then(|| {
                    Arc::new(SubAgents {
                        jobs: self.clone(),
                        parent: attempt.clone(),
                        root: job.root_id.unwrap_or(job.id),
                        depth,
                        spawned: AtomicUsize::new(0),
                        model: model.map(str::to_string),
                        skills: skills.clone(),
                        timeout_ms: job.timeout_ms,
                        memory: job.memory_access,
                    }) as Arc<dyn ToolExecutor>
                });
                let req = RunRequest {
                    message: task.to_string(),
                    model: model.map(str::to_string),
                    channel: Some("agent".into()),
                    executor: sub,
                    skills,
                    memory: job.memory_access,
                    ..Default::default()
                };
                self.agent_run(attempt, req).await
            }
            Some(JobKind::Task) => match job.job_type.as_str() {
                "noop" => Verdict::Completed(json!({})),
                COMPACT_TASK => self.compact(job, attempt).await,
                // A skill's failure is a failure of this input: trying again would fail again.
                "skill" => match skill_task(params) {
                    Ok((skill, input)) => {
                        let session = match self.task_session(job).await {
                            Ok(s) => s,
                            Err(e) => return Verdict::Failed(e),
                        };
                        let resolved = skills::Resolved::Builtin(skill);
                        let runs = &self.inner.runs;
                        match runs
                            .execute_skill(
                                job.tenant(),
                                // A task made by a session-limited caller sees that session only.
                                session.map_or(MemoryScope::Tenant, MemoryScope::Session),
                                &resolved,
                                &input,
                                "parameters.input",
                            )
                            .await
                        {
                            Ok(output) => Verdict::Completed(json!({
                                "skill": skill.name,
                                "version": skill.version,
                                "output": output,
                            })),
                            Err(e) => Verdict::Failed(e),
                        }
                    }
                    Err(e) => Verdict::Failed(e),
                },
                "agent" => {
                    let message = match agent_task_message(params) {
                        Ok(m) => m,
                        Err(e) => return Verdict::Failed(e),
                    };
                    let req = RunRequest {
                        message,
                        model: params
                            .get("model")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        session_key: params
                            .get("session_id")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        channel: Some("task".into()),
                        memory: job.memory_access,
                        ..Default::default()
                    };
                    self.agent_run(attempt, req).await
                }
                // Any other type is work for an agent, described by the task itself.
                other => {
                    let parameters =
                        serde_json::to_string_pretty(params).unwrap_or_else(|_| params.to_string());
                    let req = RunRequest {
                        message: format!(
                            "Carry out this task and reply with its result.\nTask: {}\nType: {other}\nParameters: {parameters}",
                            job.name
                        ),
                        channel: Some("task".into()),
                        memory: job.memory_access,
                        ..Default::default()
                    };
                    self.agent_run(attempt, req).await
                }
            },
            None => Verdict::Failed(Error::internal()),
        }
    }

    /// Compacts the tenant's memory: what it folded is the task's result.
    async fn compact(&self, job: &JobRecord, attempt: &Arc<Attempt>) -> Verdict {
        let memory = self.inner.runs.memory();
        let age = match compact_age(&job.parameters) {
            Ok(age) => age.unwrap_or(memory.config().compact_after),
            Err(e) => return Verdict::Failed(e),
        };
        let before = chrono::Utc::now() - age;
        match memory
            .compact(attempt.tenant, Some(job.id), before, &attempt.cancel)
            .await
        {
            Ok(done) => Verdict::Completed(json!({
                "folded": done.folded,
                "summaries": done.summaries,
                "older_than": age.num_seconds(),
            })),
            Err(e) if e.kind == ErrorKind::Internal || crate::run::is_transient(&e) => {
                Verdict::Retry(e)
            }
            Err(e) => Verdict::Failed(e),
        }
    }

    /// One agent turn for a task or agent: started through `Runs` like any run, so its events
    /// reach `GET /v1/runs/{id}/events` (and an agent's `/events`) from any replica.
    async fn agent_run(&self, attempt: &Arc<Attempt>, mut req: RunRequest) -> Verdict {
        let store = &self.inner.store;
        req.tenant = attempt.tenant;
        req.tenant_default_model = match store.get_tenant(attempt.tenant).await {
            Ok(t) => t.and_then(|t| t.default_model),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the tenant's default model");
                return Verdict::Retry(Error::new(ErrorKind::Unavailable, "storage unavailable"));
            }
        };
        let started = match self.inner.runs.start(req).await {
            Ok(s) => s,
            Err(e) if e.kind == ErrorKind::Internal => return Verdict::Retry(e),
            Err(e) => return Verdict::Failed(e),
        };
        self.follow(attempt, started).await
    }

    /// Follows a started run to its end, noting it on the job and reporting progress.
    async fn follow(&self, attempt: &Arc<Attempt>, started: Started) -> Verdict {
        *attempt.run.lock().expect("attempt run") = Some(started.run_id);
        if let Err(e) = self
            .inner
            .store
            .set_job_run(attempt.tenant, attempt.id, attempt.attempt, started.run_id)
            .await
        {
            tracing::warn!(error = %e, "cannot note a job's run");
        }
        attempt.set_progress(10);
        let (model, run_id, session) = (started.model, started.run_id, started.session_key);
        let outcome = started
            .events
            .outcome_with(|event| {
                if let RunEventKind::ToolResult { .. } = event.kind {
                    let p = attempt.progress.load(Ordering::Relaxed);
                    attempt.set_progress(p + 10);
                }
            })
            .await;
        match outcome {
            Ok(done) => Verdict::Completed(json!({
                "content": done.content,
                "model": model,
                "finish_reason": done.finish_reason,
                "usage": {"input_tokens": done.input_tokens, "output_tokens": done.output_tokens},
                "run_id": run_wire_id(run_id),
                "session_id": session,
            })),
            // Stopped through the job (cancel, hand-back), or its run was aborted on its own
            // (`POST /v1/runs/{id}/abort`): the latter ends the job too, rather than leaving it
            // for the reaper to run again.
            Err(e) if e.details["reason"] == "cancelled" => {
                if attempt.cancel.is_cancelled() {
                    Verdict::Cancelled
                } else {
                    Verdict::Failed(Error::new(ErrorKind::Conflict, e.message))
                }
            }
            Err(e) if crate::run::is_transient(&e) => Verdict::Retry(e),
            Err(e) => Verdict::Failed(e),
        }
    }

    /// An async message: the run was recorded when the client sent it; execute (or resume) it.
    async fn message(&self, job: &JobRecord, attempt: &Arc<Attempt>) -> Verdict {
        let Some(run) = job.run_id else {
            return Verdict::Failed(Error::internal());
        };
        let message = job
            .parameters
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let metadata = job
            .parameters
            .get("metadata")
            .filter(|m| m.is_object())
            .cloned();
        match self
            .inner
            .runs
            .resume(
                job.tenant(),
                run,
                message,
                metadata,
                job.memory_access,
                job.attempts > 1,
            )
            .await
        {
            // An earlier attempt finished it; nothing is left to do.
            Ok(None) => Verdict::Completed(json!({"run_id": run_wire_id(run)})),
            Ok(Some(started)) => match self.follow(attempt, started).await {
                // The run has recorded its own failure; repeating it would repeat the message.
                Verdict::Retry(e) => Verdict::Failed(e),
                v => v,
            },
            Err(e) => {
                // The run could not start (its model is no longer configured, say): it has to
                // end here, or its poll URL would say `processing` for ever.
                let error = error_json(&e);
                if let Err(err) = self
                    .inner
                    .store
                    .fail_unstarted_run(job.tenant(), run, error)
                    .await
                {
                    tracing::warn!(error = %err, "cannot record a run that could not start");
                }
                Verdict::Failed(e)
            }
        }
    }
}

/// The `spawn_agent` tool of a spawned agent: each call runs a sub-agent here, inside the
/// root job, and returns its answer. Sub-agents are not queued: a parent waiting on queued
/// children would hold a worker slot they might need, and enough such parents deadlock the pool.
struct SubAgents {
    jobs: Jobs,
    parent: Arc<Attempt>,
    root: Uuid,
    depth: i16,
    spawned: AtomicUsize,
    model: Option<String>,
    /// The parent's skill limit, which its sub-agents inherit.
    skills: Option<Vec<String>>,
    timeout_ms: i32,
    /// The parent's memory access, which its sub-agents inherit.
    memory: MemoryAccess,
}

#[async_trait::async_trait]
impl ToolExecutor for SubAgents {
    fn tools(&self) -> Vec<ToolSpec> {
        skills::builtin(SPAWN_TOOL)
            .map(Skill::tool_spec)
            .into_iter()
            .collect()
    }

    async fn call(&self, call: &ToolCall) -> Result<Value, String> {
        let store = &self.jobs.inner.store;
        if let Err(e) = store.record_skill_use(self.parent.tenant, SPAWN_TOOL).await {
            tracing::warn!(error = %e, "skill use not recorded");
        }
        if let Some(skill) = skills::builtin(SPAWN_TOOL) {
            skill
                .validate_input(&call.arguments, "arguments")
                .map_err(skills::tool_error)?;
        }
        let task = call
            .arguments
            .get("task")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or("arguments.task: `arguments.task` must not be blank")?;
        if self.spawned.fetch_add(1, Ordering::SeqCst) >= MAX_SUBAGENTS {
            return Err(format!(
                "an agent may spawn at most {MAX_SUBAGENTS} sub-agents"
            ));
        }
        let model = call
            .arguments
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| self.model.clone());
        let jobs = &self.jobs;
        let lineage = Lineage {
            parent: self.parent.id,
            root: self.root,
            depth: self.depth + 1,
        };
        let new = NewJob {
            id: Uuid::now_v7(),
            kind: JobKind::Agent,
            name: task.chars().take(200).collect(),
            job_type: "agent".into(),
            parameters: json!({"task": task, "model": model, "skills": self.skills}),
            priority: 0,
            timeout_ms: self.timeout_ms,
            max_attempts: 1,
            run_id: None,
            // The store gives a sub-agent its parent's session.
            session_key: None,
            memory_access: self.memory,
        };
        let child = store
            .start_subagent(self.parent.tenant, new, lineage, jobs.worker())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot record a sub-agent");
                "the sub-agent could not be started".to_string()
            })?;
        let attempt = jobs.register(&child, self.parent.cancel.child_token());
        let timeout = Duration::from_millis(child.timeout_ms.max(1) as u64);
        let verdict = Box::pin(jobs.attempt(&child, attempt, timeout, Some(lineage))).await;
        let id = openclaw_domain::AgentId(child.id).to_string();
        let (end, reply) = match verdict {
            Verdict::Completed(result) => (
                JobEnd::Completed(result.clone()),
                Ok(json!({"agent_id": id, "status": "completed", "content": result["content"]})),
            ),
            Verdict::Failed(e) | Verdict::Retry(e) => (
                JobEnd::Failed(error_json(&e)),
                Err(format!("sub-agent {id} failed: {}", e.message)),
            ),
            Verdict::Cancelled => return Err(format!("sub-agent {id} was cancelled")),
        };
        if let Err(e) = store
            .end_job(self.parent.tenant, child.id, jobs.worker(), 1, end)
            .await
        {
            tracing::warn!(error = %e, "cannot record a sub-agent's end");
        }
        reply
    }
}
