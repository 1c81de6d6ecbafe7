//! WebSocket (API.md §6): `GET /ws`, `/v1/ws`, `/api/v1/ws` and `/` (S4 dials the bare gateway
//! address). Authenticates by header, `?token=` / `?password=`, or S2's first `auth` frame;
//! speaks S4's requests and events and S2's message/response over ordinary runs; enforces the
//! message size, a per-connection frame rate, the tenant's connection cap (across replicas,
//! through Redis) and request rate, an idle timeout with pings, and closes gracefully on drain.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dashmap::DashMap;
use futures::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use openclaw_domain::{Error, ErrorKind, TenantId};
use openclaw_engine::run::run_wire_id;
use openclaw_engine::{RunEventKind, RunRequest, Started};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use crate::auth::{Authenticated, Credential, PermitSlot};
use crate::config::VERSION;
use crate::error::ApiError;
use crate::extract::{parse_json, ApiQuery};
use crate::middleware::auth::{blocked, blocked_error, client_ip_of, refuse};
use crate::middleware::rate_limit::{rate_exceeded, too_many_concurrent};
use crate::routes::messages::{agent_start, AgentRunBody};
use crate::routes::runs::{abort_run, finish};
use crate::routes::sessions::{self, Dialect};
use crate::routes::status;
use crate::state::AppState;

/// The paths that accept a WebSocket upgrade (and so `?token=` in the query).
pub fn is_ws_path(path: &str) -> bool {
    matches!(path, "/" | "/ws" | "/v1/ws" | "/api/v1/ws")
}

/// Frames queued for one connection's writer: a slow reader holds up its chats' forwarding
/// (their runs go on and stay readable elsewhere), never the server's memory.
const OUTBOX: usize = 256;
/// Bytes read from a socket at a time.
const READ_BUFFER_BYTES: usize = 8 * 1024;
/// How long a draining replica lets a connection's chats finish before it closes.
const DRAIN_GRACE: Duration = Duration::from_secs(20);
/// The S4 methods, for the error that names an unknown one.
const METHODS: &str = "chat.run, chat.abort, session.list, session.get, channel.list, \
                       channel.status, system.status";
/// The channels a tenant reaches this platform through today (external channels are not yet
/// available).
const CHANNELS: [(&str, &str); 2] = [("api", "HTTP API"), ("websocket", "WebSocket")];

// Close codes (RFC 6455 §7.4.1).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;

/// This replica's WebSocket connections per tenant: the cap while Redis is absent or down.
#[derive(Default)]
pub struct Hub {
    local: DashMap<TenantId, u32>,
}

impl Hub {
    /// Counts a connection of `tenant` here if it has fewer than `cap` (`cap`: `None` counts
    /// it whatever the number, the shared count having admitted it).
    fn admit(&self, tenant: TenantId, cap: Option<u32>) -> bool {
        let mut n = self.local.entry(tenant).or_insert(0);
        if cap.is_some_and(|cap| *n >= cap) {
            return false;
        }
        *n += 1;
        true
    }

    fn leave(&self, tenant: TenantId) {
        if let Some(mut n) = self.local.get_mut(&tenant) {
            *n = n.saturating_sub(1);
        }
        self.local.remove_if(&tenant, |_, n| *n == 0);
    }
}

/// A connection's place among its tenant's (at most `limits.ws_connections` across replicas):
/// given back when dropped.
struct Slot {
    state: AppState,
    tenant: TenantId,
    conn: String,
    shared: bool,
}

impl Slot {
    /// How long a slot lives unless renewed: a replica that dies frees its slots this late.
    fn ttl(state: &AppState) -> Duration {
        state.config().ws.ping_interval * 3
    }

