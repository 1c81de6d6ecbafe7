//! Runs: one agent turn in a session (API.md §5.1) — take the session's turn, persist the user
//! message, stream the model's answer, persist the reply — with events fanned out to local
//! subscribers at once and to a Redis stream that any replica can replay and tail.
//!
//! The database budget (ARCHITECTURE.md): a stateful run makes two round trips, one to begin
//! and one to end; a stateless completion (the client's own conversation, no session) makes
//! none on its way, its record and everyone's usage going through the write-behind batch.
//! This module is the `Runs` API (start, enqueue, resume, abort, replay, sweep); `events` the
//! events and their fan-out; `turn` the turn itself; `quota` the daily tokens.
//!
//! A run never depends on its caller: it executes on the shared task tracker, holding the
//! tenant's concurrency permit until it ends, so a client that disconnects loses nothing, and
//! an abort (local, or via the control channel) stops it anywhere.

mod events;
pub mod quota;
mod turn;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::StreamExt;

use dashmap::DashMap;
use openclaw_domain::memory::MemoryAccess;
use openclaw_domain::{Error, ErrorKind, RunStatus, TenantId};
use openclaw_store::redis::{Redis, Unavailable};
use openclaw_store::{
    BeginRun, HttpSkillRecord, MemoryScope, NewMessage, RunRecord, Said, SessionRefusal, Store,
    WriteBehind, WriteBehindConfig,
};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use events::{forward_to_redis, Active};
pub use events::{
    from_record, parse_run_id, run_wire_id, Done, RunEvent, RunEventKind, Subscription,
};
pub use quota::TokenQuota;
pub use turn::is_transient;

use crate::executor::Toolbox;
pub use crate::executor::{ToolExecutor, TOOL_TIMEOUT};
use crate::memory::{Memory, MemoryConfig};
use crate::provider::{
    ChatMessage, ChatRequest, ModelRef, Providers, Thinking, ToolChoice, ToolSpec,
};
use crate::skills::{builtin, InstalledTools, Resolved, SkillContext, SkillsConfig};

/// Model calls per run when the request does not say.
pub const DEFAULT_MAX_STEPS: u32 = 8;
/// The finish reason of a run stopped by its step bound while the model still asked for tools
/// (the calls of that last step are not executed: no model call would read their results).
pub const FINISH_MAX_STEPS: &str = "max_steps";
/// Tool calls executed from one model answer. A model may ask for any number at once, each
/// possibly a fetch of a mebibyte; the ones past this bound are not run but answered with an
/// error saying so, so the model sees what happened and can ask again in its next step.
pub const MAX_TOOL_CALLS_PER_STEP: usize = 16;

/// What a run in `session` may search of memory under `access`, if anything.
pub fn memory_scope(access: MemoryAccess, session: Uuid) -> Option<MemoryScope> {
    match access {
        MemoryAccess::Tenant => Some(MemoryScope::Recall(session)),
        MemoryAccess::Session => Some(MemoryScope::Session(session)),
        MemoryAccess::Off => None,
    }
}

/// Refuses a model the caller's allow-list leaves out: 403 on `param`, naming the list.
pub fn allowed(
    list: Option<&openclaw_domain::ModelAllowList>,
    model: &ModelRef,
    param: &str,
) -> Result<(), Error> {
    match list {
        Some(list) if !list.allows(&model.to_string()) => Err(Error {
            param: Some(param.to_string()),
            ..Error::forbidden(format!("this tenant may not use `{model}`"))
                .with_details(json!({"allowed_models": list.entries()}))
        }),
        _ => Ok(()),
    }
}

/// What a dialect asks for, after parsing its own request shape.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub tenant: TenantId,
    /// The session's key; `None` starts a new session — or none at all for a run over the
    /// client's own `conversation` (a stateless completion).
    pub session_key: Option<String>,
    pub message: String,
    /// What the client said about the sender (S2's `metadata`), kept with the user's message.
    pub metadata: Option<Value>,
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
    /// Only these of the tenant's installed skills are offered (S3's spawn `skills`); `None`:
    /// all of them.
    pub skills: Option<Vec<String>>,
    /// How much the model reasons (S4's `options.thinking`), for every model call of the run;
    /// providers ignore it where the model has no such setting. `None`: the model's default.
    pub thinking: Option<Thinking>,
    /// What the run's credential may do with memory.
    pub memory: MemoryAccess,
    /// The models the caller may name (`None`: every one). The tenant's and the deployment's
    /// defaults are the operator's choice and never refused.
    pub allowed_models: Option<Arc<openclaw_domain::ModelAllowList>>,
    /// The whole conversation as the client sent it (OpenAI's `messages`): used instead of the
    /// session's stored history. `message` is still what is recorded as the user's turn.
    pub conversation: Option<Vec<ChatMessage>>,
    /// The tenant's tokens per day, checked before each model call; `None`: unlimited.
    pub tokens_per_day: Option<u64>,
    /// The tenant's concurrency permit the caller took: held by the run until it ends, so a
    /// stream or a request that timed out still counts while its run goes on.
    pub permit: Option<Arc<OwnedSemaphorePermit>>,
}

