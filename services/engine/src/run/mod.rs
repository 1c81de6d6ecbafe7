//! Runs: one agent turn in a session (API.md §5.1) — take the session's turn, persist the user
//! message, stream the model's answer, persist the reply and usage — with events fanned out to
//! local subscribers at once and to a Redis stream that any replica can replay and tail.
//!
//! A run with a `ToolExecutor` runs the tools the model calls and answers it, step by step, up
//! to `max_steps` model calls; calls to other tools still end the turn and go back to the caller.
//!
//! A run never depends on its caller: it executes on the shared task tracker, so a client that
//! disconnects loses nothing, and an abort (local, or via the control channel) stops it anywhere.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use std::panic::AssertUnwindSafe;

use futures::{FutureExt, StreamExt};
use openclaw_domain::{Error, ErrorKind, TenantId};
use openclaw_store::redis::{Redis, Unavailable};
use openclaw_store::{NewMessage, NewSession, RunOutcome, SessionRefusal, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::memory::{recall_message, Memory, MemoryConfig};
use crate::provider::{
    ChatMessage, ChatRequest, ModelRef, Providers, Role, StreamEvent, ToolCall, ToolChoice,
    ToolSpec, Usage,
};
use crate::skills::{builtin, resolve, InstalledTools, Resolved, SkillContext, SkillsConfig};

/// Model calls per run when the request does not say.
pub const DEFAULT_MAX_STEPS: u32 = 8;
/// How long one tool call may take: a stuck tool fails its call, not the whole run.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// The finish reason of a run stopped by its step bound while the model still asked for tools
/// (the calls of that last step are not executed: no model call would read their results).
pub const FINISH_MAX_STEPS: &str = "max_steps";

/// Tools a run executes itself. Calls may be cancelled midway (their future dropped) when the
/// run is aborted or runs out of time.
#[async_trait::async_trait]
pub trait ToolExecutor: Send + Sync {
    /// Tools offered to the model on top of RunRequest.tools.
    fn tools(&self) -> Vec<ToolSpec>;
    /// Runs one call. Err(message) is a failed call: reported to the model as the tool's result
    /// (so it can recover), not a failed run.
    async fn call(&self, call: &ToolCall) -> Result<serde_json::Value, String>;
}

// So that `RunRequest` can keep deriving Debug.
impl fmt::Debug for dyn ToolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.tools().into_iter().map(|t| t.name).collect();
        f.debug_struct("ToolExecutor")
            .field("tools", &names)
            .finish_non_exhaustive()
    }
}

/// What a dialect asks for, after parsing its own request shape.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub tenant: TenantId,
    /// The session's key; `None` starts a new session.
    pub session_key: Option<String>,
    pub message: String,
    /// `provider/model`; `None`: the session's model, else the tenant's default, else the
    /// operator's.
    pub model: Option<String>,
    pub tenant_default_model: Option<String>,
    pub channel: Option<String>,
    pub agent_id: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub stop: Vec<String>,
    /// Tools offered to the model. A call it makes ends the turn with `tool_calls` and is
    /// returned to the caller (OpenAI clients run their own tools).
    pub tools: Vec<ToolSpec>,
    pub tool_choice: Option<ToolChoice>,
    /// Runs its own tools (offered on top of `tools`) inside the run, feeding results back.
    pub executor: Option<Arc<dyn ToolExecutor>>,
    /// Model calls per run; `None`: `DEFAULT_MAX_STEPS`.
    pub max_steps: Option<u32>,
    /// The whole conversation as the client sent it (OpenAI's `messages`): used instead of the
    /// session's stored history. `message` is still what is recorded as the user's turn.
    pub conversation: Option<Vec<ChatMessage>>,
}

/// What happened in a run, in order. Dialects render these in their own wire shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEventKind {
    Start {
        session_key: String,
        model: String,
    },
    Delta {
        text: String,
    },
    /// The model asks for a tool. Unless the run's executor runs it (a `ToolResult` follows),
    /// the turn ends with `finish_reason: "tool_calls"`.
    ToolCall {
        id: String,
        name: String,
        arguments: serde_json::Value,
    },
    /// What an executed tool call returned (`is_error`: it failed, `output` says why); the
    /// model is called again with it.
    ToolResult {
        id: String,
        name: String,
        output: serde_json::Value,
        is_error: bool,
    },
    Done {
        message_id: String,
        content: String,
        finish_reason: String,
        input_tokens: u64,
        output_tokens: u64,
        latency_ms: u64,
    },
    Error {
        code: String,
        message: String,
        status: u16,
        /// Worth trying again later (the provider was unavailable, overloaded or slow), as
        /// opposed to a refusal that would recur. Workers retry such jobs.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retryable: bool,
    },
}

