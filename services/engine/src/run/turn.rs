//! The turn itself: wait for the session's turn if the start did not take it, converse with the
//! model step by step (executing the run's own tools), keep the run's lease while it works, and
//! end it — one round trip for a stateful run, the write-behind batch for a stateless one.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use openclaw_domain::{Error, ErrorKind, RunStatus, TenantId};
use openclaw_store::{FinishedRun, NewMessage, RunOutcome, Said};
use serde_json::{json, Value};
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use super::events::{run_wire_id, Active, RunEventKind};
use super::{lease, user_message, Runs, FINISH_MAX_STEPS, MAX_TOOL_CALLS_PER_STEP};
use crate::executor::{call_record, execute, ToolExecutor};
use crate::memory::recall_message;
use crate::provider::{ChatMessage, ChatRequest, Role, StreamEvent, ToolCall, ToolChoice, Usage};

pub(super) struct RunCtx {
    pub tenant: TenantId,
    pub run_id: Uuid,
    /// `None`: a stateless completion.
    pub session: Option<Uuid>,
    pub message: String,
    /// Kept with the user's message when it is recorded.
    pub metadata: Option<Value>,
    pub chat: ChatRequest,
    /// Whether the user's message made it into the history (then a partial reply may follow it).
    pub user_persisted: bool,
    /// Whether this run holds its session's turn (then it may converse).
    pub holds_turn: bool,
    /// The history read with the turn, if the start took it.
    pub history: Option<Vec<Said>>,
    pub conversation: Option<Vec<ChatMessage>>,
    /// Where the relevant memories that go before the history are searched, if anywhere.
    pub recall: Option<openclaw_store::MemoryScope>,
    pub executor: Option<Arc<dyn ToolExecutor>>,
    /// Names of the executor's tools, as offered to the model.
    pub executable: HashSet<String>,
    pub max_steps: u32,
    pub tokens_per_day: Option<u64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Held until the run ends: released as soon as its outcome is known, before it is recorded
    /// or announced, so whoever sees the end finds the slot free.
    pub permit: Option<Arc<OwnedSemaphorePermit>>,
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
        // A cap refused (a session full of messages) or the database away says so; anything
        // else is logged and internal.
        Stop::Failed(e.to_error("run storage failed"))
    }
}