    async fn take(state: &AppState, auth: &Authenticated, conn: &str) -> Result<Slot, Error> {
        let cap = auth.limits.ws_connections;
        let refused = || {
            metrics::counter!("openclaw_ws_refused_total", "reason" => "connections").increment(1);
            Error::new(
                ErrorKind::RateLimited,
                format!(
                    "Too many WebSocket connections: this tenant may hold {cap} at once. Close one \
                     and try again."
                ),
            )
            .with_details(json!({"ws_connections": cap}))
        };
        let tenant = auth.tenant_id.to_string();
        let shared = match state.redis() {
            Some(redis) => redis
                .ws_slot(&tenant, conn, cap, Self::ttl(state))
                .await
                .ok(),
            None => None,
        };
        match shared {
            Some(false) => return Err(refused()),
            Some(true) => {
                state.ws().admit(auth.tenant_id, None);
            }
            // Redis absent or down: this replica's count is the cap.
            None => {
                if !state.ws().admit(auth.tenant_id, Some(cap)) {
                    return Err(refused());
                }
            }
        }
        Ok(Slot {
            state: state.clone(),
            tenant: auth.tenant_id,
            conn: conn.to_string(),
            shared: shared.is_some(),
        })
    }

    /// Keeps the shared slot alive (and takes one if Redis lost it).
    async fn renew(&self, cap: u32) {
        if let Some(redis) = self.state.redis() {
            let tenant = self.tenant.to_string();
            let _ = redis
                .ws_slot(&tenant, &self.conn, cap, Self::ttl(&self.state))
                .await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.state.ws().leave(self.tenant);
        if let (true, Some(redis)) = (self.shared, self.state.redis().cloned()) {
            let (tenant, conn) = (self.tenant.to_string(), self.conn.clone());
            self.state.tracker().spawn(async move {
                let _ = redis.ws_release(&tenant, &conn).await;
            });
        }
    }
}

/// An authenticated connection's identity: re-checked on every request, so a revoked key or an
/// expired token stops working on open sockets too.
struct Authed {
    auth: Authenticated,
    credential: Credential,
    slot: Slot,
}

/// The credential of an upgrade request: headers first, then `?token=` or `?password=`.
fn upgrade_credential(
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Option<Credential>, crate::auth::AuthFailure> {
    if let Some(c) = Credential::from_headers(headers)? {
        return Ok(Some(c));
    }
    let query = uri.query().unwrap_or_default();
    Ok(form_urlencoded::parse(query.as_bytes())
        .find(|(name, value)| {
            (name.eq_ignore_ascii_case("token") || name.eq_ignore_ascii_case("password"))
                && !value.trim().is_empty()
        })
        .map(|(_, value)| Credential::classify(value.trim())))
}

/// `GET /ws` (and its aliases): authenticates what the upgrade carries, checks the tenant's
/// request rate and connection cap, and upgrades. Without credentials the socket is upgraded
/// and has `auth_timeout` to send S2's `auth` frame.
pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        // `/` is a WebSocket address only; anything else there is an unknown route.
        Err(_) if uri.path() == "/" => {
            return ApiError::new(ErrorKind::NotFound, "no such route").into_response()
        }
        Err(rejection) => {
            return ApiError::invalid(
                "upgrade",
                format!(
                    "this endpoint speaks WebSocket: connect with a WebSocket client ({rejection})"
                ),
            )
            .into_response()
        }
    };
    let ip = client_ip_of(&state, &headers, Some(peer));
    if state.auth().is_blocked(ip) {
        return blocked();
    }
    let credential = match upgrade_credential(&headers, &uri) {
        Ok(c) => c,
        Err(failure) => return refuse(&state, ip, failure),
    };
    let client_id = Uuid::now_v7().to_string();
    let authed = match credential {
        None => None,
        Some(credential) => {
            let auth = match state.auth().authenticate(credential.clone()).await {
                Ok(auth) => auth,
                Err(failure) => return refuse(&state, ip, failure),
            };
            if let Err(e) = rate_limit(&state, &auth).await {
                // As on any HTTP 429 (API.md §4.3): when to try again.
                let wait = e.details["retry_after"].as_u64().unwrap_or(1);
                let mut resp = ApiError(e).into_response();
                resp.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(wait),
                );
                return resp;
            }
            match Slot::take(&state, &auth, &client_id).await {
                Ok(slot) => Some(Authed {
                    auth,
                    credential,
                    slot,
                }),
                Err(e) => return ApiError(e).into_response(),
            }
        }
    };
    let limits = &state.config().ws;
    let hard_max = limits.hard_max_message_bytes;
    let tracker = state.tracker().clone();
    ws.max_message_size(hard_max)
        .max_frame_size(hard_max)
        // tungstenite reads into a 128 KiB buffer by default, allocated per connection: most of
        // an idle socket's cost. Frames here are small; larger ones take more reads.
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| {
            tracker.track_future(Conn::serve(socket, state, ip, client_id, authed))
        })
}