impl RunEventKind {
    pub fn is_terminal(&self) -> bool {
        matches!(self, RunEventKind::Done { .. } | RunEventKind::Error { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    /// 1, 2, 3…: the SSE `id:` and what `Last-Event-ID` resumes after.
    pub seq: u64,
    #[serde(flatten)]
    pub kind: RunEventKind,
}

/// `run_<uuid>` on the wire.
pub fn run_wire_id(id: Uuid) -> String {
    format!("run_{}", id.simple())
}

pub fn parse_run_id(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw.strip_prefix("run_").unwrap_or(raw)).ok()
}

#[derive(Debug, Clone)]
pub struct RunsConfig {
    /// Messages of history sent with each turn.
    pub history_messages: i64,
    /// A run's whole budget, waiting for the session's turn included.
    pub max_run: Duration,
    /// How long a turn lease lasts unless renewed (a crashed replica's lapses after this).
    pub turn_lease: Duration,
    pub stream_max_len: usize,
    pub stream_ttl: Duration,
    /// How long a finished run's events stay in memory for late local subscribers.
    pub linger: Duration,
    /// Recall and the memory tools (runs with the client's own conversation use neither).
    pub memory: MemoryConfig,
    /// The outbound guard and settings of skills that reach the network.
    pub skills: SkillsConfig,
}

impl Default for RunsConfig {
    fn default() -> Self {
        RunsConfig {
            history_messages: 50,
            max_run: Duration::from_secs(300),
            turn_lease: Duration::from_secs(30),
            stream_max_len: 10_000,
            stream_ttl: Duration::from_secs(3600),
            linger: Duration::from_secs(60),
            memory: MemoryConfig::default(),
            skills: SkillsConfig::default(),
        }
    }
}

/// A run executing (or recently finished) on this replica.
struct Active {
    tenant: TenantId,
    cancel: CancellationToken,
    /// Every event so far, indexed by `seq - 1`: late subscribers replay from here, so none can
    /// lag behind and lose events the way a broadcast channel's slow receiver would.
    log: Mutex<Vec<RunEvent>>,
    latest: watch::Sender<u64>,
    /// Text streamed so far, kept if the run is cut short.
    text: Mutex<String>,
    to_redis: Option<mpsc::UnboundedSender<Stored>>,
}

impl Active {
    fn emit(&self, kind: RunEventKind) {
        let mut log = self.log.lock().expect("run log");
        let seq = log.len() as u64 + 1;
        let event = RunEvent { seq, kind };
        if let Some(tx) = &self.to_redis {
            let payload = serde_json::to_string(&event).expect("events serialise");
            let _ = tx.send(Stored {
                seq,
                payload,
                terminal: event.kind.is_terminal(),
            });
        }
        log.push(event);
        drop(log);
        self.latest.send_replace(seq);
    }
}

/// Events of a local run from some point on, ending after the terminal event.
pub struct Subscription {
    active: Arc<Active>,
    next: u64,
    changes: watch::Receiver<u64>,
}

impl Subscription {
    pub async fn next(&mut self) -> Option<RunEvent> {
        loop {
            {
                let log = self.active.log.lock().expect("run log");
                if let Some(event) = log.get((self.next - 1) as usize) {
                    self.next += 1;
                    return Some(event.clone());
                }
                if log.last().is_some_and(|e| e.kind.is_terminal()) {
                    return None;
                }
            }
            // The sender lives in `Active`, which this subscription holds: this cannot fail.
            if self.changes.changed().await.is_err() {
                return None;
            }
        }
    }

    /// Reads to the end: the terminal event (or `None` if the log ended without one).
    pub async fn last(mut self) -> Option<RunEvent> {
        let mut last = None;
        while let Some(e) = self.next().await {
            last = Some(e);
        }
        last
    }
}

/// A run recorded for a worker to execute.
#[derive(Debug, Clone)]
pub struct Queued {
    pub run_id: Uuid,
    pub session_key: String,
    pub model: String,
}

/// Where a run being launched stands: its session, and what its first attempt already did.
struct Place {
    run_id: Uuid,
    session: Uuid,
    session_key: String,
    user_persisted: bool,
    holds_turn: bool,
    /// The tenant's installed and enabled skills, offered to the model (agent runs only).
    skills: Vec<Resolved>,
}

/// A run just started.
pub struct Started {
    pub run_id: Uuid,
    pub session_key: String,
    pub model: String,
    pub events: Subscription,
}

#[derive(Clone)]
pub struct Runs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    redis: Option<Arc<Redis>>,
    providers: Arc<Providers>,
    tracker: TaskTracker,
    config: RunsConfig,
    active: DashMap<Uuid, Arc<Active>>,
    memory: Memory,
    skill_context: SkillContext,
}

enum Stop {
    Cancelled,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

impl From<openclaw_store::StoreError> for Stop {
    fn from(e: openclaw_store::StoreError) -> Self {
        tracing::error!(error = %e, "run storage failed");
        Stop::Failed(Error::internal())
    }
}

struct Finished {
    content: String,
    finish_reason: String,
    input_tokens: u64,
    output_tokens: u64,
    tool_calls: Option<serde_json::Value>,
}

impl Runs {
    pub fn new(
        store: Store,
        redis: Option<Arc<Redis>>,
        providers: Arc<Providers>,
        tracker: TaskTracker,
        config: RunsConfig,
    ) -> Runs {
        let memory = Memory::new(store.clone(), providers.clone(), config.memory.clone());
        let skill_context = SkillContext::new(&config.skills);
        Runs {
            inner: Arc::new(Inner {
                store,
                redis,
                providers,
                tracker,
                config,
                active: DashMap::new(),
                memory,
                skill_context,
            }),
        }
    }

    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }

    pub fn memory(&self) -> &Memory {
        &self.inner.memory
    }

    /// What skills that reach the network execute with.
    pub fn skill_context(&self) -> &SkillContext {
        &self.inner.skill_context
    }

    /// Executes a skill called directly (API, tasks) for `tenant`, naming bad params below
    /// `path`. The memory skills work on the tenant's memories, or only `session`'s for a caller
    /// limited to that conversation; `spawn_agent` runs only inside background agents.
    pub async fn execute_skill(
        &self,
        tenant: TenantId,
        session: Option<Uuid>,
        skill: &Resolved,
        input: &serde_json::Value,
        path: &str,
    ) -> Result<serde_json::Value, Error> {
        if !skill.needs_tenant() {
            return skill.execute_at(input, path, self.skill_context()).await;
        }
        match skill.name() {
            crate::skills::SPAWN_AGENT => Err(Error::invalid(
                "name",
                "`spawn_agent` starts sub-agents from inside a background agent; start an \
                 agent with POST /v1/agents/spawn",
            )),
            name => {
                self.memory()
                    .skill(tenant, session)
                    .execute(name, input, path)
                    .await
            }
        }
    }

    /// Validates, resolves the session and model, records the run and starts it. Errors here
    /// are the client's (400 for a bad model, 404 for an expired session); once this returns,
    /// the run's own failures arrive as its terminal event.
    pub async fn start(&self, req: RunRequest) -> Result<Started, Error> {
        let inner = &self.inner;
        let (session, provider, model) = self.prepare(&req).await?;
        let run_id = Uuid::now_v7();
        let lease = chrono::Duration::from_std(inner.config.turn_lease).expect("lease fits");
        let first_turn = NewMessage {
            role: "user".into(),
            content: req.message.clone(),
            run_id: Some(run_id),
            ..Default::default()
        };
        let took = inner
            .store
            .begin_run(
                req.tenant,
                session.id,
                run_id,
                &model.to_string(),
                first_turn,
                lease,
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot record run");
                Error::internal()
            })?;
        let skills = self.installed_skills(&req).await;
        let place = Place {
            run_id,
            session: session.id,
            session_key: session.key,
            user_persisted: took,
            holds_turn: took,
            skills,
        };
        Ok(self.launch(req, place, provider, model))
    }

