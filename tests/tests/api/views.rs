//! Snapshots of every dialect's views (S0…S4 and OpenAI) for one fixed run: the same prompt,
//! answered by mock-llm (`mock: <prompt>`, one chunk per word, word counts as tokens). Each
//! answer — sync reply, SSE stream, WebSocket frames, the conversation read back, status, skill
//! lists, errors — is an insta snapshot in `snapshots/`, so any change of shape is a diff there.
//! What varies between runs (generated ids, timestamps, latencies, uptime, the server's version)
//! is redacted in place: the field stays, its value says what it was (`run_[id]`,
//! `[timestamp]`, `[integer]`).
//!
//! `docs/api.md` shows these shapes from the snapshot files, between
//! `<!-- shapes:begin NAME -->` and `<!-- shapes:end NAME -->` (NAME is the snapshot's name);
//! `docs_show_the_snapshots` fails when a region has drifted from its file.
//!
//! Refresh after a deliberate change of shape — one command, from the workspace root (it finds or
//! starts Postgres and Redis as `deploy/dev/services.sh` does):
//!
//! ```sh
//! docs/gen-shapes.sh
//! ```
//!
//! It rewrites every snapshot (`INSTA_UPDATE=always cargo nextest run -p openclaw-tests --test
//! api` on the view tests), then the regions of docs/api.md (`OPENCLAW_WRITE_SHAPES=1` on
//! `docs_show_the_snapshots`); `docs/gen-shapes.sh --docs-only` does only the second step.
//! Review `git diff tests/tests/api/snapshots docs/api.md` before committing.

use std::path::PathBuf;