/// The tenant's request rate, which WebSocket requests count against like HTTP ones.
async fn rate_limit(state: &AppState, auth: &Authenticated) -> Result<(), Error> {
    let decision = state.limiter().check(auth.tenant_id, &auth.limits).await;
    if decision.allowed {
        return Ok(());
    }
    metrics::counter!("openclaw_rate_limited_total", "tier" => auth.tier.as_str(), "kind" => "rate")
        .increment(1);
    Err(rate_exceeded(&decision))
}

/// `{"type": kind, "id": id, "data": data}`; `id` only when the request had one.
fn event(kind: &str, id: &Value, data: Value) -> Value {
    let mut e = json!({"type": kind, "data": data});
    if !id.is_null() {
        e["id"] = id.clone();
    }
    e
}

/// An error event: S4's `data: {code, message}` (with `param`, `details` and the run's id when
/// there are), plus `code` and `message` at the top, where S2's client reads them.
fn error_event(id: &Value, e: &Error, run_id: Option<&str>) -> Value {
    let (_, code, _) = e.kind.parts();
    let mut data = json!({"code": code, "message": e.message});
    if let Some(param) = &e.param {
        data["param"] = json!(param);
    }
    if !e.details.is_null() && e.details != json!({}) {
        data["details"] = e.details.clone();
    }
    if let Some(run) = run_id {
        data["runId"] = json!(run);
    }
    let mut frame = event("error", id, data);
    frame["code"] = json!(code);
    frame["message"] = json!(e.message);
    frame
}