    /// Records a run for a worker to execute (S2's `wait_for_response: false`) and queues its
    /// job; the same checks as `start` apply first, so a bad model is still the caller's 400.
    pub async fn enqueue(&self, req: RunRequest) -> Result<Queued, Error> {
        let (session, _, model) = self.prepare(&req).await?;
        let run_id = Uuid::now_v7();
        let job = openclaw_store::NewJob {
            id: run_id,
            kind: openclaw_store::JobKind::Message,
            name: "message".into(),
            job_type: "message".into(),
            parameters: json!({"message": req.message}),
            priority: 0,
            timeout_ms: i32::try_from(self.inner.config.max_run.as_millis()).unwrap_or(i32::MAX),
            max_attempts: 3,
            run_id: Some(run_id),
        };
        self.inner
            .store
            .enqueue_run(req.tenant, session.id, run_id, &model.to_string(), job)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot queue a run");
                Error::internal()
            })?;
        Ok(Queued {
            run_id,
            session_key: session.key,
            model: model.to_string(),
        })
    }

    /// Executes a run that `enqueue` recorded (on a worker), or resumes one whose worker died:
    /// the user's message is recorded once, whichever attempt gets there. `None` if the run has
    /// ended already (an earlier attempt finished it) or is gone.
    pub async fn resume(
        &self,
        tenant: TenantId,
        run_id: Uuid,
        message: String,
        retried: bool,
    ) -> Result<Option<Started>, Error> {
        let inner = &self.inner;
        let internal = |e: openclaw_store::StoreError| {
            tracing::error!(error = %e, "cannot resume a run");
            Error::internal()
        };
        let Some(run) = inner
            .store
            .get_run(tenant, run_id)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        if run.status != "processing" {
            return Ok(None);
        }
        let user_persisted = inner
            .store
            .run_user_message_exists(tenant, run.session_id, run_id)
            .await
            .map_err(internal)?;
        if retried {
            if let Some(redis) = &inner.redis {
                let _ = redis.delete_run_events(&run_wire_id(run_id)).await;
            }
        }
        let (provider, model) = inner.providers.resolve(Some(&run.model))?;
        let req = RunRequest {
            tenant,
            message,
            ..Default::default()
        };
        let skills = self.installed_skills(&req).await;
        let place = Place {
            run_id,
            session: run.session_id,
            session_key: run.session_key,
            user_persisted,
            holds_turn: false,
            skills,
        };
        Ok(Some(self.launch(req, place, provider, model)))
    }

    /// The skills an agent run offers: the tenant's installed and enabled ones. A run over the
    /// client's own conversation (OpenAI's API) offers only the client's tools. Trouble reading
    /// them is logged and offers none, rather than failing the run.
    async fn installed_skills(&self, req: &RunRequest) -> Vec<Resolved> {
        if req.conversation.is_some() {
            return Vec::new();
        }
        let store = &self.inner.store;
        let read = async {
            let installed = store.installed_skills(req.tenant).await?;
            let registered = if installed
                .iter()
                .any(|r| r.enabled && builtin(&r.name).is_none())
            {
                store.http_skills(req.tenant).await?
            } else {
                Vec::new()
            };
            Ok::<_, openclaw_store::StoreError>((installed, registered))
        };
        match read.await {
            Ok((installed, registered)) => installed
                .iter()
                .filter(|r| r.enabled)
                .filter_map(|r| resolve(&r.name, &registered))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the tenant's skills; offering none");
                Vec::new()
            }
        }
    }

    /// Checks the request, resolves (or creates) its session and picks the model.
    async fn prepare(
        &self,
        req: &RunRequest,
    ) -> Result<
        (
            openclaw_store::SessionRecord,
            Arc<dyn crate::Provider>,
            ModelRef,
        ),
        Error,
    > {
        let inner = &self.inner;
        if req.message.trim().is_empty() {
            return Err(Error::invalid("message", "`message` must not be empty"));
        }
        // A model named in the request is checked before a session is created for it.
        let chosen = req
            .model
            .as_deref()
            .map(|m| inner.providers.resolve(Some(m)))
            .transpose()?;
        let defaults = NewSession {
            key: req.session_key.clone(),
            channel: req.channel.clone(),
            agent_id: req.agent_id.clone(),
            ..Default::default()
        };
        let session = match &req.session_key {
            Some(key) => inner.store.ensure_session(req.tenant, key, defaults).await,
            None => inner.store.create_session(req.tenant, defaults).await,
        }
        .map_err(|e| {
            tracing::error!(error = %e, "cannot resolve session");
            Error::internal()
        })?
        .map_err(|refusal| match refusal {
            SessionRefusal::Expired => Error::not_found("session"),
            SessionRefusal::KeyTaken => Error::new(ErrorKind::Conflict, "session id taken"),
        })?;
        let (provider, model) = match chosen {
            Some(resolved) => resolved,
            None => inner.providers.resolve(
                session
                    .model
                    .as_deref()
                    .or(req.tenant_default_model.as_deref()),
            )?,
        };
        Ok((session, provider, model))
    }

    /// Starts executing a recorded run on the tracker and returns its events.
    fn launch(
        &self,
        req: RunRequest,
        place: Place,
        provider: Arc<dyn crate::Provider>,
        model: ModelRef,
    ) -> Started {
        let inner = &self.inner;
        let run_id = place.run_id;
        let to_redis = inner.redis.clone().map(|redis| {
            let (tx, rx) = mpsc::unbounded_channel();
            let config = inner.config.clone();
            inner
                .tracker
                .spawn(forward_to_redis(redis, run_wire_id(run_id), rx, config));
            tx
        });
        let (latest, changes) = watch::channel(0);
        let active = Arc::new(Active {
            tenant: req.tenant,
            cancel: CancellationToken::new(),
            log: Mutex::new(Vec::new()),
            latest,
            text: Mutex::new(String::new()),
            to_redis,
        });
        active.emit(RunEventKind::Start {
            session_key: place.session_key.clone(),
            model: model.to_string(),
        });
        inner.active.insert(run_id, active.clone());
        let events = Subscription {
            active: active.clone(),
            next: 1,
            changes,
        };

        // Runs over the client's own conversation (OpenAI's API) are the client's context
        // alone; every other run may recall memories and is offered the memory tools and the
        // tenant's installed skills.
        let remembers = req.conversation.is_none();
        // The built-ins that need the tenant (memory, spawn_agent) come with their own
        // executors; the installation decides whether they are offered (`own_tools` below).
        let (in_run, installed): (Vec<Resolved>, Vec<Resolved>) =
            place.skills.into_iter().partition(Resolved::needs_tenant);
        let in_run: HashSet<String> = in_run.iter().map(|s| s.name().to_string()).collect();
        let mut toolbox: Vec<Arc<dyn ToolExecutor>> = req.executor.into_iter().collect();
        if remembers && !installed.is_empty() {
            toolbox.push(Arc::new(InstalledTools {
                tenant: req.tenant,
                store: inner.store.clone(),
                skills: installed,
                context: inner.skill_context.clone(),
            }));
        }
        if remembers && inner.config.memory.tools {
            toolbox.push(Arc::new(inner.memory.tools(req.tenant, place.session)));
        }
        let executor: Option<Arc<dyn ToolExecutor>> = match toolbox.len() {
            0 | 1 => toolbox.pop(),
            _ => Some(Arc::new(Toolbox(toolbox))),
        };
        let mut own_tools = executor.as_ref().map(|e| e.tools()).unwrap_or_default();
        own_tools.retain(|t| {
            !builtin(&t.name).is_some_and(|s| s.needs_tenant()) || in_run.contains(&t.name)
        });
        let executable = own_tools.iter().map(|t| t.name.clone()).collect();
        let chat = ChatRequest {
            temperature: req.temperature,
            max_tokens: req.max_tokens,
            stop: req.stop,
            tools: req.tools.into_iter().chain(own_tools).collect(),
            tool_choice: req.tool_choice,
            ..ChatRequest::new(model.clone(), Vec::new())
        };
        let ctx = RunCtx {
            tenant: req.tenant,
            run_id,
            session: place.session,
            message: req.message,
            chat,
            user_persisted: place.user_persisted,
            holds_turn: place.holds_turn,
            conversation: req.conversation,
            recall: remembers && inner.config.memory.recall,
            executor,
            executable,
            max_steps: req.max_steps.unwrap_or(DEFAULT_MAX_STEPS).max(1),
        };
        let this = self.clone();
        inner
            .tracker
            .spawn(async move { this.execute(active, provider, ctx).await });
        Started {
            run_id,
            session_key: place.session_key,
            model: model.to_string(),
            events,
        }
    }

    /// Events of a run executing (or lately finished) on this replica, after `after`.
    pub fn subscribe(&self, tenant: TenantId, run_id: Uuid, after: u64) -> Option<Subscription> {
        let active = self.inner.active.get(&run_id)?.clone();
        if active.tenant != tenant {
            return None;
        }
        let changes = active.latest.subscribe();
        Some(Subscription {
            active,
            next: after + 1,
            changes,
        })
    }

    /// Events of a run from its Redis stream, after `after` (for runs on other replicas).
    pub async fn stored_events(
        &self,
        run_id: Uuid,
        after: u64,
    ) -> Result<Vec<RunEvent>, Unavailable> {
        let Some(redis) = &self.inner.redis else {
            return Ok(Vec::new());
        };
        let raw = redis
            .run_events_after(&run_wire_id(run_id), after, 500)
            .await?;
        Ok(raw
            .into_iter()
            .filter_map(|(_, payload)| serde_json::from_str(&payload).ok())
            .collect())
    }

    /// Cancels the run if it executes here; true if it did.
    pub fn abort_local(&self, run_id: Uuid) -> bool {
        match self.inner.active.get(&run_id) {
            Some(a) => {
                a.cancel.cancel();
                true
            }
            None => false,
        }
    }

    async fn execute(
        &self,
        active: Arc<Active>,
        provider: Arc<dyn crate::Provider>,
        mut ctx: RunCtx,
    ) {
        let inner = &self.inner;
        let started = Instant::now();
        let result = tokio::select! {
            _ = active.cancel.cancelled() => Err(Stop::Cancelled),
            r = tokio::time::timeout(
                inner.config.max_run,
                // A bug must still end the run, or its subscribers would wait forever.
                AssertUnwindSafe(self.turn(&active, provider.as_ref(), &mut ctx)).catch_unwind(),
            ) => match r {
                Ok(Ok(result)) => result,
                Ok(Err(_panic)) => {
                    tracing::error!(run = %run_wire_id(ctx.run_id), "a run panicked");
                    Err(Stop::Failed(Error::internal()))
                }
                Err(_) => Err(Stop::Failed(Error::new(ErrorKind::Timeout, "the run took longer than allowed"))),
            }
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        let model = ctx.chat.model.to_string();
        let reply = |content: String, f: Option<&Finished>| NewMessage {
            role: "assistant".into(),
            content,
            run_id: Some(ctx.run_id),
            model: Some(model.clone()),
            input_tokens: f.map(|f| f.input_tokens as i32),
            output_tokens: f.map(|f| f.output_tokens as i32),
            tool_calls: f.and_then(|f| f.tool_calls.clone()),
            ..Default::default()
        };
        // The reply, the outcome, usage and the turn's release: one commit.
        let (message, outcome, event) = match result {
            Ok(f) => {
                let outcome = RunOutcome {
                    status: "completed",
                    response: Some(f.content.clone()),
                    finish_reason: Some(f.finish_reason.clone()),
                    input_tokens: f.input_tokens as i32,
                    output_tokens: f.output_tokens as i32,
                    latency_ms: latency_ms as i32,
                    error: None,
                };
                (Some(reply(f.content.clone(), Some(&f))), outcome, Ok(f))
            }
            Err(stop) => {
                let (status, error) = match stop {
                    Stop::Cancelled => (
                        "cancelled",
                        Error::new(ErrorKind::Conflict, "the run was aborted"),
                    ),
                    Stop::Failed(e) => ("failed", e),
                };
                // What was streamed before the end stays in the history, as the client saw it.
                let partial = active.text.lock().expect("run text").clone();
                let message = (!partial.is_empty() && ctx.user_persisted)
                    .then(|| reply(partial.clone(), None));
                let (http, code, _) = error.kind.parts();
                let code = if status == "cancelled" {
                    "cancelled"
                } else {
                    code
                };
                let outcome = RunOutcome {
                    status,
                    response: (!partial.is_empty()).then_some(partial),
                    error: Some(json!({"code": code, "message": error.message})),
                    latency_ms: latency_ms as i32,
                    ..Default::default()
                };
                let retryable = status == "failed" && is_transient(&error);
                let event = RunEventKind::Error {
                    code: code.into(),
                    message: error.message,
                    status: http,
                    retryable,
                };
                (message, outcome, Err(event))
            }
        };
        let saved = match inner
            .store
            .end_run(
                ctx.tenant,
                ctx.session,
                ctx.run_id,
                &model,
                message,
                &outcome,
            )
            .await
        {
            Ok((saved, _)) => saved,
            Err(e) => {
                tracing::error!(error = %e, run = %run_wire_id(ctx.run_id), "could not record the end of a run");
                None
            }
        };
        let event = match event {
            Ok(f) => RunEventKind::Done {
                message_id: saved
                    .map(|m| format!("msg_{}", m.id.simple()))
                    .unwrap_or_default(),
                content: f.content,
                finish_reason: f.finish_reason,
                input_tokens: f.input_tokens,
                output_tokens: f.output_tokens,
                latency_ms,
            },
            Err(error) => error,
        };
        active.emit(event);
        tracing::info!(run = %run_wire_id(ctx.run_id), status = outcome.status, latency_ms, "run finished");
        // Keep the finished run readable for late local subscribers for a while. Dropping it
        // later is housekeeping, not work that must finish, hence not on the tracker.
        let runs = self.inner.clone();
        let run_id = ctx.run_id;
        let linger = self.inner.config.linger;
        tokio::spawn(async move {
            tokio::time::sleep(linger).await;
            runs.active.remove(&run_id);
        });
    }

    /// The turn itself: wait for the session's turn unless `begin_run` already took it (then the
    /// user's message is recorded in the same commit), and converse while a timer keeps the lease
    /// (a model that is silent for a while must not lose it). Cancellation and the overall
    /// timeout are applied around this.
    async fn turn(
        &self,
        active: &Active,
        provider: &dyn crate::Provider,
        ctx: &mut RunCtx,
    ) -> Result<Finished, Stop> {
        let store = &self.inner.store;
        let lease = chrono::Duration::from_std(self.inner.config.turn_lease).expect("lease fits");
        let (tenant, session, run) = (ctx.tenant, ctx.session, ctx.run_id);
        let mut wait = Duration::from_millis(10);
        while !ctx.holds_turn {
            let user = (!ctx.user_persisted).then(|| user_message(ctx));
            ctx.holds_turn = store.take_turn(tenant, session, run, user, lease).await?;
            if ctx.holds_turn {
                ctx.user_persisted = true;
            } else {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(250));
            }
        }
        let renew = async {
            loop {
                tokio::time::sleep(self.inner.config.turn_lease / 3).await;
                match store.renew_turn(tenant, session, run, lease).await {
                    Ok(true) => {}
                    // Another run holds the session now: going on would interleave the history.
                    Ok(false) => {
                        return Stop::Failed(Error::new(
                            ErrorKind::Conflict,
                            "the run lost its session's turn",
                        ))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not renew a session turn; retrying")
                    }
                }
            }
        };
        tokio::select! {
            result = self.converse(active, provider, ctx) => result,
            lost = renew => Err(lost),
        }
    }

    /// The history (which now ends with the user's message) or the client's own conversation,
    /// then the model's streamed answer — again after each step whose tool calls the executor
    /// ran, with their results, until the model answers without them or `max_steps` is reached.
    async fn converse(
        &self,
        active: &Active,
        provider: &dyn crate::Provider,
        ctx: &mut RunCtx,
    ) -> Result<Finished, Stop> {
        ctx.chat.messages = match ctx.conversation.take() {
            Some(conversation) => conversation,
            None => {
                let history = self
                    .inner
                    .store
                    .recent_messages(ctx.tenant, ctx.session, self.inner.config.history_messages)
                    .await?;
                let mut messages: Vec<ChatMessage> =
                    history.iter().filter_map(history_message).collect();
                if ctx.recall {
                    let found = self
                        .inner
                        .memory
                        .recall(ctx.tenant, ctx.session, &ctx.message)
                        .await;
                    if let Some(recalled) = recall_message(&found) {
                        messages.insert(0, recalled);
                    }
                }
                messages
            }
        };
        let mut usage = Usage::default();
        // Every call of the run, as recorded on the reply; executed ones with their results.
        let mut recorded = Vec::new();
        let mut steps = 0;
        let finish_reason = loop {
            steps += 1;
            let step = stream_step(active, provider, &ctx.chat).await?;
            usage.input_tokens += step.usage.input_tokens;
            usage.output_tokens += step.usage.output_tokens;
            let executor = ctx.executor.as_ref().filter(|_| {
                !step.calls.is_empty()
                    && step.calls.iter().all(|c| ctx.executable.contains(&c.name))
            });
            let Some(executor) = executor else {
                recorded.extend(step.calls.iter().map(|c| call_record(c, None)));
                break step.finish_reason;
            };
            if steps >= ctx.max_steps {
                recorded.extend(step.calls.iter().map(|c| call_record(c, None)));
                break FINISH_MAX_STEPS.to_string();
            }
            let results =
                futures::future::join_all(step.calls.iter().map(|c| execute(executor.as_ref(), c)))
                    .await;
            let mut answers = Vec::with_capacity(results.len());
            for (call, (output, is_error)) in step.calls.iter().zip(results) {
                recorded.push(call_record(call, Some((&output, is_error))));
                answers.push(ChatMessage::tool_result(&call.id, output.to_string()));
                active.emit(RunEventKind::ToolResult {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    output,
                    is_error,
                });
            }
            ctx.chat.messages.push(ChatMessage {
                tool_calls: step.calls,
                ..ChatMessage::assistant(step.text)
            });
            ctx.chat.messages.extend(answers);
            // A forced call was made; forcing it again would only loop to the step bound.
            if matches!(
                ctx.chat.tool_choice,
                Some(ToolChoice::Required | ToolChoice::Tool(_))
            ) {
                ctx.chat.tool_choice = Some(ToolChoice::Auto);
            }
        };
        Ok(Finished {
            content: active.text.lock().expect("run text").clone(),
            finish_reason,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            tool_calls: (!recorded.is_empty()).then_some(serde_json::Value::Array(recorded)),
        })
    }
}