struct Finished {
    content: String,
    finish_reason: String,
    input_tokens: u64,
    output_tokens: u64,
    tool_calls: Option<serde_json::Value>,
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

/// The terminal event of a run that stopped without an answer.
fn error_event(status: RunStatus, error: &Error) -> RunEventKind {
    let cancelled = status == RunStatus::Cancelled;
    RunEventKind::failure(error, cancelled, !cancelled && is_transient(error))
}

impl Runs {
    pub(super) async fn execute(
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
        // The run's work is over: whoever sees its end (record or event) finds the slot free.
        drop(ctx.permit.take());
        let model = ctx.chat.model.to_string();
        let (outcome, event) = match result {
            Ok(f) => {
                let outcome = RunOutcome {
                    status: RunStatus::Completed,
                    response: Some(f.content.clone()),
                    finish_reason: Some(f.finish_reason.clone()),
                    input_tokens: f.input_tokens as i32,
                    output_tokens: f.output_tokens as i32,
                    latency_ms: latency_ms as i32,
                    error: None,
                };
                (outcome, Ok(f))
            }
            Err(stop) => {
                let (status, error) = match stop {
                    Stop::Cancelled => (
                        RunStatus::Cancelled,
                        Error::new(ErrorKind::Conflict, "the run was aborted"),
                    ),
                    Stop::Failed(e) => (RunStatus::Failed, e),
                };
                // What was streamed before the end stays in the history, as the client saw it.
                let partial = active.text.lock().expect("run text").clone();
                let event = error_event(status, &error);
                let outcome = RunOutcome {
                    status,
                    response: (!partial.is_empty()).then_some(partial),
                    error: Some(json!({"code": event_code(&event), "message": error.message})),
                    latency_ms: latency_ms as i32,
                    ..Default::default()
                };
                (outcome, Err(event))
            }
        };
        let tokens = (outcome.input_tokens + outcome.output_tokens).max(0) as u64;
        let event = match ctx.session {
            Some(session) => {
                let reply = match &event {
                    Ok(f) => Some(NewMessage {
                        role: "assistant".into(),
                        content: f.content.clone(),
                        run_id: Some(ctx.run_id),
                        model: Some(model.clone()),
                        input_tokens: Some(f.input_tokens as i32),
                        output_tokens: Some(f.output_tokens as i32),
                        tool_calls: f.tool_calls.clone(),
                        ..Default::default()
                    }),
                    Err(_) => {
                        outcome
                            .response
                            .clone()
                            .filter(|_| ctx.user_persisted)
                            .map(|partial| NewMessage {
                                role: "assistant".into(),
                                content: partial,
                                run_id: Some(ctx.run_id),
                                model: Some(model.clone()),
                                ..Default::default()
                            })
                    }
                };
                // The reply, the outcome and the turn's release: one round trip.
                match end_run(&inner.store, ctx.tenant, session, ctx.run_id, reply, &outcome).await
                {
                    Ok((message_id, true)) => event.map(|f| (f, message_id)),
                    // Something else ended it first (the sweep, after its lease lapsed), or its
                    // start never became durable: its record is not this answer, so neither
                    // is what the client hears.
                    Ok((_, false)) => event.and_then(|_| {
                        tracing::warn!(run = %run_wire_id(ctx.run_id), "run was ended before its reply was recorded");
                        Err(error_event(RunStatus::Failed, &Error::internal()))
                    }),
                    Err(e) => {
                        // The client must not be told of a reply that is not in the history:
                        // 503 when the database is away (the run's lease lapses and the sweep
                        // ends it), a logged 500 otherwise.
                        let error = e.to_error("could not record the end of a run");
                        tracing::warn!(run = %run_wire_id(ctx.run_id), "the run's end was not recorded");
                        Err(error_event(RunStatus::Failed, &error))
                    }
                }
            }
            None => {
                inner.write_behind.push_run(FinishedRun {
                    tenant: ctx.tenant,
                    id: ctx.run_id,
                    model: model.clone(),
                    message: std::mem::take(&mut ctx.message),
                    outcome: outcome.clone(),
                    created_at: ctx.created_at,
                    finished_at: chrono::Utc::now(),
                });
                event.map(|f| (f, None))
            }
        };
        inner.write_behind.add_usage(
            ctx.tenant,
            &model,
            outcome.input_tokens.max(0) as u64,
            outcome.output_tokens.max(0) as u64,
        );
        let event = match event {
            Ok((f, message_id)) => RunEventKind::Done {
                message_id: message_id
                    .map(|m| format!("msg_{}", m.simple()))
                    .unwrap_or_default(),
                content: f.content,
                finish_reason: f.finish_reason,
                input_tokens: f.input_tokens,
                output_tokens: f.output_tokens,
                latency_ms,
            },
            Err(error) => error,
        };
        inner.quota.count(ctx.tenant, tokens);
        active.emit(event);
        // Shared after the answer is out: the shared counter is for the next requests.
        inner.quota.share(ctx.tenant, tokens).await;
        // The request's own log line says how it went; this one is for debugging runs.
        tracing::debug!(run = %run_wire_id(ctx.run_id), status = outcome.status.as_str(), latency_ms, "run finished");
        // The finished run stays readable for late local subscribers for `linger`; the upkeep
        // loop drops it after that (one timer for all runs rather than a task per run).
        let _ = active.ended.set(Instant::now());
    }

