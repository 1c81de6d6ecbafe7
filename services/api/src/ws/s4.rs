//! S4's requests `{"method", "params", "id"}` and their events: chats streamed as runs, sessions,
//! channels and status.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::Message;
use openclaw_domain::{Error, ErrorKind};
use openclaw_engine::run::run_wire_id;
use openclaw_engine::{RunEventKind, Started};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::conn::{Conn, Flow};
use super::frames::{error_event, event, text};
use super::slots::ChatPermit;
use crate::auth::Authenticated;
use crate::dialect::s4 as s4_view;
use crate::dialect::s4::AgentRunBody;
use crate::error::ApiError;
use crate::extract::parse_json;
use crate::middleware::rate_limit::too_many_concurrent;
use crate::routes::messages::agent_start;
use crate::routes::runs::abort_run;
use crate::routes::sessions;
use crate::routes::status;

/// The S4 methods, for the error that names an unknown one.
pub(super) const METHODS: &str = "chat.run, chat.abort, session.list, session.get, channel.list, \
                       channel.status, system.status";
/// The channels a tenant reaches this platform through today (external channels are not yet
/// available).
const CHANNELS: [(&str, &str); 2] = [("api", "HTTP API"), ("websocket", "WebSocket")];

impl Conn {
    /// S4's requests `{"method", "params", "id"}`: the answer is an event named after the method
    /// (`chat.run` streams `chat.started`, `chat.delta`…, `chat.done`), errors an `error` event.
    pub(super) async fn on_request(&mut self, id: &Value, method: &str, params: Value) -> Flow {
        let auth = match self.admit(id).await {
            Ok(auth) => auth,
            Err(flow) => return flow,
        };
        metrics::counter!("openclaw_ws_requests_total", "method" => known_method(method))
            .increment(1);
        if !(params.is_null() || params.is_object()) {
            let e = Error::invalid("params", "`params` must be an object");
            self.error(id, &e).await;
            return Flow::Continue;
        }
        let state = self.state.clone();
        let answer: Result<Value, ApiError> = match method {
            "chat.run" => {
                self.chat_run(id, auth, params).await;
                return Flow::Continue;
            }
            "chat.abort" => match string_param(&params, &["runId", "run_id"]) {
                Ok(run) => abort_run(&state, &auth, &run)
                    .await
                    .map(|(_, run)| json!({"runId": run.id, "status": run.status})),
                Err(e) => Err(e),
            },
            "session.list" => match parse_params(&params) {
                Ok(query) => sessions::list_sessions(&state, &auth, query, 50, 200)
                    .await
                    .map(|page| json!(page.view(s4_view::Session::of))),
                Err(e) => Err(e),
            },
            "session.get" => match string_param(&params, &["sessionKey", "session_key"]) {
                Ok(key) => sessions::get_session(&state, &auth, &key)
                    .await
                    .map(|s| json!(s4_view::Session::with_context(&s))),
                Err(e) => Err(e),
            },
            "channel.list" => Ok(json!({
                "channels": CHANNELS.iter().map(|(id, name)| channel_view(id, name)).collect::<Vec<_>>()
            })),
            "channel.status" => match string_param(&params, &["channelId", "channel_id"]) {
                Ok(wanted) => CHANNELS
                    .iter()
                    .find(|(id, _)| *id == wanted)
                    .map(|(id, name)| channel_view(id, name))
                    .ok_or_else(|| {
                        ApiError(Error::not_found("channel").with_details(json!({
                            "channels": CHANNELS.iter().map(|(id, _)| *id).collect::<Vec<_>>()
                        })))
                    }),
                Err(e) => Err(e),
            },
            "system.status" => Ok(status::s2_status(&state, &auth).await),
            other => Err(ApiError::invalid(
                "method",
                format!("unknown method `{other}`; the methods are {METHODS}"),
            )),
        };
        match answer {
            Ok(data) => self.send(&event(method, id, data)).await,
            Err(ApiError(e)) => self.error(id, &e).await,
        }
        Flow::Continue
    }