/// One model call's answer, its text and tool calls streamed out as events on the way.
struct Step {
    text: String,
    calls: Vec<ToolCall>,
    finish_reason: String,
    usage: Usage,
}

async fn stream_step(
    active: &Active,
    provider: &dyn crate::Provider,
    chat: &ChatRequest,
) -> Result<Step, Stop> {
    let mut stream = provider.stream(chat).await?;
    let mut step = Step {
        text: String::new(),
        calls: Vec::new(),
        finish_reason: "stop".to_string(),
        usage: Usage::default(),
    };
    while let Some(item) = stream.next().await {
        match item? {
            StreamEvent::Delta(text) => {
                step.text.push_str(&text);
                active.text.lock().expect("run text").push_str(&text);
                active.emit(RunEventKind::Delta { text });
            }
            StreamEvent::ToolCall(call) => {
                active.emit(RunEventKind::ToolCall {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                });
                step.calls.push(call);
            }
            StreamEvent::Done {
                finish_reason,
                usage,
            } => {
                step.finish_reason = finish_reason.as_str().to_string();
                step.usage = usage;
            }
        }
    }
    Ok(step)
}

/// Several executors offered as one: each call goes to the executor that offers its tool.
struct Toolbox(Vec<Arc<dyn ToolExecutor>>);

