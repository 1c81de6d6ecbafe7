//! One connection's loop: its writer and outbox, the frame checks (size, rate, JSON), S2's `auth`
//! frame, what every request passes, pings, idle timeout and drain.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use openclaw_domain::{Error, ErrorKind};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::frames::{close, error_event, event, text};
use super::s4::METHODS;
use super::slots::Slot;
use super::upgrade::{rate_limit, Authed};
use super::{CLOSE_GOING_AWAY, CLOSE_POLICY, DRAIN_GRACE, OUTBOX};
use crate::auth::{Authenticated, Credential};
use crate::config::VERSION;
use crate::limits::Anonymous;
use crate::state::AppState;

/// What the read loop does after a frame.
pub(super) enum Flow {
    Continue,
    Close,
}

/// One connection: its identity, its outbox, its frame limiter and the chats it streams.
pub(super) struct Conn {
    pub(super) state: AppState,
    ip: IpAddr,
    pub(super) client_id: String,
    pub(super) out: mpsc::Sender<Message>,
    authed: Option<Authed>,
    /// Its place among the replica's unauthenticated sockets, until it authenticates.
    anonymous: Option<Anonymous>,
    frames: DefaultDirectRateLimiter,
    /// Chats streaming on this connection now.
    pub(super) chats: Arc<AtomicUsize>,
    /// The conversation S2's `message` frames continue (fixed by the first one).
    pub(super) s2_conversation: Option<String>,
    draining: bool,
}