#[derive(Debug, Clone)]
pub struct RunsConfig {
    /// Messages of history sent with each turn.
    pub history_messages: i64,
    /// A run's whole budget, waiting for the session's turn included.
    pub max_run: Duration,
    /// How long a run's lease (and its session's turn) lasts unless renewed: a dead replica's
    /// runs are swept after this.
    pub turn_lease: Duration,
    /// How often lapsed runs are looked for.
    pub sweep_interval: Duration,
    pub stream_max_len: usize,
    pub stream_ttl: Duration,
    /// How long a finished run's events stay in memory for late local subscribers.
    pub linger: Duration,
    /// Recall and the memory tools (runs with the client's own conversation use neither).
    pub memory: MemoryConfig,
    /// The outbound guard and settings of skills that reach the network.
    pub skills: SkillsConfig,
    pub write_behind: WriteBehindConfig,
}

impl Default for RunsConfig {
    fn default() -> Self {
        RunsConfig {
            history_messages: 50,
            max_run: Duration::from_secs(300),
            turn_lease: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(5),
            stream_max_len: 10_000,
            stream_ttl: Duration::from_secs(3600),
            linger: Duration::from_secs(10),
            memory: MemoryConfig::default(),
            skills: SkillsConfig::default(),
            write_behind: WriteBehindConfig::default(),
        }
    }
}

/// A run recorded for a worker to execute.
#[derive(Debug, Clone)]
pub struct Queued {
    pub run_id: Uuid,
    pub session_key: String,
    pub model: String,
}

/// Where a run being launched stands: its session (none for a stateless completion), and what
/// its start already did.
struct Place {
    run_id: Uuid,
    session: Option<Uuid>,
    session_key: String,
    user_persisted: bool,
    holds_turn: bool,
    /// The history read when the turn was taken (ends with the user's message).
    history: Option<Vec<Said>>,
    /// The tenant's installed and enabled skills, offered to the model (agent runs only).
    skills: Vec<Resolved>,
    /// Whether the tenant has memories worth a recall search.
    memories: bool,
}

/// A run just started.
pub struct Started {
    pub run_id: Uuid,
    /// Empty for a stateless completion, which has no session.
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
    quota: TokenQuota,
    write_behind: WriteBehind,
    /// Into the one task that writes every run's events to Redis.
    to_redis: Option<mpsc::UnboundedSender<events::Stored>>,
}