#[async_trait::async_trait]
impl ToolExecutor for Toolbox {
    fn tools(&self) -> Vec<ToolSpec> {
        self.0.iter().flat_map(|e| e.tools()).collect()
    }

    async fn call(&self, call: &ToolCall) -> Result<serde_json::Value, String> {
        for executor in &self.0 {
            if executor.tools().iter().any(|t| t.name == call.name) {
                return executor.call(call).await;
            }
        }
        Err(format!("no tool `{}`", call.name))
    }
}

/// Runs one call within `TOOL_TIMEOUT`: its output, or `{"error": …}` and `true` if it failed.
async fn execute(executor: &dyn ToolExecutor, call: &ToolCall) -> (serde_json::Value, bool) {
    match tokio::time::timeout(TOOL_TIMEOUT, executor.call(call)).await {
        Ok(Ok(output)) => (output, false),
        Ok(Err(message)) => (json!({ "error": message }), true),
        Err(_) => (
            json!({ "error": format!("the tool did not answer within {} s", TOOL_TIMEOUT.as_secs()) }),
            true,
        ),
    }
}

/// A call as recorded on the assistant message: `{id, name, arguments}`, plus `result` and
/// `is_error` once executed.
fn call_record(call: &ToolCall, result: Option<(&serde_json::Value, bool)>) -> serde_json::Value {
    let mut record = json!({"id": call.id, "name": call.name, "arguments": call.arguments});
    if let Some((output, is_error)) = result {
        record["result"] = output.clone();
        record["is_error"] = json!(is_error);
    }
    record
}