    /// The turn itself: wait for the session's turn unless the start already took it (then the
    /// user's message is recorded and the history read in the same round trip), and converse
    /// while a timer keeps the run's lease and its turn (a model that is silent for a while must
    /// not lose them). Cancellation and the overall timeout are applied around this.
    async fn turn(
        &self,
        active: &Active,
        provider: &dyn crate::Provider,
        ctx: &mut RunCtx,
    ) -> Result<Finished, Stop> {
        let store = &self.inner.store;
        let config = &self.inner.config;
        let lease = lease(config);
        let (tenant, run, session) = (ctx.tenant, ctx.run_id, ctx.session);
        // While the run waits for its turn only its own lease is renewed.
        let holding = AtomicBool::new(ctx.holds_turn);
        let renew = async {
            loop {
                tokio::time::sleep(config.turn_lease / 3).await;
                let turn = session.filter(|_| holding.load(Ordering::SeqCst));
                match store.renew_run(tenant, run, turn, lease).await {
                    Ok(true) => {}
                    // Another run holds the session now: going on would interleave the history.
                    Ok(false) => {
                        return Stop::Failed(Error::new(
                            ErrorKind::Conflict,
                            "the run lost its session's turn",
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not renew a run's lease; retrying")
                    }
                }
            }
        };
        let work = async {
            if let Some(session) = session {
                let mut wait = Duration::from_millis(10);
                while !ctx.holds_turn {
                    let user = (!ctx.user_persisted)
                        .then(|| user_message(run, &ctx.message, ctx.metadata.clone()));
                    let history = config.history_messages;
                    match store
                        .take_turn(tenant, session, run, user, lease, history)
                        .await?
                    {
                        Some(said) => {
                            holding.store(true, Ordering::SeqCst);
                            ctx.holds_turn = true;
                            ctx.user_persisted = true;
                            ctx.history = Some(said);
                        }
                        None => {
                            tokio::time::sleep(wait).await;
                            wait = (wait * 2).min(Duration::from_millis(250));
                        }
                    }
                }
            }
            self.converse(active, provider, ctx).await
        };
        // Only a stateless run holds no lease: it is in no table yet.
        if session.is_none() {
            return work.await;
        }
        tokio::select! {
            result = work => result,
            lost = renew => Err(lost),
        }
    }

    /// The history (which now ends with the user's message) or the client's own conversation,
    /// then the model's streamed answer — again after each step whose tool calls the executor
    /// ran, with their results, until the model answers without them or `max_steps` is reached.
    /// Before each model call the tenant's tokens of the day are checked.
    async fn converse(
        &self,
        active: &Active,
        provider: &dyn crate::Provider,
        ctx: &mut RunCtx,
    ) -> Result<Finished, Stop> {
        ctx.chat.messages = match ctx.conversation.take() {
            Some(conversation) => conversation,
            None => {
                let history = ctx.history.take().unwrap_or_default();
                let mut messages: Vec<ChatMessage> =
                    history.iter().filter_map(history_message).collect();
                if let Some(scope) = ctx.recall {
                    let found = self
                        .inner
                        .memory
                        .recall(ctx.tenant, scope, &ctx.message)
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
            if let (Some(limit), true) = (ctx.tokens_per_day, steps > 1) {
                let spent = usage.input_tokens + usage.output_tokens;
                self.inner.quota.check(ctx.tenant, limit, spent)?;
            }
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
            let (run_now, over) = step
                .calls
                .split_at(step.calls.len().min(MAX_TOOL_CALLS_PER_STEP));
            let mut results =
                futures::future::join_all(run_now.iter().map(|c| execute(executor.as_ref(), c)))
                    .await;
            results.extend(over.iter().map(|_| over_the_cap()));
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
            // The step's reasoning goes back with it (Anthropic refuses the next call of a
            // thinking tool loop without it); it is never recorded with the reply.
            ctx.chat.messages.push(ChatMessage {
                tool_calls: step.calls,
                reasoning: step.reasoning,
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

/// The result of a call past [`MAX_TOOL_CALLS_PER_STEP`]: an error, as a failed call's, that
/// tells the model why and what to do.
fn over_the_cap() -> (Value, bool) {
    let message = format!(
        "not executed: at most {MAX_TOOL_CALLS_PER_STEP} tool calls run per answer; \
         ask for this one again in your next answer if you still need it"
    );
    (json!({ "error": message }), true)
}

fn event_code(event: &RunEventKind) -> &str {
    match event {
        RunEventKind::Error { code, .. } => code,
        _ => "internal_error",
    }
}

/// One model call's answer, its text and tool calls streamed out as events on the way (its
/// reasoning blocks are not: they are the provider's, for the next call).
struct Step {
    text: String,
    calls: Vec<ToolCall>,
    reasoning: Vec<Value>,
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
        reasoning: Vec::new(),
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
            StreamEvent::Reasoning(block) => step.reasoning.push(block),
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

fn history_message(m: &Said) -> Option<ChatMessage> {
    let role = match m.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" => Role::System,
        // Tool results need the assistant's matching call, which history does not carry yet.
        _ => return None,
    };
    Some(ChatMessage::new(role, m.content.clone()))
}

/// Records a stateful run's end, retrying while the database is briefly away (a restart kills
/// the statement mid-flight): the model's answer is worth a few seconds, and the run's lease
/// outlasts them. The end is idempotent (the first wins), so a retry cannot record it twice.
async fn end_run(
    store: &openclaw_store::Store,
    tenant: TenantId,
    session: uuid::Uuid,
    run: uuid::Uuid,
    reply: Option<NewMessage>,
    outcome: &RunOutcome,
) -> Result<(Option<uuid::Uuid>, bool), openclaw_store::StoreError> {
    let mut wait = Duration::from_millis(100);
    let mut tries = 1;
    loop {
        match store
            .end_run(tenant, session, run, reply.clone(), outcome, &[])
            .await
        {
            Err(e) if e.is_unavailable() && tries < END_RUN_TRIES => {
                tracing::debug!(error = %e, tries, "the run's end waits for the database");
                tokio::time::sleep(wait).await;
                wait *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}

/// 100 ms doubling: about 3 s in all, about what a Postgres fast restart takes.
const END_RUN_TRIES: u32 = 6;
