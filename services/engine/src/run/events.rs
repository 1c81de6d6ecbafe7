//! A run's events: what happened, in order (`RunEvent`), the local fan-out of a run executing
//! here (an append-only log every subscriber reads at its own pace) and the forwarder that
//! copies them to the run's Redis stream for other replicas; and `Outcome`, the one reader of a
//! run's end that every dialect uses.

use std::sync::{Arc, Mutex};

use openclaw_domain::{Error, ErrorKind, RunStatus, TenantId};
use openclaw_store::redis::Redis;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

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
    /// The run failed or was aborted (`code: "cancelled"`).
    Error {
        code: String,
        message: String,
        /// On the wire as its HTTP status (`status`), which names one kind.
        #[serde(rename = "status", with = "as_status")]
        kind: ErrorKind,
        /// Worth trying again later (the provider was unavailable, overloaded or slow), as
        /// opposed to a refusal that would recur. Workers retry such jobs.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retryable: bool,
        /// The error's details (a spent quota's reset…), so readers rebuild the same error.
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        details: serde_json::Value,
    },
}

/// An error kind as the HTTP status it stands for (a bijection: see `ErrorKind::parts`).
mod as_status {
    use openclaw_domain::ErrorKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &ErrorKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(kind.parts().0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ErrorKind, D::Error> {
        Ok(ErrorKind::from_status(u16::deserialize(d)?))
    }
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

/// A run executing (or recently finished) on this replica.
pub(crate) struct Active {
    pub(crate) run_id: Uuid,
    pub(crate) tenant: TenantId,
    pub(crate) cancel: CancellationToken,
    /// Every event so far, indexed by `seq - 1`: late subscribers replay from here, so none can
    /// lag behind and lose events the way a broadcast channel's slow receiver would.
    pub(crate) log: Mutex<Vec<RunEvent>>,
    pub(crate) latest: watch::Sender<u64>,
    /// Text streamed so far, kept if the run is cut short.
    pub(crate) text: Mutex<String>,
    /// The run's wire id, naming its Redis stream.
    pub(crate) wire_id: Arc<str>,
    pub(crate) to_redis: Option<mpsc::UnboundedSender<Stored>>,
    /// When the run ended (its terminal event was emitted).
    pub(crate) ended: std::sync::OnceLock<std::time::Instant>,
}

impl Active {
    pub(crate) fn emit(&self, kind: RunEventKind) {
        let mut log = self.log.lock().expect("run log");
        let seq = log.len() as u64 + 1;
        let event = RunEvent { seq, kind };
        if let Some(tx) = &self.to_redis {
            let payload = serde_json::to_string(&event).expect("events serialise");
            let _ = tx.send(Stored {
                run: self.wire_id.clone(),
                seq,
                payload,
            });
        }
        log.push(event);
        drop(log);
        self.latest.send_replace(seq);
    }
}

/// Events of a local run from some point on, ending after the terminal event.
pub struct Subscription {
    pub(crate) active: Arc<Active>,
    pub(crate) next: u64,
    pub(crate) changes: watch::Receiver<u64>,
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

/// An event's sequence number and its JSON, as its Redis stream holds it.
type Numbered = (u64, String);

/// An event on its way to its run's Redis stream.
pub(crate) struct Stored {
    pub(crate) run: Arc<str>,
    pub(crate) seq: u64,
    pub(crate) payload: String,
}

/// Writes every run's events to their Redis streams in order, batching whatever has queued up
/// across runs into one pipelined round trip: one task for the replica, not one per run, so a
/// busy replica pays a round trip per batch rather than per run or per delta. Ends when the
/// runs (the senders) are gone.
pub(crate) async fn forward_to_redis(
    redis: Arc<Redis>,
    mut rx: mpsc::UnboundedReceiver<Stored>,
    max_len: usize,
    ttl: std::time::Duration,
) {
    let mut batch: Vec<Stored> = Vec::new();
    while rx.recv_many(&mut batch, 1024).await > 0 {
        // Grouped by run, keeping each run's order (a stream only takes increasing ids).
        let mut runs: Vec<(Arc<str>, Vec<Numbered>)> = Vec::new();
        for e in batch.drain(..) {
            match runs.iter_mut().find(|(run, _)| *run == e.run) {
                Some((_, events)) => events.push((e.seq, e.payload)),
                None => runs.push((e.run, vec![(e.seq, e.payload)])),
            }
        }
        let refs: Vec<(&str, &[Numbered])> = runs
            .iter()
            .map(|(run, events)| (&**run, events.as_slice()))
            .collect();
        if redis.append_runs_events(&refs, max_len, ttl).await.is_err() {
            tracing::debug!("run events not written to Redis; local subscribers still have them");
        }
    }
}

/// A finished run's events rebuilt from its record, for when no stream is left to replay.
pub fn from_record(run: &openclaw_store::RunRecord) -> Vec<RunEvent> {
    let mut events = vec![RunEvent {
        seq: 1,
        kind: RunEventKind::Start {
            session_key: run.session_key.clone().unwrap_or_default(),
            model: run.model.clone(),
        },
    }];
    let text = run.response.clone().unwrap_or_default();
    if !text.is_empty() {
        events.push(RunEvent {
            seq: 2,
            kind: RunEventKind::Delta { text: text.clone() },
        });
    }
    let seq = events.len() as u64 + 1;
    let end = match run.status {
        RunStatus::Completed => RunEventKind::Done {
            message_id: run
                .response_message_id
                .map(|m| format!("msg_{}", m.simple()))
                .unwrap_or_default(),
            content: text,
            finish_reason: run.finish_reason.clone().unwrap_or_else(|| "stop".into()),
            input_tokens: run.input_tokens.unwrap_or(0) as u64,
            output_tokens: run.output_tokens.unwrap_or(0) as u64,
            latency_ms: run.latency_ms.unwrap_or(0) as u64,
        },
        _ => RunEventKind::from_stored(
            run.error.as_ref().unwrap_or(&serde_json::Value::Null),
            "the run failed",
        ),
    };
    events.push(RunEvent { seq, kind: end });
    events
}

/// How a run ended, read from its events by every dialect alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub message_id: String,
    pub content: String,
    pub finish_reason: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
    /// Names of the tools the run executed, each once, in first-use order.
    pub tools_used: Vec<String>,
    /// The tool calls the model made that the run did not execute (they end its turn and go
    /// back to the caller): `(id, name, arguments)`.
    pub calls: Vec<(String, String, serde_json::Value)>,
}

impl RunEventKind {
    /// The terminal event of a run that failed with `error`, or was aborted (`cancelled`).
    pub fn failure(error: &Error, cancelled: bool, retryable: bool) -> RunEventKind {
        RunEventKind::Error {
            code: if cancelled {
                "cancelled"
            } else {
                error.kind.parts().1
            }
            .into(),
            message: error.message.clone(),
            kind: error.kind,
            retryable,
            details: error.details.clone(),
        }
    }

    /// The terminal event rebuilt from a stored `{code, message}` (a run's or job's record).
    pub fn from_stored(error: &serde_json::Value, fallback: &str) -> RunEventKind {
        let code = error["code"].as_str().unwrap_or("internal_error");
        let kind = match code {
            // As a run's own stream reports an abort.
            "cancelled" => ErrorKind::Conflict,
            code => ErrorKind::from_code(code).unwrap_or(ErrorKind::Internal),
        };
        RunEventKind::Error {
            code: code.into(),
            message: error["message"].as_str().unwrap_or(fallback).into(),
            kind,
            retryable: false,
            details: serde_json::Value::Null,
        }
    }

    /// The error a failed or aborted run's terminal event stands for (an aborted run's carries
    /// `details.reason: "cancelled"`).
    pub fn error(&self) -> Option<Error> {
        match self {
            RunEventKind::Error {
                code,
                message,
                kind,
                details,
                ..
            } => {
                let mut e = Error::new(*kind, message.clone());
                if code == "cancelled" {
                    e = e.with_details(json!({"reason": "cancelled"}));
                } else if !details.is_null() {
                    e = e.with_details(details.clone());
                }
                Some(e)
            }
            _ => None,
        }
    }
}

impl Subscription {
    /// The session the run talks in (its `Start` event's; empty for a stateless completion).
    pub fn session_key(&self) -> String {
        let log = self.active.log.lock().expect("run log");
        match log.first().map(|e| &e.kind) {
            Some(RunEventKind::Start { session_key, .. }) => session_key.clone(),
            _ => String::new(),
        }
    }

    pub fn run_id(&self) -> Uuid {
        self.active.run_id
    }

    /// Reads the run to its end: what it answered, or the error it ended with.
    pub async fn outcome(self) -> Result<Done, Error> {
        self.outcome_with(|_| {}).await
    }

    /// `outcome`, showing `seen` each event on the way (a job reports progress by them).
    pub async fn outcome_with(mut self, mut seen: impl FnMut(&RunEvent)) -> Result<Done, Error> {
        let (mut tools_used, mut calls) = (Vec::<String>::new(), Vec::new());
        while let Some(event) = self.next().await {
            seen(&event);
            match event.kind {
                RunEventKind::ToolResult { id, name, .. } => {
                    // Executed: its call went to the run's own executor, not back to the caller.
                    calls.retain(|(call, _, _)| *call != id);
                    if !tools_used.contains(&name) {
                        tools_used.push(name);
                    }
                }
                RunEventKind::ToolCall {
                    id,
                    name,
                    arguments,
                } => calls.push((id, name, arguments)),
                RunEventKind::Done {
                    message_id,
                    content,
                    finish_reason,
                    input_tokens,
                    output_tokens,
                    latency_ms,
                } => {
                    return Ok(Done {
                        message_id,
                        content,
                        finish_reason,
                        input_tokens,
                        output_tokens,
                        latency_ms,
                        tools_used,
                        calls,
                    });
                }
                other @ RunEventKind::Error { .. } => {
                    return Err(other.error().expect("an error event"));
                }
                RunEventKind::Start { .. } | RunEventKind::Delta { .. } => {}
            }
        }
        Err(Error::internal())
    }
}