impl Runs {
    pub fn new(
        store: Store,
        redis: Option<Arc<Redis>>,
        providers: Arc<Providers>,
        tracker: TaskTracker,
        config: RunsConfig,
    ) -> Runs {
        // The upstreams' model lists, fetched now, so that a model no upstream serves is a 400
        // from the first request on (see `Providers::resolve`).
        tokio::spawn({
            let providers = providers.clone();
            async move { providers.models().await }
        });
        let memory = Memory::new(store.clone(), providers.clone(), config.memory.clone());
        let skill_context = SkillContext::new(&config.skills);
        let write_behind = WriteBehind::start(store.clone(), config.write_behind.clone());
        let to_redis = redis.clone().map(|redis| {
            let (tx, rx) = mpsc::unbounded_channel();
            // Not on the tracker: it ends by itself once the runs (its senders) are gone.
            tokio::spawn(forward_to_redis(
                redis,
                rx,
                config.stream_max_len,
                config.stream_ttl,
            ));
            tx
        });
        Runs {
            inner: Arc::new(Inner {
                store,
                quota: TokenQuota::new(redis.clone()),
                redis,
                providers,
                tracker,
                config,
                active: DashMap::new(),
                memory,
                skill_context,
                write_behind,
                to_redis,
            }),
        }
    }

    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }

    pub fn memory(&self) -> &Memory {
        &self.inner.memory
    }

    /// The tenants' tokens of the day.
    pub fn quota(&self) -> &TokenQuota {
        &self.inner.quota
    }

    /// What runs leave to be written behind them (records of stateless runs, usage).
    pub fn write_behind(&self) -> &WriteBehind {
        &self.inner.write_behind
    }

    /// At shutdown, once no run is left: writes what the last runs left behind.
    pub async fn close(&self) {
        self.inner.write_behind.close().await;
    }

    /// What skills that reach the network execute with.
    pub fn skill_context(&self) -> &SkillContext {
        &self.inner.skill_context
    }

    /// Executes a skill called directly (API, tasks) for `tenant`, naming bad params below
    /// `path`. The memory skills work within `scope` (the tenant's memories; a conversation's
    /// and the tenant's own, as a run there sees them; or one conversation's alone, for a caller
    /// limited to it); `spawn_agent` runs only inside background agents.
    pub async fn execute_skill(
        &self,
        tenant: TenantId,
        scope: openclaw_store::MemoryScope,
        skill: &Resolved,
        input: &Value,
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
                    .skill(tenant, scope)
                    .execute(name, input, path)
                    .await
            }
        }
    }

    /// Validates, resolves the session and model, records the run and starts it. Errors here
    /// are the client's (400 for a bad model, 404 for an expired session, 429 for a spent token
    /// quota); once this returns, the run's own failures arrive as its terminal event.
    ///
    /// A stateful run's start is one round trip (`Store::begin_run`); a run over the client's
    /// own conversation without a session touches no database until it has ended.
    pub async fn start(&self, req: RunRequest) -> Result<Started, Error> {
        let inner = &self.inner;
        check_message(&req.message)?;
        if let Some(limit) = req.tokens_per_day {
            inner.quota.check(req.tenant, limit, 0)?;
        }
        // A model named in the request is checked before a session is created for it.
        let chosen = req
            .model
            .as_deref()
            .map(|m| inner.providers.resolve(Some(m)))
            .transpose()?;
        if let Some((_, model)) = &chosen {
            allowed(req.allowed_models.as_deref(), model, "model")?;
        }
        let run_id = Uuid::now_v7();
        if req.session_key.is_none() && req.conversation.is_some() {
            let (provider, model) = match chosen {
                Some(resolved) => resolved,
                None => inner
                    .providers
                    .resolve(req.tenant_default_model.as_deref())?,
            };
            let place = Place {
                run_id,
                session: None,
                session_key: String::new(),
                user_persisted: false,
                holds_turn: true,
                history: None,
                skills: Vec::new(),
                memories: false,
            };
            return Ok(self.launch(req, place, provider, model));
        }
        let fallback = match &chosen {
            Some((_, model)) => model.to_string(),
            None => inner
                .providers
                .resolve(req.tenant_default_model.as_deref())?
                .1
                .to_string(),
        };
        let agent_run = req.conversation.is_none();
        let begin = BeginRun {
            key: req
                .session_key
                .clone()
                .unwrap_or_else(openclaw_store::sessions::generate_key),
            new_session: Uuid::now_v7(),
            channel: req.channel.clone(),
            agent_id: req.agent_id.clone(),
            run: run_id,
            model: chosen.as_ref().map(|(_, m)| m.to_string()),
            default_model: fallback,
            user: user_message(run_id, &req.message, req.metadata.clone()),
            lease: lease(&inner.config),
            history: if agent_run {
                inner.config.history_messages
            } else {
                0
            },
            agent_run,
        };
        let begun = inner
            .store
            .begin_run(req.tenant, &begin)
            .await
            .map_err(|e| e.to_error("cannot record run"))?
            .map_err(refused)?;
        let resolved = match chosen {
            Some(resolved) => Ok(resolved),
            None => inner.providers.resolve(Some(&begun.model)),
        };
        let (provider, model) = match resolved {
            Ok(resolved) => resolved,
            Err(e) => {
                // The session names a model no longer on offer: the run was recorded, so it
                // ends, failed, before the client hears of the error.
                self.abandon(req.tenant, begun.session_id, run_id, &e).await;
                return Err(e);
            }
        };
        let skills = if agent_run {
            let mut skills = installed_skills(&begun.skills, begun.http_skills);
            if let Some(only) = &req.skills {
                skills.retain(|s| only.iter().any(|n| n == s.name()));
            }
            skills
        } else {
            Vec::new()
        };
        let place = Place {
            run_id,
            session: Some(begun.session_id),
            session_key: begun.key,
            user_persisted: begun.took,
            holds_turn: begun.took,
            history: begun.took.then_some(begun.history),
            skills,
            memories: begun.memories,
        };
        Ok(self.launch(req, place, provider, model))
    }

    /// Ends a recorded run that cannot start (its error is the caller's answer).
    async fn abandon(&self, tenant: TenantId, session: Uuid, run: Uuid, error: &Error) {
        let (_, code, _) = error.kind.parts();
        let outcome = openclaw_store::RunOutcome {
            status: RunStatus::Failed,
            error: Some(json!({"code": code, "message": error.message})),
            ..Default::default()
        };
        if let Err(e) = self
            .inner
            .store
            .end_run(tenant, session, run, None, &outcome, &[])
            .await
        {
            tracing::error!(error = %e, "could not record a run that could not start");
        }
    }

    /// Records a run for a worker to execute (S2's `wait_for_response: false`) and queues its
    /// job; the same checks as `start` apply first, so a bad model is still the caller's 400.
    pub async fn enqueue(&self, req: RunRequest) -> Result<Queued, Error> {
        let inner = &self.inner;
        check_message(&req.message)?;
        let chosen = req
            .model
            .as_deref()
            .map(|m| inner.providers.resolve(Some(m)))
            .transpose()?;
        if let Some((_, model)) = &chosen {
            allowed(req.allowed_models.as_deref(), model, "model")?;
        }
        let defaults = openclaw_store::NewSession {
            key: req.session_key.clone(),
            channel: req.channel.clone(),
            agent_id: req.agent_id.clone(),
            ..Default::default()
        };
        let session = match &req.session_key {
            Some(key) => inner.store.ensure_session(req.tenant, key, defaults).await,
            None => inner.store.create_session(req.tenant, defaults).await,
        }
        .map_err(|e| e.to_error("cannot resolve session"))?
        .map_err(refused)?;
        let model = match chosen {
            Some((_, model)) => model,
            None => {
                inner
                    .providers
                    .resolve(
                        session
                            .model
                            .as_deref()
                            .or(req.tenant_default_model.as_deref()),
                    )?
                    .1
            }
        };
        let run_id = Uuid::now_v7();
        let job = openclaw_store::NewJob {
            id: run_id,
            kind: openclaw_store::JobKind::Message,
            name: "message".into(),
            job_type: "message".into(),
            parameters: json!({"message": req.message, "metadata": req.metadata}),
            priority: 0,
            timeout_ms: i32::try_from(inner.config.max_run.as_millis()).unwrap_or(i32::MAX),
            max_attempts: 3,
            run_id: Some(run_id),
            session_key: Some(session.key.clone()),
            memory_access: req.memory,
        };
        inner
            .store
            .enqueue_run(req.tenant, session.id, run_id, &model.to_string(), job)
            .await
            .map_err(|e| e.to_error("cannot queue a run"))?;
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
        metadata: Option<Value>,
        memory: MemoryAccess,
        retried: bool,
    ) -> Result<Option<Started>, Error> {
        let inner = &self.inner;
        let internal = |e: openclaw_store::StoreError| e.to_error("cannot resume a run");
        let Some(run) = inner
            .store
            .get_run(tenant, run_id)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        let (Some(session), Some(session_key)) = (run.session_id, run.session_key) else {
            return Ok(None);
        };
        if run.status.is_ended() {
            return Ok(None);
        }
        let user_persisted = inner
            .store
            .run_user_message_exists(tenant, session, run_id)
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
            metadata,
            memory,
            ..Default::default()
        };
        let skills = match (
            inner.store.installed_skills(tenant).await,
            inner.store.http_skills(tenant).await,
        ) {
            (Ok(installed), Ok(registered)) => {
                let names: Vec<String> = installed
                    .into_iter()
                    .filter(|s| s.enabled)
                    .map(|s| s.name)
                    .collect();
                installed_skills(&names, registered)
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot read the tenant's skills; offering none");
                Vec::new()
            }
        };
        let place = Place {
            run_id,
            session: Some(session),
            session_key,
            user_persisted,
            holds_turn: false,
            history: None,
            skills,
            memories: true,
        };
        Ok(Some(self.launch(req, place, provider, model)))
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
        let (latest, changes) = watch::channel(0);
        let active = Arc::new(Active {
            run_id,
            tenant: req.tenant,
            cancel: CancellationToken::new(),
            log: Mutex::new(Vec::new()),
            latest,
            text: Mutex::new(String::new()),
            wire_id: run_wire_id(run_id).into(),
            to_redis: inner.to_redis.clone(),
            ended: std::sync::OnceLock::new(),
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
        let memory_scope = place.session.and_then(|s| memory_scope(req.memory, s));
        if let (true, true, Some(session), Some(scope)) = (
            remembers,
            inner.config.memory.tools,
            place.session,
            memory_scope,
        ) {
            toolbox.push(Arc::new(inner.memory.tools(req.tenant, session, scope)));
        }
        let executor: Option<Arc<dyn ToolExecutor>> = match toolbox.len() {
            0 | 1 => toolbox.pop(),
            _ => Some(Arc::new(Toolbox(toolbox))),
        };
        let mut own_tools = executor.as_ref().map(|e| e.tools()).unwrap_or_default();
        own_tools.retain(|t| {
            !builtin(&t.name).is_some_and(|s| s.needs_tenant()) || in_run.contains(&t.name)
        });
        // The client's own tools (OpenAI's `tools`) shadow ours of the same name: a model must
        // not be offered two functions under one name, and such a call is the client's to run.
        own_tools.retain(|t| !req.tools.iter().any(|c| c.name == t.name));
        let executable = own_tools.iter().map(|t| t.name.clone()).collect();
        let chat = ChatRequest {
            temperature: req.temperature,
            max_tokens: req.max_tokens,
            stop: req.stop,
            tools: req.tools.into_iter().chain(own_tools).collect(),
            tool_choice: req.tool_choice,
            thinking: req.thinking,
            ..ChatRequest::new(model.clone(), Vec::new())
        };
        let ctx = turn::RunCtx {
            tenant: req.tenant,
            run_id,
            session: place.session,
            message: req.message,
            metadata: req.metadata,
            chat,
            user_persisted: place.user_persisted,
            holds_turn: place.holds_turn,
            history: place.history,
            conversation: req.conversation,
            recall: memory_scope
                .filter(|_| remembers && inner.config.memory.recall && place.memories),
            executor,
            executable,
            max_steps: req.max_steps.unwrap_or(DEFAULT_MAX_STEPS).max(1),
            tokens_per_day: req.tokens_per_day,
            created_at: chrono::Utc::now(),
            permit: req.permit,
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
            // `after` is the client's `Last-Event-ID`: any u64, u64::MAX included.
            next: after.saturating_add(1),
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

    /// A run's events after `after`, from wherever they are: memory when the run executes on
    /// this replica, else its Redis stream (polled until its terminal event or `deadline`), else
    /// rebuilt from its record. Ends after the terminal event.
    pub fn replay(
        &self,
        tenant: TenantId,
        run: RunRecord,
        after: u64,
        deadline: Instant,
    ) -> BoxStream<'static, RunEvent> {
        if let Some(sub) = self.subscribe(tenant, run.id, after) {
            return futures::stream::unfold(sub, |mut sub| async move {
                sub.next().await.map(|e| (e, sub))
            })
            .boxed();
        }
        let this = self.clone();
        let remote = futures::stream::unfold((after, false), move |(after, ended)| {
            let this = this.clone();
            async move {
                if ended {
                    return None;
                }
                loop {
                    let stored = this.stored_events(run.id, after).await.unwrap_or_default();
                    if let Some(last) = stored.last() {
                        let (last, ended) = (last.seq, stored.iter().any(|e| e.kind.is_terminal()));
                        return Some((futures::stream::iter(stored), (last, ended)));
                    }
                    let fresh = this
                        .inner
                        .store
                        .get_run(tenant, run.id)
                        .await
                        .ok()
                        .flatten();
                    if let Some(done) = fresh.filter(|r| r.status.is_ended()) {
                        // Finished, and nothing (more) in Redis: the record has the whole story.
                        let rebuilt: Vec<_> = from_record(&done)
                            .into_iter()
                            .filter(|e| e.seq > after)
                            .collect();
                        return Some((futures::stream::iter(rebuilt), (after, true)));
                    }
                    if Instant::now() > deadline {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        remote.flatten().boxed()
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

    /// Ends, failed, the runs whose replica stopped renewing their lease, and tells their
    /// readers on every replica: a terminal event appended to each run's Redis stream. Returns
    /// how many it ended.
    pub async fn sweep(&self) -> usize {
        let orphans = match self.inner.store.sweep_runs(100).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "cannot sweep lost runs");
                return 0;
            }
        };
        for orphan in &orphans {
            let run = run_wire_id(orphan.id);
            tracing::warn!(run, "run lost with its replica; ended failed");
            metrics::counter!("openclaw_runs_lost_total").increment(1);
            let Some(redis) = &self.inner.redis else {
                continue;
            };
            // Its replica is gone, so nothing else writes to the stream any more.
            let Ok(last) = redis.last_run_event(&run).await else {
                continue;
            };
            let lost = Error::new(
                ErrorKind::Internal,
                "the run was lost: the replica executing it stopped",
            );
            let event = RunEvent {
                seq: last + 1,
                kind: RunEventKind::failure(&lost, false, false),
            };
            let payload = serde_json::to_string(&event).expect("events serialise");
            let config = &self.inner.config;
            let _ = redis
                .append_run_events(
                    &run,
                    &[(event.seq, payload)],
                    config.stream_max_len,
                    config.stream_ttl,
                )
                .await;
        }
        orphans.len()
    }

    /// The runs' upkeep until `shutdown` (every API replica and worker runs it): sweeps lost
    /// runs every `sweep_interval`, and every second forgets finished runs older than `linger`.
    pub async fn sweep_until(self, shutdown: CancellationToken) {
        let config = &self.inner.config;
        let mut sweep = tokio::time::interval(config.sweep_interval);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut forget = tokio::time::interval(
            Duration::from_secs(1)
                .min(config.linger)
                .max(Duration::from_millis(10)),
        );
        forget.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = sweep.tick() => { self.sweep().await; }
                _ = forget.tick() => self.forget_finished(),
            }
        }
    }

    /// Drops the events of runs that ended more than `linger` ago from memory (their Redis
    /// stream and record still tell their story).
    pub fn forget_finished(&self) {
        let linger = self.inner.config.linger;
        self.inner
            .active
            .retain(|_, a| a.ended.get().is_none_or(|t| t.elapsed() < linger));
    }
}

/// The client's error for a session it cannot use.
fn refused(refusal: SessionRefusal) -> Error {
    match refusal {
        SessionRefusal::Expired => Error::not_found("session"),
        SessionRefusal::KeyTaken => Error::new(ErrorKind::Conflict, "session id taken"),
    }
}

fn lease(config: &RunsConfig) -> chrono::Duration {
    chrono::Duration::from_std(config.turn_lease).expect("lease fits")
}

/// The user's turn as recorded in the session.
fn user_message(run: Uuid, message: &str, metadata: Option<Value>) -> NewMessage {
    NewMessage {
        role: "user".into(),
        content: message.to_string(),
        run_id: Some(run),
        metadata,
        ..Default::default()
    }
}

/// The skills an agent run offers: the tenant's enabled ones, built-in or its own HTTP skills.
/// The records read for this run are moved into the run, not copied (`resolve` clones the one
/// it finds: a schema of up to 64 KiB per skill, every run).
fn installed_skills(enabled: &[String], registered: Vec<HttpSkillRecord>) -> Vec<Resolved> {
    let mut registered: HashMap<String, HttpSkillRecord> = registered
        .into_iter()
        .map(|h| (h.name.clone(), h))
        .collect();
    enabled
        .iter()
        .filter_map(|name| match builtin(name) {
            Some(skill) => Some(Resolved::Builtin(skill)),
            None => registered.remove(name).map(|h| Resolved::Http(Arc::new(h))),
        })
        .collect()
}

/// The most a user's message may hold: it joins a conversation that every later run reads.
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024;

/// A user's message: not empty, and within [`MAX_MESSAGE_BYTES`].
fn check_message(message: &str) -> Result<(), Error> {
    if message.trim().is_empty() {
        return Err(Error::invalid("message", "`message` must not be empty"));
    }
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(Error::invalid(
            "message",
            format!(
                "`message` is {} bytes; at most {MAX_MESSAGE_BYTES} are taken",
                message.len()
            ),
        ));
    }
    Ok(())
}