/// Whether a run's failure is the provider's passing trouble (unreachable, overloaded, slow,
/// rate limited) rather than something a second attempt would meet again.
pub fn is_transient(error: &Error) -> bool {
    match error.kind {
        ErrorKind::UpstreamTimeout | ErrorKind::Unavailable => true,
        ErrorKind::Upstream => error.details["upstream_status"]
            .as_u64()
            .is_none_or(|s| matches!(s, 408 | 409 | 429 | 500..=599)),
        _ => false,
    }
}

/// The user's turn as recorded in the session.
fn user_message(ctx: &RunCtx) -> NewMessage {
    NewMessage {
        role: "user".into(),
        content: ctx.message.clone(),
        run_id: Some(ctx.run_id),
        ..Default::default()
    }
}

struct RunCtx {
    tenant: TenantId,
    run_id: Uuid,
    session: Uuid,
    message: String,
    chat: ChatRequest,
    /// Whether the user's message made it into the history (then a partial reply may follow it).
    user_persisted: bool,
    /// Whether this run holds its session's turn (then it may converse).
    holds_turn: bool,
    conversation: Option<Vec<ChatMessage>>,
    /// Whether the tenant's relevant memories go before the history.
    recall: bool,
    executor: Option<Arc<dyn ToolExecutor>>,
    /// Names of the executor's tools, as offered to the model.
    executable: HashSet<String>,
    max_steps: u32,
}