impl Conn {
    pub(super) async fn serve(
        socket: WebSocket,
        state: AppState,
        ip: IpAddr,
        client_id: String,
        authed: Option<Authed>,
        anonymous: Option<Anonymous>,
    ) {
        metrics::gauge!("openclaw_ws_connections").increment(1.0);
        let (mut sink, mut stream) = socket.split();
        let (out, mut outbox) = mpsc::channel::<Message>(OUTBOX);
        let writer = tokio::spawn(async move {
            while let Some(m) = outbox.recv().await {
                let last = matches!(m, Message::Close(_));
                if sink.send(m).await.is_err() || last {
                    break;
                }
            }
        });
        let config = state.config().ws.clone();
        let per_second = NonZeroU32::new(config.messages_per_second.max(1)).expect("non-zero");
        let burst = NonZeroU32::new(config.message_burst.max(1)).expect("non-zero");
        let mut conn = Conn {
            state: state.clone(),
            ip,
            client_id,
            out,
            authed,
            anonymous,
            frames: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
            chats: Arc::new(AtomicUsize::new(0)),
            s2_conversation: None,
            draining: false,
        };
        conn.send(&event(
            "connected",
            &Value::Null,
            json!({
                "clientId": conn.client_id,
                "gatewayVersion": VERSION,
                "capabilities": ["chat", "sessions", "channels", "system"],
                "authenticated": conn.authed.is_some(),
            }),
        ))
        .await;

        let auth_deadline = tokio::time::Instant::now() + config.auth_timeout;
        let mut ping = tokio::time::interval(config.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut last_seen = Instant::now();
        let mut drain_deadline = None;
        let mut peer_gone = false;
        let closing = state.closing().clone();
        loop {
            tokio::select! {
                frame = stream.next() => {
                    let Some(Ok(frame)) = frame else {
                        peer_gone = true;
                        break;
                    };
                    last_seen = Instant::now();
                    if let Flow::Close = conn.on_frame(frame).await {
                        break;
                    }
                }
                _ = tokio::time::sleep_until(auth_deadline), if conn.authed.is_none() => {
                    let e = Error::unauthorized(format!(
                        "no `auth` frame within {} s: send {{\"type\":\"auth\",\"token\":\"…\"}} first",
                        config.auth_timeout.as_secs()
                    ));
                    conn.send(&error_event(&Value::Null, &e, None)).await;
                    conn.close(CLOSE_POLICY, "authentication required").await;
                    break;
                }
                _ = ping.tick() => {
                    if last_seen.elapsed() > config.idle_timeout {
                        conn.close(CLOSE_GOING_AWAY, "idle timeout").await;
                        break;
                    }
                    if let Some(deadline) = drain_deadline {
                        // Draining: the tick only watches for the last chat to end.
                        if conn.chats.load(Ordering::SeqCst) == 0 || Instant::now() > deadline {
                            conn.close(CLOSE_GOING_AWAY, "server shutting down").await;
                            break;
                        }
                        continue;
                    }
                    let _ = conn.out.try_send(Message::Ping(Default::default()));
                    if let Some(a) = &conn.authed {
                        a.slot.renew(a.auth.limits.ws_connections).await;
                        let beat = json!({"timestamp": chrono::Utc::now().timestamp_millis(), "status": "ok"});
                        let _ = conn.out.try_send(text(&event("heartbeat", &Value::Null, beat)));
                    }
                }
                _ = closing.cancelled(), if !conn.draining => {
                    // New requests are refused; chats in flight get a while to finish.
                    conn.draining = true;
                    drain_deadline = Some(Instant::now() + DRAIN_GRACE);
                    ping = tokio::time::interval(Duration::from_millis(100));
                    if conn.chats.load(Ordering::SeqCst) == 0 {
                        conn.close(CLOSE_GOING_AWAY, "server shutting down").await;
                        break;
                    }
                }
            }
        }
        // The slot goes with `conn`. Our own close frame is flushed before the writer ends; a
        // peer that is gone gets nothing more (its chats' runs go on without it).
        drop(conn);
        if peer_gone {
            writer.abort();
        }
        let _ = writer.await;
        metrics::gauge!("openclaw_ws_connections").decrement(1.0);
    }

    pub(super) async fn send(&self, frame: &Value) {
        let _ = self.out.send(text(frame)).await;
    }

    async fn close(&self, code: u16, reason: &'static str) {
        let _ = self.out.send(close(code, reason)).await;
    }

    pub(super) async fn error(&self, id: &Value, e: &Error) {
        self.send(&error_event(id, e, None)).await;
    }

    async fn on_frame(&mut self, frame: Message) -> Flow {
        let config = &self.state.config().ws;
        let max = config.max_message_bytes;
        if self.authed.is_none() {
            // Before `auth` nobody is known to pay for what the socket makes us read.
            let small = config.max_unauthenticated_message_bytes;
            let len = match &frame {
                Message::Text(t) => t.len(),
                Message::Binary(b) => b.len(),
                _ => 0,
            };
            if len > small {
                metrics::counter!("openclaw_ws_refused_total", "reason" => "size").increment(1);
                let e = Error::new(
                    ErrorKind::PayloadTooLarge,
                    format!("before `auth` a message may be at most {small} bytes"),
                )
                .with_details(json!({"max_bytes": small}));
                self.error(&Value::Null, &e).await;
                self.close(CLOSE_POLICY, "message too large before auth")
                    .await;
                return Flow::Close;
            }
        }
        let body = match frame {
            Message::Text(t) => t,
            Message::Binary(b) => {
                let e = Error::invalid(
                    "frame",
                    format!(
                        "binary frames are not read ({} bytes dropped): send JSON as text",
                        b.len()
                    ),
                );
                self.error(&Value::Null, &e).await;
                return Flow::Continue;
            }
            Message::Close(_) => return Flow::Close,
            // Pings are answered by the protocol layer; pongs only show the peer is there.
            Message::Ping(_) | Message::Pong(_) => return Flow::Continue,
        };
        if body.len() > max {
            metrics::counter!("openclaw_ws_refused_total", "reason" => "size").increment(1);
            let e = Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "a message may be at most {max} bytes; this one was {} and was dropped",
                    body.len()
                ),
            )
            .with_details(json!({"max_bytes": max}));
            self.error(&Value::Null, &e).await;
            return Flow::Continue;
        }
        if self.frames.check().is_err() {
            metrics::counter!("openclaw_ws_refused_total", "reason" => "frame_rate").increment(1);
            let config = &self.state.config().ws;
            let e = Error::new(
                ErrorKind::RateLimited,
                format!(
                    "too many frames: at most {} per second on one connection (bursts of {}); \
                     this one was dropped",
                    config.messages_per_second, config.message_burst
                ),
            );
            self.error(&Value::Null, &e).await;
            return Flow::Continue;
        }
        let frame: Value = match serde_json::from_str(body.as_str()) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                let e = Error::invalid("frame", "a frame must be a JSON object");
                self.error(&Value::Null, &e).await;
                return Flow::Continue;
            }
            Err(err) => {
                let e = Error::invalid("frame", format!("the frame is not valid JSON: {err}"));
                self.error(&Value::Null, &e).await;
                return Flow::Continue;
            }
        };
        let id = frame.get("id").cloned().unwrap_or(Value::Null);
        let kind = frame.get("type").and_then(Value::as_str);
        let method = frame.get("method").and_then(Value::as_str);
        if kind == Some("auth") {
            return self.on_auth(&id, &frame).await;
        }
        if self.authed.is_none() {
            let e = Error::unauthorized(
                "authenticate first: send {\"type\":\"auth\",\"token\":\"<API key or token>\"}",
            );
            self.error(&id, &e).await;
            return Flow::Continue;
        }
        match (kind, method) {
            (_, Some(method)) => {
                let params = frame.get("params").cloned().unwrap_or(Value::Null);
                self.on_request(&id, method, params).await
            }
            (Some("message"), None) => self.on_s2_message(&id, &frame).await,
            (Some("ping"), None) => {
                self.send(&event("pong", &id, json!({}))).await;
                Flow::Continue
            }
            _ => {
                let e = Error::invalid(
                    "method",
                    format!(
                        "a frame is a request {{\"method\", \"params\", \"id\"}} ({METHODS}) or \
                         {{\"type\": \"auth\" | \"message\" | \"ping\"}}"
                    ),
                );
                self.error(&id, &e).await;
                Flow::Continue
            }
        }
    }

    /// S2's first frame `{"type":"auth","token"}` → `auth_success`. A wrong token closes the
    /// socket (and counts against the address like any failed authentication).
    async fn on_auth(&mut self, id: &Value, frame: &Value) -> Flow {
        let token = frame
            .get("token")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        if token.is_empty() {
            let e = Error::invalid("token", "`token` (an API key or token) is required");
            self.error(id, &e).await;
            return Flow::Continue;
        }
        let state = self.state.clone();
        let credential = Credential::classify(token);
        let auth = match state.auth().authenticate(credential.clone(), self.ip).await {
            Ok(auth) => auth,
            Err(failure) => {
                metrics::counter!("openclaw_auth_failures_total", "reason" => failure.reason)
                    .increment(1);
                if failure.error.kind() == ErrorKind::Unauthorized {
                    state.auth().note_failure(self.ip);
                }
                self.error(id, &failure.error.0).await;
                self.close(CLOSE_POLICY, "authentication failed").await;
                return Flow::Close;
            }
        };
        if let Some(current) = &mut self.authed {
            if current.auth.tenant_id != auth.tenant_id {
                let e = Error::forbidden("this connection is authenticated for another tenant");
                self.error(id, &e).await;
                return Flow::Continue;
            }
            current.auth = auth;
            current.credential = credential;
        } else {
            if let Err(e) = rate_limit(&state, &auth).await {
                self.error(id, &e).await;
                return Flow::Continue;
            }
            let slot = match Slot::take(&state, &auth, &self.client_id).await {
                Ok(slot) => slot,
                Err(e) => {
                    self.error(id, &e).await;
                    self.close(CLOSE_POLICY, "too many connections").await;
                    return Flow::Close;
                }
            };
            self.authed = Some(Authed {
                auth,
                credential,
                slot,
            });
            self.anonymous = None;
        }
        let data = json!({"clientId": self.client_id});
        let mut ok = event("auth_success", id, data);
        ok["clientId"] = json!(self.client_id);
        self.send(&ok).await;
        Flow::Continue
    }

    /// What every request passes: the credential is still good (a revoked key or expired token
    /// closes the socket), the tenant's request rate, and the replica is not draining.
    pub(super) async fn admit(&mut self, id: &Value) -> Result<Authenticated, Flow> {
        let Some(current) = &mut self.authed else {
            return Err(Flow::Continue);
        };
        let state = self.state.clone();
        match state
            .auth()
            .authenticate(current.credential.clone(), self.ip)
            .await
        {
            Ok(auth) => current.auth = auth,
            Err(failure) => {
                self.error(id, &failure.error.0).await;
                self.close(CLOSE_POLICY, "credential no longer valid").await;
                return Err(Flow::Close);
            }
        }
        let auth = current.auth.clone();
        if self.draining {
            let e = Error::new(
                ErrorKind::Unavailable,
                "this server is shutting down: reconnect and try again",
            );
            self.error(id, &e).await;
            return Err(Flow::Continue);
        }
        if let Err(e) = rate_limit(&state, &auth).await {
            self.error(id, &e).await;
            return Err(Flow::Continue);
        }
        Ok(auth)
    }
}