use insta::internals::Content;
use openclaw_domain::Tier;
use openclaw_mock_llm::{MockLlm, Script, ToolCall};
use openclaw_tests::sse::read_all;
use openclaw_tests::ws::WsClient;
use openclaw_tests::{mock_providers, spawn_with, AppOptions, TestApp, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

/// The fixed prompt every dialect sends.
const PROMPT: &str = "Hello there";

/// The memory S0's and S2's views add and find (S0's example).
const MEMORY: &str = "OpenClaw 配置文件位于 ~/.openclaw/config.yaml";

/// Fields whose generated values (`run_0192…`, `chatcmpl-…`, UUIDs) are redacted to `run_[id]`;
/// the values a client chose (`views-s4`) stay.
const ID_FIELDS: &[&str] = &[
    "id",
    "runId",
    "run_id",
    "messageId",
    "message_id",
    "memoryId",
    "sessionId",
    "session_id",
    "sessionKey",
    "session_key",
    "conversation_id",
    "clientId",
    "callId",
    "parent_id",
    "request_id",
    "poll_url",
    "children",
];

/// Fields holding a time: an RFC 3339 string becomes `[timestamp]`, a Unix time `[unix time]`.
const TIME_FIELDS: &[&str] = &[
    "created_at",
    "createdAt",
    "updated_at",
    "updatedAt",
    "timestamp",
    "installed_at",
    "last_used",
    "last_message_at",
    "lastMessageAt",
    "expires_at",
    "expiresAt",
    "started_at",
    "completed_at",
    "oldest_entry",
    "last_compaction",
    "reset_at",
    "created",
];

/// Measured numbers: their value becomes `[integer]` or `[float]`, so the type stays visible.
const MEASURED_FIELDS: &[&str] = &[
    "latency_ms",
    "avg_latency_ms",
    "executionTime",
    "execution_time",
    "uptime",
    "uptime_seconds",
    "port",
];

/// Fields that carry the server's version, which moves with every release.
const VERSION_FIELDS: &[&str] = &["version", "gatewayVersion"];

/// `s` with every generated id in it (32 hex digits, or a hyphenated UUID) replaced by `[id]`.
fn redact_ids_in(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let is_token = |b: u8| b.is_ascii_hexdigit() || b == b'-';
        if is_token(bytes[i]) && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let end = (i..bytes.len())
                .find(|&j| !is_token(bytes[j]))
                .unwrap_or(bytes.len());
            let run = &s[i..end];
            // A run may start with the separator (`chatcmpl-0192…`): keep it.
            let lead = run.len() - run.trim_start_matches('-').len();
            let body = &run[lead..];
            let hex_only = body.len() == 32 && body.bytes().all(|b| b.is_ascii_hexdigit());
            let uuid = body.len() == 36
                && body.bytes().filter(|&b| b == b'-').count() == 4
                && uuid::Uuid::parse_str(body).is_ok();
            if (hex_only || uuid) && (end == bytes.len() || !bytes[end].is_ascii_alphanumeric()) {
                out.push_str(&run[..lead]);
                out.push_str("[id]");
                i = end;
                continue;
            }
            out.push_str(run);
            i = end;
            continue;
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn redact_ids(value: Content) -> Content {
    match value.resolve_inner() {
        Content::String(s) => Content::String(redact_ids_in(s)),
        Content::Seq(items) => Content::Seq(items.iter().cloned().map(redact_ids).collect()),
        _ => value,
    }
}

fn redact_time(value: Content) -> Content {
    let inner = value.resolve_inner();
    if let Some(s) = inner.as_str() {
        if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
            return Content::from("[timestamp]");
        }
    } else if inner.as_i64().is_some() || inner.as_u64().is_some() {
        return Content::from("[unix time]");
    }
    value
}

fn redact_measured(value: Content) -> Content {
    match value.resolve_inner() {
        Content::U8(_)
        | Content::U16(_)
        | Content::U32(_)
        | Content::U64(_)
        | Content::I8(_)
        | Content::I16(_)
        | Content::I32(_)
        | Content::I64(_) => Content::from("[integer]"),
        Content::F32(_) | Content::F64(_) => Content::from("[float]"),
        _ => value,
    }
}

fn redact_version(value: Content) -> Content {
    if value.resolve_inner().as_str() == Some(env!("CARGO_PKG_VERSION")) {
        return Content::from("[server version]");
    }
    value
}

/// Asserts `value` as the named snapshot, with the redactions above; `description` (the request
/// and its status) goes into the snapshot's header and into docs/api.md.
fn snapshot(name: &str, description: &str, value: &Value) {
    let mut settings = insta::Settings::clone_current();
    settings.set_description(redact_ids_in(description));
    settings.set_omit_expression(true);
    settings.set_snapshot_path("snapshots");
    for field in ID_FIELDS {
        settings.add_redaction(
            &format!(".**.{field}"),
            insta::dynamic_redaction(|v, _| redact_ids(v)),
        );
    }
    for field in TIME_FIELDS {
        settings.add_redaction(
            &format!(".**.{field}"),
            insta::dynamic_redaction(|v, _| redact_time(v)),
        );
    }
    for field in MEASURED_FIELDS {
        settings.add_redaction(
            &format!(".**.{field}"),
            insta::dynamic_redaction(|v, _| redact_measured(v)),
        );
    }
    for field in VERSION_FIELDS {
        settings.add_redaction(
            &format!(".**.{field}"),
            insta::dynamic_redaction(|v, _| redact_version(v)),
        );
    }
    settings.bind(|| insta::assert_json_snapshot!(name, value));
}

/// One dialect's client: the app, a tenant of its own (so its lists, status and tokens hold
/// only what this dialect did) and the upstream.
struct Client {
    app: TestApp,
    tenant: TestTenant,
    mock: MockLlm,
}

/// A request as the snapshot's description shows it: `POST /path {body}`.
fn describe(method: &Method, path: &str, body: Option<&Value>) -> String {
    match body {
        Some(b) => format!("{method} {path} {b}"),
        None => format!("{method} {path}"),
    }
}

impl Client {
    async fn new() -> Client {
        let mock = MockLlm::start().await;
        let app = spawn_with(AppOptions {
            providers: Some(mock_providers(&mock)),
            ..Default::default()
        })
        .await;
        let tenant = app.create_tenant(Tier::Pro).await;
        Client { app, tenant, mock }
    }

    /// Makes the upstream's next reply a call of `calculator` (installed first); the reply
    /// after the tool's result is the default echo.
    async fn next_reply_calls_a_tool(&self) {
        let resp = self
            .app
            .post_json(
                "/v1/skills/install",
                &self.tenant.key,
                &json!({"name": "calculator"}),
            )
            .await;
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        self.mock.push(Script {
            tool_calls: vec![ToolCall {
                id: "call_1".into(),
                name: "calculator".into(),
                arguments: json!({"expression": "2 * (3 + 4)"}),
            }],
            ..Default::default()
        });
    }

    async fn send(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        sse: bool,
        auth: bool,
    ) -> reqwest::Response {
        let mut req = self.app.request(method.clone(), path);
        if auth {
            req = req.bearer_auth(&self.tenant.key);
        }
        if sse {
            req = req.header("accept", "text/event-stream");
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("the app answers")
    }

    /// Sends the request, checks its status and snapshots the JSON body; returns the body.
    async fn view(
        &self,
        name: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        self.view_as(name, method, path, body, status, true).await
    }

    async fn view_as(
        &self,
        name: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: u16,
        auth: bool,
    ) -> Value {
        let resp = self.send(&method, path, body.as_ref(), false, auth).await;
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(got, status, "{name}: {text}");
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let mut description = describe(&method, path, body.as_ref());
        if !auth {
            description.push_str(" (no credentials)");
        }
        snapshot(name, &format!("{description} → {status}"), &value);
        value
    }

    /// Sends the request as an SSE stream and snapshots its events, each as
    /// `{id, event, data}` (`data` parsed when it is JSON, else the text, like `[DONE]`).
    async fn sse_view(&self, name: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let resp = self.send(&method, path, body.as_ref(), true, true).await;
        assert_eq!(resp.status(), 200, "{name}");
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/event-stream"), "{name}");
        let events: Vec<Value> = read_all(resp)
            .await
            .into_iter()
            .map(|e| {
                let data = serde_json::from_str(&e.data).unwrap_or(Value::String(e.data));
                json!({"id": e.id, "event": e.event, "data": data})
            })
            .collect();
        let events = Value::Array(events);
        let description = describe(&method, path, body.as_ref());
        snapshot(
            name,
            &format!("{description} (Accept: text/event-stream) → 200"),
            &events,
        );
        events
    }
}

/// A WebSocket conversation as a list of `{"client": frame}` / `{"server": event}`, in order.
struct Transcript {
    frames: Vec<Value>,
}

impl Transcript {
    fn new() -> Self {
        Transcript { frames: Vec::new() }
    }

    async fn send(&mut self, ws: &mut WsClient, frame: Value) {
        ws.send(&frame).await;
        self.frames.push(json!({ "client": frame }));
    }

    /// Sends `frame`, recording `shown` in its place (for credentials).
    async fn send_as(&mut self, ws: &mut WsClient, frame: Value, shown: Value) {
        ws.send(&frame).await;
        self.frames.push(json!({ "client": shown }));
    }

    async fn recv(&mut self, ws: &mut WsClient) -> Value {
        let event = ws.next_event().await;
        self.frames.push(json!({ "server": event.clone() }));
        event
    }

    /// Receives events until one of `kind` (for request `id`, when given).
    async fn recv_until(&mut self, ws: &mut WsClient, kind: &str, id: Option<u64>) -> Value {
        loop {
            let event = self.recv(ws).await;
            if event["type"] == kind && id.is_none_or(|id| event["id"] == id) {
                return event;
            }
        }
    }

    fn snapshot(self, name: &str, description: &str) {
        snapshot(name, description, &Value::Array(self.frames));
    }
}

/// Writes the runs' usage now and waits until the tenant's status counts `runs` of them (a
/// queued run's usage may arrive after its poll says `completed`), so status is the same on
/// every run of the test.
async fn flushed(c: &Client, runs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        c.app.flush_write_behind().await;
        let status = c.app.get_json("/v1/status", &c.tenant.key).await;
        let counted = status["reasoning"]["total_requests"].as_u64();
        if counted == Some(runs) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status never counted {runs} runs: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn s0_views() {
    let c = Client::new().await;
    c.view(
        "s0_message",
        Method::POST,
        "/api/v1/message",
        Some(json!({"text": PROMPT, "session": "views-s0"})),
        200,
    )
    .await;
    c.sse_view(
        "s0_message_stream",
        Method::POST,
        "/api/v1/message/stream",
        Some(json!({"text": PROMPT, "session": "views-s0", "stream": true})),
    )
    .await;
    c.view(
        "s0_session_create",
        Method::POST,
        "/api/v1/sessions",
        Some(json!({"label": "views", "model": "openai/mock-1"})),
        201,
    )
    .await;
    c.view("s0_sessions", Method::GET, "/api/v1/sessions", None, 200)
        .await;
    c.view(
        "s0_memory_add",
        Method::POST,
        "/api/v1/memory",
        Some(
            json!({"content": MEMORY, "tags": ["配置"], "type": "long-term",
                    "source": "MEMORY.md"}),
        ),
        201,
    )
    .await;
    c.view(
        "s0_memory_search",
        Method::GET,
        "/api/v1/memory/search?query=配置&limit=5&minScore=0.7",
        None,
        200,
    )
    .await;
    c.view("s0_skills", Method::GET, "/api/v1/skills", None, 200)
        .await;
    c.view(
        "s0_skill_execute",
        Method::POST,
        "/api/v1/skills/calculator/execute",
        Some(json!({"args": ["sqrt(16) + 1"], "session": "views-s0"})),
        200,
    )
    .await;
    flushed(&c, 2).await;
    // S0's envelope with S2's sections beside it: the same route serves both seeds.
    c.view("api_v1_status", Method::GET, "/api/v1/status", None, 200)
        .await;
    c.view(
        "s0_session_delete",
        Method::DELETE,
        "/api/v1/sessions/views-s0",
        None,
        200,
    )
    .await;
}

#[tokio::test]
async fn s1_views() {
    let c = Client::new().await;
    let session = c
        .view(
            "s1_session_create",
            Method::POST,
            "/v1/sessions",
            Some(json!({"agent_id": "qwencode", "context": {"lang": "zh"}, "ttl": 3600})),
            201,
        )
        .await;
    let sid = session["session_id"].as_str().unwrap();
    c.view(
        "s1_session_message",
        Method::POST,
        &format!("/v1/sessions/{sid}/messages"),
        Some(json!({"content": PROMPT, "type": "text"})),
        200,
    )
    .await;
    let task = c
        .view(
            "s1_task_create",
            Method::POST,
            "/v1/tasks",
            Some(json!({"name": PROMPT, "type": "agent",
                        "parameters": {"message": PROMPT}})),
            201,
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let done = c
        .view(
            "s1_task",
            Method::GET,
            &format!("/v1/tasks/{id}?wait=30"),
            None,
            200,
        )
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    c.view("s1_tools", Method::GET, "/v1/tools", None, 200)
        .await;
    c.view(
        "s1_tool_execute",
        Method::POST,
        "/v1/tools/calculator/execute",
        Some(json!({"parameters": {"expression": "2 * (3 + 4) ^ 2"}})),
        200,
    )
    .await;
}

#[tokio::test]
async fn s2_views() {
    let c = Client::new().await;
    c.view(
        "s2_message",
        Method::POST,
        "/api/v1/message",
        Some(
            json!({"channel": "api", "message": PROMPT, "conversation_id": "views-s2",
                    "metadata": {"user_id": "user_001", "user_name": "사용자"}}),
        ),
        200,
    )
    .await;
    c.sse_view(
        "s2_message_stream",
        Method::POST,
        "/api/v1/message",
        Some(json!({"channel": "api", "message": PROMPT, "conversation_id": "views-s2"})),
    )
    .await;
    c.next_reply_calls_a_tool().await;
    c.sse_view(
        "s2_message_stream_skill",
        Method::POST,
        "/api/v1/message",
        Some(json!({"channel": "api", "message": PROMPT, "conversation_id": "views-s2-skill"})),
    )
    .await;
    let queued = c
        .view(
            "s2_message_async",
            Method::POST,
            "/api/v1/message",
            Some(
                json!({"channel": "api", "message": PROMPT, "conversation_id": "views-s2-async",
                        "wait_for_response": false}),
            ),
            202,
        )
        .await;
    let poll = queued["poll_url"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while c.app.get_json(&poll, &c.tenant.key).await["status"] != "completed" {
        assert!(std::time::Instant::now() < deadline, "never completed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    c.view("s2_message_status", Method::GET, &poll, None, 200)
        .await;
    c.view(
        "s2_conversations",
        Method::GET,
        "/api/v1/conversations",
        None,
        200,
    )
    .await;
    c.view(
        "s2_conversation",
        Method::GET,
        "/api/v1/conversations/views-s2",
        None,
        200,
    )
    .await;

    // S2's WebSocket: first-frame auth, then a message frame.
    let mut ws = c
        .app
        .ws_connect("/ws", None)
        .await
        .unwrap_or_else(|e| panic!("upgrade refused: {e:?}"));
    let mut t = Transcript::new();
    t.recv_until(&mut ws, "connected", None).await;
    // The transcript shows a placeholder for the key it sends.
    t.send_as(
        &mut ws,
        json!({"type": "auth", "token": c.tenant.key}),
        json!({"type": "auth", "token": "[api key]"}),
    )
    .await;
    t.recv_until(&mut ws, "auth_success", None).await;
    t.send(
        &mut ws,
        json!({"type": "message", "channel": "api", "content": PROMPT}),
    )
    .await;
    t.recv_until(&mut ws, "response", None).await;
    t.snapshot(
        "s2_ws_message",
        "WebSocket /ws: S2's first-frame auth, then a message frame",
    );

    c.view("s2_skills", Method::GET, "/v1/skills", None, 200)
        .await;
    // S2's example: remove `weather`, then install it again (the catalogue's version).
    c.view(
        "s2_skill_uninstall",
        Method::DELETE,
        "/api/v1/skills/weather",
        None,
        200,
    )
    .await;
    c.view(
        "s2_skill_install",
        Method::POST,
        "/api/v1/skills/install",
        Some(json!({"name": "weather"})),
        201,
    )
    .await;
    c.view(
        "s2_memory_add",
        Method::POST,
        "/v1/memory",
        Some(json!({"content": MEMORY, "tags": ["配置"]})),
        201,
    )
    .await;
    c.view(
        "s2_memory_search",
        Method::POST,
        "/api/v1/memory/search",
        Some(json!({"query": "配置", "limit": 10, "type": "all"})),
        200,
    )
    .await;
    c.view(
        "s2_memory_stats",
        Method::GET,
        "/api/v1/memory/stats",
        None,
        200,
    )
    .await;
    // The sync, streamed, skill, queued and WebSocket messages.
    flushed(&c, 5).await;
    c.view("v1_status", Method::GET, "/v1/status", None, 200)
        .await;
    c.view_as("health", Method::GET, "/api/v1/health", None, 200, false)
        .await;
}

#[tokio::test]
async fn s3_views() {
    let c = Client::new().await;
    c.view(
        "s3_chat",
        Method::POST,
        "/api/v1/chat",
        Some(json!({"session_id": "views-s3", "message": PROMPT,
                    "context": {"temperature": 0.7}})),
        200,
    )
    .await;
    c.sse_view(
        "s3_chat_stream",
        Method::POST,
        "/api/v1/chat",
        Some(json!({"session_id": "views-s3", "message": PROMPT, "stream": true})),
    )
    .await;
    c.view(
        "s3_session",
        Method::GET,
        "/api/v1/sessions/views-s3",
        None,
        200,
    )
    .await;
    let agent = c
        .view(
            "s3_agent_spawn",
            Method::POST,
            "/api/v1/agents/spawn",
            Some(json!({"task": PROMPT, "timeout": 300, "skills": ["web_fetch"]})),
            201,
        )
        .await;
    let id = agent["id"].as_str().unwrap();
    let done = c
        .view(
            "s3_agent",
            Method::GET,
            &format!("/api/v1/agents/{id}?wait=30"),
            None,
            200,
        )
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    c.sse_view(
        "s3_agent_events",
        Method::GET,
        &format!("/api/v1/agents/{id}/events"),
        None,
    )
    .await;
}

#[tokio::test]
async fn s4_views() {
    let c = Client::new().await;
    let run = c
        .view(
            "s4_agent_run",
            Method::POST,
            "/v1/agent/run",
            Some(
                json!({"message": PROMPT, "sessionKey": "views-s4", "agentId": "default",
                        "options": {"thinking": "medium"}}),
            ),
            200,
        )
        .await;
    c.sse_view(
        "s4_agent_run_stream",
        Method::POST,
        "/v1/agent/run/stream",
        Some(json!({"message": PROMPT, "sessionKey": "views-s4", "stream": true})),
    )
    .await;
    let run_id = run["runId"].as_str().unwrap();
    c.sse_view(
        "run_events",
        Method::GET,
        &format!("/v1/runs/{run_id}/events"),
        None,
    )
    .await;
    c.view("s4_sessions", Method::GET, "/v1/sessions", None, 200)
        .await;
    c.view(
        "s4_session",
        Method::GET,
        "/v1/sessions/views-s4",
        None,
        200,
    )
    .await;

    // S4's WebSocket: a header credential, a streamed chat, reads, and a bad request.
    let mut ws = c
        .app
        .ws_connect("/ws", Some(&c.tenant.key))
        .await
        .unwrap_or_else(|e| panic!("upgrade refused: {e:?}"));
    let mut t = Transcript::new();
    t.recv_until(&mut ws, "connected", None).await;
    c.next_reply_calls_a_tool().await;
    t.send(
        &mut ws,
        json!({"method": "chat.run", "id": 1,
               "params": {"message": PROMPT, "sessionKey": "views-s4-ws",
                          "options": {"thinking": "medium", "stream": true}}}),
    )
    .await;
    t.recv_until(&mut ws, "chat.done", Some(1)).await;
    t.send(
        &mut ws,
        json!({"method": "session.get", "id": 2, "params": {"sessionKey": "views-s4-ws"}}),
    )
    .await;
    t.recv_until(&mut ws, "session.get", Some(2)).await;
    t.send(
        &mut ws,
        json!({"method": "channel.list", "id": 3, "params": {}}),
    )
    .await;
    t.recv_until(&mut ws, "channel.list", Some(3)).await;
    t.send(
        &mut ws,
        json!({"method": "browser.screenshot", "id": 4, "params": {}}),
    )
    .await;
    t.recv_until(&mut ws, "error", Some(4)).await;
    t.snapshot(
        "s4_ws_chat",
        "WebSocket /ws (Authorization: Bearer): chat.run (the model calls a tool), session.get, \
         channel.list, an unknown method",
    );
    c.view("s4_status", Method::GET, "/status", None, 200).await;
}

#[tokio::test]
async fn openai_views() {
    let c = Client::new().await;
    c.view(
        "openai_completion",
        Method::POST,
        "/v1/chat/completions",
        Some(json!({"model": "openai/mock-1",
                    "messages": [{"role": "user", "content": PROMPT}]})),
        200,
    )
    .await;
    c.sse_view(
        "openai_completion_stream",
        Method::POST,
        "/v1/chat/completions",
        Some(json!({"model": "openai/mock-1", "stream": true,
                    "stream_options": {"include_usage": true},
                    "messages": [{"role": "user", "content": PROMPT}]})),
    )
    .await;
    c.view("openai_models", Method::GET, "/v1/models", None, 200)
        .await;
}

#[tokio::test]
async fn error_views() {
    let c = Client::new().await;
    // Under /v1 (S1, S4, OpenAI): nested.
    c.view_as("v1_error_401", Method::GET, "/v1/status", None, 401, false)
        .await;
    c.view(
        "v1_error_400",
        Method::POST,
        "/v1/agent/run",
        Some(json!({"message": PROMPT, "sessionKey": "views", "colour": "red"})),
        400,
    )
    .await;
    // Under /api/v1 (S0, S2, S3): flat.
    c.view_as(
        "api_v1_error_401",
        Method::GET,
        "/api/v1/status",
        None,
        401,
        false,
    )
    .await;
    c.view(
        "api_v1_error_400",
        Method::POST,
        "/api/v1/message",
        Some(json!({"text": PROMPT, "session": "views", "colour": "red"})),
        400,
    )
    .await;
}

// --- docs/api.md regions ---------------------------------------------------------------------

const BEGIN: &str = "<!-- shapes:begin ";
const END: &str = "<!-- shapes:end ";
/// Regions longer than this are folded into a `<details>` block.
const FOLD_AFTER_LINES: usize = 40;

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/snapshots")
}

fn docs_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md")
}

/// The snapshot files of this module, by snapshot name.
fn snapshot_files() -> std::collections::BTreeMap<String, PathBuf> {
    let prefix = "api__views__";
    std::fs::read_dir(snapshot_dir())
        .expect("the snapshot folder")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let file = path.file_name()?.to_str()?;
            let name = file.strip_prefix(prefix)?.strip_suffix(".snap")?;
            Some((name.to_string(), path))
        })
        .collect()
}

/// What the docs show for a snapshot file: the request, and the JSON as the file holds it.
fn render(name: &str, snap: &str) -> String {
    let rest = snap
        .strip_prefix("---\n")
        .unwrap_or_else(|| panic!("{name}: no snapshot header"));
    let (header, body) = rest
        .split_once("\n---\n")
        .unwrap_or_else(|| panic!("{name}: unterminated snapshot header"));
    let description = header
        .lines()
        .find_map(|l| l.strip_prefix("description: "))
        .map(|d| {
            if d.starts_with('"') {
                serde_json::from_str::<String>(d).expect("a quoted description")
            } else {
                d.to_string()
            }
        })
        .unwrap_or_default();
    let (request, status) = match description.rsplit_once(" → ") {
        Some((request, status)) => (request, Some(status)),
        None => (description.as_str(), None),
    };
    // A note after the request (`(no credentials)`) stays outside its code span.
    let (request, note) = match request.rsplit_once(" (") {
        Some((r, n)) if request.ends_with(')') => (r, format!(" ({n}")),
        _ => (request, String::new()),
    };
    let file = format!("../tests/tests/api/snapshots/api__views__{name}.snap");
    let json = format!("```json\n{}\n```\n", body.trim_end());
    // Long answers (catalogues, transcripts) fold away; a summary is HTML, not Markdown.
    if body.lines().count() > FOLD_AFTER_LINES {
        let escaped = request
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let status = status.map(|s| format!(" → {s}")).unwrap_or_default();
        format!(
            "<details><summary><code>{escaped}</code>{note}{status} \
             <sub>(<a href=\"{file}\">snapshot</a>)</sub></summary>\n\n{json}\n</details>\n"
        )
    } else {
        let status = status.map(|s| format!(" → {s}")).unwrap_or_default();
        format!("`{request}`{note}{status} <sub>([snapshot]({file}))</sub>\n\n{json}")
    }
}

/// `doc` with every region rewritten from the snapshot files; the names it shows.
fn regenerate(
    doc: &str,
    files: &std::collections::BTreeMap<String, PathBuf>,
) -> (String, Vec<String>) {
    let mut out = String::with_capacity(doc.len());
    let mut shown = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let close = after.find("-->").expect("a closed begin marker");
        let name = after[..close].trim().to_string();
        let begin_line_end = start + BEGIN.len() + close + 3;
        out.push_str(&rest[..begin_line_end]);
        out.push('\n');
        let end_marker = format!("{END}{name} -->");
        let end = rest[begin_line_end..]
            .find(&end_marker)
            .unwrap_or_else(|| panic!("docs/api.md: `{name}` has no end marker"))
            + begin_line_end;
        let path = files.get(&name).unwrap_or_else(|| {
            panic!("docs/api.md shows `{name}`, which no snapshot in tests/tests/api/snapshots is")
        });
        let snap = std::fs::read_to_string(path).unwrap().replace("\r\n", "\n");
        out.push_str(&render(&name, &snap));
        out.push_str(&end_marker);
        rest = &rest[end + end_marker.len()..];
        shown.push(name);
    }
    out.push_str(rest);
    (out, shown)
}

/// docs/api.md's regions are the snapshot files; every snapshot is shown somewhere. With
/// `OPENCLAW_WRITE_SHAPES=1` the regions are rewritten instead (`docs/gen-shapes.sh`).
#[test]
fn docs_show_the_snapshots() {
    let files = snapshot_files();
    assert!(!files.is_empty(), "no snapshots in {:?}", snapshot_dir());
    let doc = std::fs::read_to_string(docs_path()).expect("docs/api.md");
    let (fresh, shown) = regenerate(&doc, &files);
    if std::env::var_os("OPENCLAW_WRITE_SHAPES").is_some_and(|v| v == "1") {
        if fresh != doc {
            std::fs::write(docs_path(), &fresh).unwrap();
        }
    } else {
        let drifted: Vec<&String> = shown
            .iter()
            .filter(|name| {
                let region = |d: &str| {
                    let b = d.find(&format!("{BEGIN}{name} -->")).unwrap();
                    let e = d[b..].find(&format!("{END}{name} -->")).unwrap() + b;
                    d[b..e].to_string()
                };
                region(&doc) != region(&fresh)
            })
            .collect();
        assert!(
            drifted.is_empty() && fresh == doc,
            "docs/api.md's shapes differ from their snapshots: {drifted:?}; run docs/gen-shapes.sh"
        );
    }
    let missing: Vec<&String> = files.keys().filter(|n| !shown.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "snapshots docs/api.md does not show (add `{BEGIN}NAME -->` … `{END}NAME -->`): {missing:?}"
    );
}

#[test]
fn ids_are_redacted_and_chosen_names_kept() {
    let id = "0192f3a4b5c67d8e9f0a1b2c3d4e5f60";
    assert_eq!(redact_ids_in(&format!("run_{id}")), "run_[id]");
    assert_eq!(redact_ids_in(&format!("chatcmpl-{id}")), "chatcmpl-[id]");
    assert_eq!(
        redact_ids_in(&format!("/api/v1/message/run_{id}/status")),
        "/api/v1/message/run_[id]/status"
    );
    assert_eq!(
        redact_ids_in("ws-0192f3a4-b5c6-7d8e-9f0a-1b2c3d4e5f60"),
        "ws-[id]"
    );
    for kept in ["views-s4", "default", "deadbeef", "session-123"] {
        assert_eq!(redact_ids_in(kept), kept);
    }
}