fn history_message(m: &openclaw_store::MessageRecord) -> Option<ChatMessage> {
    let role = match m.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" => Role::System,
        // Tool results need the assistant's matching call, which history does not carry yet.
        _ => return None,
    };
    Some(ChatMessage::new(role, m.content.clone()))
}

/// An event on its way to the Redis stream.
struct Stored {
    seq: u64,
    payload: String,
    terminal: bool,
}

/// Writes a run's events to its Redis stream in order, batching whatever has queued up, so a
/// fast stream of deltas costs a round trip per batch rather than per delta.
async fn forward_to_redis(
    redis: Arc<Redis>,
    run: String,
    mut rx: mpsc::UnboundedReceiver<Stored>,
    config: RunsConfig,
) {
    let mut batch: Vec<Stored> = Vec::new();
    while rx.recv_many(&mut batch, 256).await > 0 {
        let events: Vec<(u64, String)> = batch.iter().map(|e| (e.seq, e.payload.clone())).collect();
        if redis
            .append_run_events(&run, &events, config.stream_max_len, config.stream_ttl)
            .await
            .is_err()
        {
            tracing::debug!(
                run,
                "run events not written to Redis; local subscribers still have them"
            );
        }
        let ended = batch.iter().any(|e| e.terminal);
        batch.clear();
        if ended {
            break;
        }
    }
}