fn text(v: &Value) -> Message {
    Message::Text(Utf8Bytes::from(v.to_string()))
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// What the read loop does after a frame.
enum Flow {
    Continue,
    Close,
}

/// One connection: its identity, its outbox, its frame limiter and the chats it streams.
struct Conn {
    state: AppState,
    ip: IpAddr,
    client_id: String,
    out: mpsc::Sender<Message>,
    authed: Option<Authed>,
    frames: DefaultDirectRateLimiter,
    /// Chats streaming on this connection now.
    chats: Arc<AtomicUsize>,
    /// The conversation S2's `message` frames continue (fixed by the first one).
    s2_conversation: Option<String>,
    draining: bool,
}

impl Conn {
    async fn serve(
        socket: WebSocket,
        state: AppState,
        ip: IpAddr,
        client_id: String,
        authed: Option<Authed>,
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

    async fn send(&self, frame: &Value) {
        let _ = self.out.send(text(frame)).await;
    }

    async fn close(&self, code: u16, reason: &'static str) {
        let _ = self.out.send(close(code, reason)).await;
    }

    async fn error(&self, id: &Value, e: &Error) {
        self.send(&error_event(id, e, None)).await;
    }

    async fn on_frame(&mut self, frame: Message) -> Flow {
        let max = self.state.config().ws.max_message_bytes;
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
        if state.auth().is_blocked(self.ip) {
            self.error(id, &blocked_error()).await;
            self.close(CLOSE_POLICY, "too many failed authentications")
                .await;
            return Flow::Close;
        }
        let credential = Credential::classify(token);
        let auth = match state.auth().authenticate(credential.clone()).await {
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
        }
        let data = json!({"clientId": self.client_id});
        let mut ok = event("auth_success", id, data);
        ok["clientId"] = json!(self.client_id);
        self.send(&ok).await;
        Flow::Continue
    }

    /// What every request passes: the credential is still good (a revoked key or expired token
    /// closes the socket), the tenant's request rate, and the replica is not draining.
    async fn admit(&mut self, id: &Value) -> Result<Authenticated, Flow> {
        let Some(current) = &mut self.authed else {
            return Err(Flow::Continue);
        };
        let state = self.state.clone();
        match state.auth().authenticate(current.credential.clone()).await {
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

    /// S4's requests `{"method", "params", "id"}`: the answer is an event named after the method
    /// (`chat.run` streams `chat.started`, `chat.delta`…, `chat.done`), errors an `error` event.
    async fn on_request(&mut self, id: &Value, method: &str, params: Value) -> Flow {
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
                    .map(|(_, body)| json!({"runId": body["id"], "status": body["status"]})),
                Err(e) => Err(e),
            },
            "session.list" => match parse_params(&params) {
                Ok(query) => sessions::list(
                    State(state),
                    Extension(Dialect::Hosted),
                    auth,
                    ApiQuery(query),
                )
                .await
                .map(|Json(v)| v),
                Err(e) => Err(e),
            },
            "session.get" => match string_param(&params, &["sessionKey", "session_key"]) {
                Ok(key) => sessions::get(State(state), Extension(Dialect::Hosted), auth, Path(key))
                    .await
                    .map(|Json(v)| v),
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
    async fn chat_permit(&self, id: &Value, auth: &Authenticated) -> Option<ChatPermit> {
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

    /// S2's `{"type":"message","channel","content"}` → `{"type":"response","content"}` when the
    /// run ends. The connection's messages continue one conversation (`conversation_id` picks
    /// another).
    async fn on_s2_message(&mut self, id: &Value, frame: &Value) -> Flow {
        let auth = match self.admit(id).await {
            Ok(auth) => auth,
            Err(flow) => return flow,
        };
        metrics::counter!("openclaw_ws_requests_total", "method" => "message").increment(1);
        let Some(content) = frame
            .get("content")
            .or_else(|| frame.get("message"))
            .and_then(Value::as_str)
        else {
            let e = Error::invalid("content", "`content` (a string) is required");
            self.error(id, &e).await;
            return Flow::Continue;
        };
        let channel = match frame.get("channel") {
            None | Some(Value::Null) => "websocket".to_string(),
            Some(Value::String(c)) if !c.trim().is_empty() && c.len() <= 64 => c.clone(),
            Some(_) => {
                let e = Error::invalid("channel", "`channel` must be a name of 1 to 64 characters");
                self.error(id, &e).await;
                return Flow::Continue;
            }
        };
        let conversation = match frame.get("conversation_id").and_then(Value::as_str) {
            Some(c) => c.to_string(),
            None => self
                .s2_conversation
                .get_or_insert_with(|| format!("ws-{}", self.client_id))
                .clone(),
        };
        let Some(permit) = self.chat_permit(id, &auth).await else {
            return Flow::Continue;
        };
        let req = RunRequest {
            message: content.to_string(),
            channel: Some(channel),
            session_key: Some(conversation),
            ..Default::default()
        };
        let started = match crate::routes::runs::start(
            &self.state,
            &permit.caller(&auth),
            req,
            "conversation_id",
        )
        .await
        {
            Ok(s) => s,
            Err(ApiError(e)) => {
                self.error(id, &e).await;
                return Flow::Continue;
            }
        };
        let out = self.out.clone();
        let id = id.clone();
        self.state.tracker().spawn(async move {
            let _permit = permit;
            let run_id = run_wire_id(started.run_id);
            let frame = match finish(started, None).await {
                Ok(d) => {
                    let mut f = event(
                        "response",
                        &id,
                        json!({"content": d.content, "conversation_id": d.session_key, "runId": run_id}),
                    );
                    f["content"] = json!(d.content);
                    f["conversation_id"] = json!(d.session_key);
                    f["skills_used"] = json!(d.tools_used);
                    f["tokens"] = json!({"input": d.input_tokens, "output": d.output_tokens,
                                         "total": d.input_tokens + d.output_tokens});
                    f
                }
                Err(ApiError(e)) => error_event(&id, &e, Some(&run_id)),
            };
            let _ = out.send(text(&frame)).await;
        });
        Flow::Continue
    }
}

/// Held while a chat streams: one of the connection's chats and one of the tenant's
/// concurrent requests.
struct ChatPermit {
    chats: Arc<AtomicUsize>,
    tenant: Arc<OwnedSemaphorePermit>,
}

impl ChatPermit {
    /// The caller as the chat's run sees it: the run holds the tenant's permit too, until it
    /// ends (it may outlive the stream on this socket).
    fn caller(&self, auth: &Authenticated) -> Authenticated {
        Authenticated {
            permit: PermitSlot::holding(self.tenant.clone()),
            ..auth.clone()
        }
    }
}

impl Drop for ChatPermit {
    fn drop(&mut self) {
        self.chats.fetch_sub(1, Ordering::SeqCst);
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
        let frame = match e.kind {
            RunEventKind::Start { .. } => continue,
            RunEventKind::Delta { text: delta } => {
                if !deltas {
                    continue;
                }
                event(
                    "chat.delta",
                    &id,
                    json!({"sessionKey": session_key, "delta": delta, "runId": run_id}),
                )
            }
            RunEventKind::ToolCall {
                id: call,
                name,
                arguments,
            } => event(
                "tool.call",
                &id,
                json!({"runId": run_id, "tool": name, "params": arguments, "callId": call}),
            ),
            RunEventKind::ToolResult {
                id: call,
                name,
                output,
                is_error,
            } => event(
                "tool.result",
                &id,
                json!({"runId": run_id, "tool": name, "result": output, "isError": is_error, "callId": call}),
            ),
            RunEventKind::Done {
                content,
                finish_reason,
                input_tokens,
                output_tokens,
                ..
            } => event(
                "chat.done",
                &id,
                json!({
                    "sessionKey": session_key,
                    "runId": run_id,
                    "content": content,
                    "finishReason": finish_reason,
                    "usage": {
                        "promptTokens": input_tokens,
                        "completionTokens": output_tokens,
                        "totalTokens": input_tokens + output_tokens,
                    },
                }),
            ),
            RunEventKind::Error {
                code,
                message,
                kind,
                ..
            } => {
                let mut frame = error_event(&id, &Error::new(kind, message), Some(&run_id));
                // The run's own code (`cancelled`, `upstream_error`…) says what happened.
                frame["code"] = json!(code);
                frame["data"]["code"] = json!(code);
                frame
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_s4_data_and_s2_top_level_fields() {
        let e = Error::invalid("message", "`message` is required");
        let frame = error_event(&json!(7), &e, Some("run_1"));
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["id"], 7);
        assert_eq!(frame["data"]["code"], "invalid_request");
        assert_eq!(frame["data"]["param"], "message");
        assert_eq!(frame["data"]["runId"], "run_1");
        assert_eq!(frame["message"], "`message` is required");
        assert!(event("x", &Value::Null, json!({})).get("id").is_none());
    }

    #[test]
    fn the_hub_caps_local_connections_and_forgets_empty_tenants() {
        let hub = Hub::default();
        let t = TenantId::new();
        assert!(hub.admit(t, Some(2)));
        assert!(hub.admit(t, Some(2)));
        assert!(!hub.admit(t, Some(2)));
        assert!(hub.admit(t, None), "admitted by the shared count");
        assert_eq!(hub.local.get(&t).map(|n| *n), Some(3));
        for _ in 0..3 {
            hub.leave(t);
        }
        assert!(hub.local.is_empty());
    }

    #[test]
    fn ws_paths() {
        for p in ["/", "/ws", "/v1/ws", "/api/v1/ws"] {
            assert!(is_ws_path(p), "{p}");
        }
        assert!(!is_ws_path("/v1/message"));
    }
}