    /// A permit for one more chat on this connection and for the tenant (its concurrent
    /// requests, as an HTTP stream holds one).
    pub(super) async fn chat_permit(&self, id: &Value, auth: &Authenticated) -> Option<ChatPermit> {
        let max = self.state.config().ws.max_runs_per_connection;
        if self.chats.load(Ordering::SeqCst) >= max {
            let e = Error::new(
                ErrorKind::RateLimited,
                format!("at most {max} chats may stream on one connection at once"),
            );
            self.error(id, &e).await;
            return None;
        }
        let Some(permit) = self
            .state
            .limiter()
            .try_acquire(auth.tenant_id, auth.limits.concurrent_requests)
        else {
            metrics::counter!("openclaw_rate_limited_total", "tier" => auth.tier.as_str(), "kind" => "concurrency")
                .increment(1);
            let e = too_many_concurrent(auth.limits.concurrent_requests);
            self.error(id, &e).await;
            return None;
        };
        self.chats.fetch_add(1, Ordering::SeqCst);
        Some(ChatPermit {
            chats: self.chats.clone(),
            tenant: Arc::new(permit),
        })
    }

    /// `chat.run`: starts an ordinary run (persisted, readable over REST and SSE, abortable from
    /// any replica) and streams it on this connection alongside any others.
    async fn chat_run(&mut self, id: &Value, auth: Authenticated, params: Value) {
        if !params.get("message").is_some_and(Value::is_string) {
            let e = Error::invalid("message", "`message` (a string) is required");
            self.error(id, &e).await;
            return;
        }
        let body: AgentRunBody = match parse_params(&params) {
            Ok(b) => b,
            Err(ApiError(e)) => return self.error(id, &e).await,
        };
        let Some(permit) = self.chat_permit(id, &auth).await else {
            return;
        };
        let (started, stream) =
            match agent_start(&self.state, &permit.caller(&auth), body, Some("websocket")).await {
                Ok(s) => s,
                Err(ApiError(e)) => return self.error(id, &e).await,
            };
        let run_id = run_wire_id(started.run_id);
        self.send(&event(
            "chat.started",
            id,
            json!({"runId": run_id, "sessionKey": started.session_key, "model": started.model}),
        ))
        .await;
        let out = self.out.clone();
        let id = id.clone();
        self.state.tracker().spawn(async move {
            let _permit = permit;
            forward_chat(started, run_id, id, stream.unwrap_or(true), out).await;
        });
    }
}

/// Streams one run's events as S4's: `chat.delta`, `tool.call`, `tool.result`, then `chat.done`
/// or `error`. Stops early if the connection goes away; the run itself goes on.
async fn forward_chat(
    started: Started,
    run_id: String,
    id: Value,
    deltas: bool,
    out: mpsc::Sender<Message>,
) {
    let Started {
        session_key,
        mut events,
        ..
    } = started;
    while let Some(e) = events.next().await {
        let frame = match &e.kind {
            RunEventKind::Delta { .. } if !deltas => continue,
            // Error frames keep the WebSocket's own error shape, with the run's code (`cancelled`,
            // `upstream_error`…), which says what happened.
            RunEventKind::Error {
                code,
                message,
                kind,
                ..
            } => {
                let mut frame =
                    error_event(&id, &Error::new(*kind, message.clone()), Some(&run_id));
                frame["code"] = json!(code);
                frame["data"]["code"] = json!(code);
                frame
            }
            kind => match s4_view::event(kind, &run_id, &session_key) {
                Some(view) => event(view.ws_type(), &id, json!(view)),
                None => continue,
            },
        };
        if out.send(text(&frame)).await.is_err() {
            return;
        }
    }
}

/// A method name as a metric label: the known ones, else `other` (labels stay bounded).
fn known_method(method: &str) -> &'static str {
    match method {
        "chat.run" => "chat.run",
        "chat.abort" => "chat.abort",
        "session.list" => "session.list",
        "session.get" => "session.get",
        "channel.list" => "channel.list",
        "channel.status" => "channel.status",
        "system.status" => "system.status",
        _ => "other",
    }
}

fn channel_view(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "type": "builtin", "status": "connected"})
}

/// A request's parameters as `T` (unknown fields refused, naming the field).
fn parse_params<T: serde::de::DeserializeOwned>(params: &Value) -> Result<T, ApiError> {
    let params = if params.is_null() { &json!({}) } else { params };
    parse_json(params.to_string().as_bytes())
}

/// The string parameter under the first of `names` present (S4's camelCase, or snake_case).
fn string_param(params: &Value, names: &[&str]) -> Result<String, ApiError> {
    match names.iter().find_map(|n| params.get(*n)) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(ApiError::invalid(
            names[0],
            format!("`{}` (a string) is required", names[0]),
        )),
    }
}
