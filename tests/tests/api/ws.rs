//! WebSocket (API.md §6) with a real client: every way to authenticate and how each fails,
//! S4's chat with ordered deltas, usage and tool events, S2's message/response, runs that are
//! ordinary runs (visible over REST and SSE, aborted from another replica), bad frames that do
//! not kill the connection, the per-tenant connection cap, the request and frame rates, the
//! idle timeout, and a graceful close on shutdown.

use std::time::Duration;

use openclaw_domain::Tier;
use openclaw_mock_llm::{MockLlm, Script, ToolCall};
use openclaw_tests::sse::read_all;
use openclaw_tests::ws::{Ended, WsClient};
use openclaw_tests::{mock_providers, spawn_with, AppOptions, TestApp};
use serde_json::{json, Value};

async fn app_with_ws(
    mock: &MockLlm,
    ws: impl FnOnce(&mut openclaw_api::config::WsConfig) + Send + 'static,
) -> TestApp {
    spawn_with(AppOptions {
        providers: Some(mock_providers(mock)),
        configure: Box::new(move |c| ws(&mut c.ws)),
        ..Default::default()
    })
    .await
}

async fn app(mock: &MockLlm) -> TestApp {
    app_with_ws(mock, |_| {}).await
}

fn says(text: &str) -> Script {
    Script {
        text: Some(text.into()),
        ..Default::default()
    }
}

/// A reply that streams slowly enough to be aborted mid-way.
fn slow(text: &str) -> Script {
    Script {
        text: Some(text.into()),
        token_delay_ms: 100,
        ..Default::default()
    }
}

async fn status_works(ws: &mut WsClient, id: u64) {
    let status = ws.request("system.status", json!({}), id).await;
    assert_eq!(status["type"], "system.status", "{status}");
    assert_eq!(status["data"]["status"], "running", "{status}");
}

async fn jwt(app: &TestApp, key: &str, body: Value) -> String {
    let token: Value = app
        .post_json("/v1/auth/tokens", key, &body)
        .await
        .json()
        .await
        .unwrap();
    token["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_auth_path_connects_and_each_failure_is_refused() {
    let mock = MockLlm::start().await;
    let app = app_with_ws(&mock, |ws| ws.auth_timeout = Duration::from_millis(500)).await;
    let t = app.create_tenant(Tier::Free).await;
    let token = jwt(&app, &t.key, json!({})).await;

    // Header, on each path (S4 also dials the bare address).
    for path in ["/ws", "/v1/ws", "/api/v1/ws", "/"] {
        let mut ws = app.ws_connect(path, Some(&t.key)).await.unwrap();
        let hello = ws.next_event().await;
        assert_eq!(hello["type"], "connected", "{path}: {hello}");
        assert_eq!(hello["data"]["authenticated"], true, "{hello}");
        assert!(hello["data"]["clientId"].is_string(), "{hello}");
        assert!(hello["data"]["gatewayVersion"].is_string(), "{hello}");
        status_works(&mut ws, 1).await;
    }
    // `?token=` with an API key or a JWT, and S4's `?password=`.
    for query in [
        format!("token={}", t.key),
        format!("token={token}"),
        format!("password={}", t.key),
    ] {
        let mut ws = app.ws(&format!("/ws?{query}"), None).await;
        status_works(&mut ws, 2).await;
    }
    // S2's first frame.
    let mut ws = app.ws("/ws", None).await;
    ws.send(&json!({"type": "auth", "token": t.key})).await;
    let ok = ws.next_event().await;
    assert_eq!(ok["type"], "auth_success", "{ok}");
    status_works(&mut ws, 3).await;

    // Failures: a bad credential on the upgrade is refused before it (401, the contract's
    // error), in a header or the query.
    let (status, body) = app
        .ws_connect("/ws", Some("oc_api_sk_nonsense"))
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, _) = app
        .ws_connect("/ws?token=not-a-jwt", None)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    // A revoked key.
    let other = app.create_tenant(Tier::Free).await;
    let resp = app
        .delete(&format!("/v1/api-keys/{}", other.key_id))
        .bearer_auth(&other.key)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let (status, _) = app.ws_connect("/ws", Some(&other.key)).await.err().unwrap();
    assert_eq!(status, 401);
    // `?token=` is for WebSocket upgrades only.
    let resp = app
        .get(&format!("/v1/status?token={}", t.key))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Unauthenticated, anything but `auth` is refused and the socket stays open for it…
    let mut ws = app.ws("/ws", None).await;
    let e = ws.request("system.status", json!({}), 4).await;
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["data"]["code"], "unauthorized", "{e}");
    // …a wrong token closes it…
    ws.send(&json!({"type": "auth", "token": "oc_api_sk_nonsense"}))
        .await;
    let e = ws.next_event().await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("unauthorized")),
        "{e}"
    );
    assert!(
        e["message"].is_string(),
        "S2 reads data.message at the top: {e}"
    );
    assert!(matches!(ws.ended().await, Ended::Closed(1008, _)));
    // …and so does silence past the deadline.
    let mut ws = app.ws("/ws", None).await;
    let e = ws.next_event().await;
    assert_eq!(e["data"]["code"], "unauthorized", "{e}");
    assert!(matches!(ws.ended().await, Ended::Closed(1008, _)));
}

#[tokio::test]
async fn s4_chat_streams_ordered_deltas_and_usage_and_is_an_ordinary_run() {
    let mock = MockLlm::start().await;
    let app = app(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let mut ws = app.ws("/ws", Some(&t.key)).await;
    let text = "one two three four five six seven eight";
    mock.push(says(text));
    ws.send(&json!({"method": "chat.run", "id": 1,
                     "params": {"message": "Hello, AI!", "sessionKey": "session-123",
                                "options": {"thinking": "medium", "stream": true}}}))
        .await;
    let (done, before) = ws.until("chat.done", Some(&json!(1))).await;
    let started = &before[0];
    assert_eq!(started["type"], "chat.started", "{started}");
    let run_id = started["data"]["runId"].as_str().unwrap().to_string();
    let deltas: Vec<&Value> = before
        .iter()
        .filter(|e| e["type"] == "chat.delta")
        .collect();
    assert!(deltas.len() >= 8, "one delta per word: {before:?}");
    let streamed: String = deltas
        .iter()
        .map(|d| {
            assert_eq!(d["id"], 1);
            assert_eq!(d["data"]["sessionKey"], "session-123");
            assert_eq!(d["data"]["runId"], run_id.as_str());
            d["data"]["delta"].as_str().unwrap()
        })
        .collect();
    assert_eq!(streamed, text, "deltas arrive in order");
    let usage = &done["data"]["usage"];
    let (p, c) = (
        usage["promptTokens"].as_u64().unwrap(),
        usage["completionTokens"].as_u64().unwrap(),
    );
    assert!(p > 0 && c > 0, "{done}");
    assert_eq!(usage["totalTokens"], p + c);
    assert_eq!(done["data"]["runId"], run_id.as_str());
    assert_eq!(done["data"]["content"], text);

    // An ordinary run: its events replay over SSE, the conversation holds both turns.
    let resp = app
        .get(&format!("/v1/runs/{run_id}/events"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let events = read_all(resp).await;
    let last = events.last().unwrap().json();
    assert_eq!(last["type"], "done", "{last}");
    let session = app.get_json("/v1/sessions/session-123", &t.key).await;
    assert_eq!(session["messageCount"], 2, "{session}");
    assert_eq!(session["channel"], "websocket", "{session}");

    // `stream: false`: no deltas, the answer in chat.done.
    mock.push(says("quiet answer"));
    ws.send(&json!({"method": "chat.run", "id": 2,
                     "params": {"message": "hi", "options": {"stream": false}}}))
        .await;
    let (done, before) = ws.until("chat.done", Some(&json!(2))).await;
    assert!(
        before.iter().all(|e| e["type"] != "chat.delta"),
        "{before:?}"
    );
    assert_eq!(done["data"]["content"], "quiet answer");
}

#[tokio::test]
async fn several_chats_stream_on_one_socket_at_once() {
    let mock = MockLlm::start().await;
    let app = app(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let mut ws = app.ws("/ws", Some(&t.key)).await;
    for _ in 0..3 {
        mock.push(slow("a b c d e"));
    }
    for id in 1..=3 {
        ws.send(
            &json!({"method": "chat.run", "id": id, "params": {"message": format!("chat {id}")}}),
        )
        .await;
    }
    let mut done = std::collections::BTreeMap::new();
    let mut streamed: std::collections::BTreeMap<u64, String> = Default::default();
    while done.len() < 3 {
        let e = ws.next_event().await;
        let id = e["id"].as_u64().unwrap_or_else(|| panic!("{e}"));
        match e["type"].as_str().unwrap() {
            "chat.delta" => streamed
                .entry(id)
                .or_default()
                .push_str(e["data"]["delta"].as_str().unwrap()),
            "chat.done" => {
                assert!(done.insert(id, e["data"]["runId"].clone()).is_none());
            }
            "chat.started" => {}
            other => panic!("{other}: {e}"),
        }
    }
    assert!(streamed.values().all(|s| s == "a b c d e"), "{streamed:?}");
    let runs: std::collections::BTreeSet<String> = done
        .values()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    assert_eq!(runs.len(), 3, "three runs: {done:?}");
}

#[tokio::test]
async fn tool_calls_stream_as_tool_call_and_tool_result_events() {
    let mock = MockLlm::start().await;
    let app = app(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    // The calculator is installed on every new tenant.
    mock.push(Script {
        tool_calls: vec![ToolCall {
            id: "call_1".into(),
            name: "calculator".into(),
            arguments: json!({"expression": "6 * 7"}),
        }],
        ..Default::default()
    });
    mock.push(says("It is 42."));
    let mut ws = app.ws("/ws", Some(&t.key)).await;
    ws.send(&json!({"method": "chat.run", "id": "q1", "params": {"message": "6 * 7?"}}))
        .await;
    let (done, before) = ws.until("chat.done", Some(&json!("q1"))).await;
    let call = before
        .iter()
        .find(|e| e["type"] == "tool.call")
        .unwrap_or_else(|| panic!("{before:?}"));
    assert_eq!(call["data"]["tool"], "calculator");
    assert_eq!(call["data"]["params"], json!({"expression": "6 * 7"}));
    let result = before.iter().find(|e| e["type"] == "tool.result").unwrap();
    assert_eq!(result["data"]["result"]["result"], 42, "{result}");
    assert_eq!(result["data"]["runId"], done["data"]["runId"]);
    assert_eq!(done["data"]["content"], "It is 42.");
}

#[tokio::test]
async fn s2_message_frames_are_answered_with_a_response_in_one_conversation() {
    let mock = MockLlm::start().await;
    let app = app(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let mut ws = app.ws("/ws", None).await;
    ws.send(&json!({"type": "auth", "token": t.key})).await;
    assert_eq!(ws.next_event().await["type"], "auth_success");
    mock.push(says("你好！有什么可以帮你？"));
    let meta = json!({"user_id": "user_001", "user_name": "사용자"});
    ws.send(&json!({"type": "message", "channel": "api", "content": "你好", "metadata": meta}))
        .await;
    let (resp, _) = ws.until("response", None).await;
    assert_eq!(resp["content"], "你好！有什么可以帮你？", "{resp}");
    // The same reply as POST /v1/message's, the frame's `id` left to the request's.
    assert!(
        resp["message_id"].as_str().unwrap().starts_with("msg_"),
        "{resp}"
    );
    assert_eq!(resp["role"], "assistant", "{resp}");
    let conversation = resp["conversation_id"].as_str().unwrap().to_string();
    // Metadata that is not an object: an error frame naming it, and no run.
    ws.send(&json!({"type": "message", "content": "x", "metadata": "user_001"}))
        .await;
    let e = ws.next_event().await;
    assert_eq!(
        (e["type"].as_str(), e["data"]["param"].as_str()),
        (Some("error"), Some("metadata")),
        "{e}"
    );
    mock.push(says("second"));
    ws.send(&json!({"type": "message", "channel": "api", "content": "again"}))
        .await;
    let (resp, _) = ws.until("response", None).await;
    assert_eq!(resp["content"], "second");
    assert_eq!(
        resp["conversation_id"],
        conversation.as_str(),
        "one conversation"
    );
    let conv = app
        .get_json(&format!("/v1/sessions/{conversation}"), &t.key)
        .await;
    assert_eq!(conv["messageCount"], 4, "{conv}");
    assert_eq!(conv["channel"], "api", "{conv}");
    // S2's metadata is kept with the user's message, as over HTTP.
    let read = app
        .get_json(&format!("/v1/conversations/{conversation}"), &t.key)
        .await;
    assert_eq!(read["messages"][0]["metadata"], meta, "{read}");
    assert!(read["messages"][2]["metadata"].is_null(), "{read}");
    // The model saw the first exchange with the second message.
    let last = mock.requests().pop().unwrap();
    assert!(
        last.body["messages"].to_string().contains("你好"),
        "{}",
        last.body
    );
}

#[tokio::test]
async fn a_chat_started_on_one_replica_is_aborted_from_another() {
    let mock = MockLlm::start().await;
    let a = app(&mock).await;
    let b = a.replica().await;
    let t = a.create_tenant(Tier::Free).await;
    let mut on_a = a.ws("/ws", Some(&t.key)).await;
    let mut on_b = b.ws("/ws", Some(&t.key)).await;
    mock.push(slow(&"word ".repeat(200)));
    on_a.send(&json!({"method": "chat.run", "id": 1, "params": {"message": "long story"}}))
        .await;
    let (started, _) = on_a.until("chat.started", Some(&json!(1))).await;
    let run_id = started["data"]["runId"].as_str().unwrap().to_string();
    on_a.until("chat.delta", Some(&json!(1))).await;

    let aborted = on_b
        .request("chat.abort", json!({"runId": run_id}), 9)
        .await;
    assert_eq!(aborted["type"], "chat.abort", "{aborted}");
    assert_eq!(aborted["data"]["status"], "cancelled", "{aborted}");
    let (end, _) = on_a.until("error", Some(&json!(1))).await;
    assert_eq!(end["data"]["code"], "cancelled", "{end}");
    assert_eq!(end["data"]["runId"], run_id.as_str());
    // Aborting again: it has ended.
    let again = on_b
        .request("chat.abort", json!({"runId": run_id}), 10)
        .await;
    assert_eq!(again["data"]["code"], "conflict", "{again}");
    // Another tenant cannot see it.
    let other = a.create_tenant(Tier::Free).await;
    let mut theirs = b.ws("/ws", Some(&other.key)).await;
    let e = theirs
        .request("chat.abort", json!({"runId": run_id}), 1)
        .await;
    assert_eq!(e["data"]["code"], "not_found", "{e}");
}

#[tokio::test]
async fn bad_frames_get_an_error_event_and_the_connection_lives_on() {
    let mock = MockLlm::start().await;
    let app = app_with_ws(&mock, |ws| ws.max_message_bytes = 4096).await;
    let t = app.create_tenant(Tier::Free).await;
    let mut ws = app.ws("/ws", Some(&t.key)).await;

    ws.send_text(&format!(
        "{{\"method\":\"chat.run\",\"params\":{{\"message\":\"{}\"}}}}",
        "x".repeat(10_000)
    ))
    .await;
    let e = ws.next_event().await;
    assert_eq!(e["data"]["code"], "payload_too_large", "{e}");
    assert_eq!(e["data"]["details"]["max_bytes"], 4096, "{e}");
    status_works(&mut ws, 1).await;

    for (frame, param) in [
        ("{not json", "frame"),
        ("[1, 2]", "frame"),
        ("{\"hello\": 1}", "method"),
    ] {
        ws.send_text(frame).await;
        let e = ws.next_event().await;
        assert_eq!(e["data"]["code"], "invalid_request", "{frame}: {e}");
        assert_eq!(e["data"]["param"], param, "{frame}: {e}");
    }
    // Errors carry the request's id.
    let e = ws.request("no.such", json!({}), 7).await;
    assert_eq!(
        (e["type"].as_str(), e["data"]["param"].as_str()),
        (Some("error"), Some("method")),
        "{e}"
    );
    let e = ws.request("chat.run", json!({"sessionKey": "s"}), 8).await;
    assert_eq!(e["data"]["param"], "message", "{e}");
    let e = ws
        .request("chat.run", json!({"message": "x", "bogus": 1}), 9)
        .await;
    assert_eq!(e["data"]["param"], "bogus", "{e}");
    let e = ws.request("session.get", json!({}), 10).await;
    assert_eq!(e["data"]["param"], "sessionKey", "{e}");
    status_works(&mut ws, 11).await;
}

#[tokio::test]
async fn sessions_and_channels_over_s4_and_another_tenants_session_is_not_found() {
    let mock = MockLlm::start().await;
    let app = app(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let other = app.create_tenant(Tier::Free).await;
    app.post_json("/v1/sessions", &t.key, &json!({"session_id": "mine"}))
        .await;
    let mut ws = app.ws("/ws", Some(&t.key)).await;
    let list = ws.request("session.list", json!({}), 1).await;
    assert_eq!(list["data"]["sessions"][0]["sessionKey"], "mine", "{list}");
    let one = ws
        .request("session.get", json!({"sessionKey": "mine"}), 2)
        .await;
    assert_eq!(one["type"], "session.get", "{one}");
    assert_eq!(one["data"]["sessionKey"], "mine");

    let mut theirs = app.ws("/ws", Some(&other.key)).await;
    let e = theirs
        .request("session.get", json!({"sessionKey": "mine"}), 1)
        .await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["data"]["code"], "not_found", "{e}");
    let list = theirs.request("session.list", json!({}), 2).await;
    assert_eq!(list["data"]["sessions"], json!([]), "{list}");

    let channels = ws.request("channel.list", json!({}), 3).await;
    let ids: Vec<&str> = channels["data"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"websocket"), "{channels}");
    let status = ws
        .request("channel.status", json!({"channelId": "websocket"}), 4)
        .await;
    assert_eq!(status["data"]["status"], "connected", "{status}");
    let e = ws
        .request("channel.status", json!({"channelId": "telegram"}), 5)
        .await;
    assert_eq!(e["data"]["code"], "not_found", "{e}");
}

#[tokio::test]
async fn a_tenant_holds_at_most_its_tiers_connections() {
    let mock = MockLlm::start().await;
    let app = app(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let other = app.create_tenant(Tier::Free).await;
    app.set_limits(&t.id, json!({"ws_connections": 3})).await;
    // The cap holds across replicas: two here and one on another replica fill it.
    let replica = app.replica().await;
    let mut open = Vec::new();
    for _ in 0..2 {
        open.push(app.ws("/ws", Some(&t.key)).await);
    }
    let _there = replica.ws("/ws", Some(&t.key)).await;
    for which in [&app, &replica] {
        let (status, body) = which.ws_connect("/ws", Some(&t.key)).await.err().unwrap();
        assert_eq!(status, 429, "{body}");
        assert!(body.contains("rate_limited"), "{body}");
    }
    // First-frame auth meets the same cap: an error event, then the socket closes.
    let mut late = app.ws("/ws", None).await;
    late.send(&json!({"type": "auth", "token": t.key})).await;
    let e = late.next_event().await;
    assert_eq!(e["data"]["code"], "rate_limited", "{e}");
    assert!(matches!(late.ended().await, Ended::Closed(1008, _)));
    // Another tenant is not affected, and closing one frees a place.
    app.ws("/ws", Some(&other.key)).await;
    let mut first = open.remove(0);
    first.stream.close(None).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match app.ws_connect("/ws", Some(&t.key)).await {
            Ok(_) => break,
            Err((429, _)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_requests_count_against_the_rate_limit_and_frames_have_their_own() {
    let mock = MockLlm::start().await;
    let app = app_with_ws(&mock, |ws| {
        ws.messages_per_second = 2;
        ws.message_burst = 3;
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    app.set_limits(&t.id, json!({"burst": 3})).await;
    // The upgrade is one request; two more pass, then the tenant's limit answers.
    let mut ws = app.ws("/ws", Some(&t.key)).await;
    status_works(&mut ws, 1).await;
    status_works(&mut ws, 2).await;
    let e = ws.request("system.status", json!({}), 3).await;
    assert_eq!(e["data"]["code"], "rate_limited", "{e}");
    assert!(
        e["data"]["details"]["retry_after"].as_u64() >= Some(1),
        "{e}"
    );
    // The same limit as HTTP's, and the upgrade itself is refused by it.
    let resp = app
        .get("/v1/status")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let refused = app.ws_upgrade("/ws", Some(&t.key)).await.err().unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1, "{wait}");

    // Frames: a burst past the connection's rate gets errors, not a closed socket.
    for _ in 0..6 {
        ws.send(&json!({"type": "ping"})).await;
    }
    let mut limited = 0;
    for _ in 0..6 {
        let e = ws.next_event().await;
        if e["type"] == "error" {
            assert_eq!(e["data"]["code"], "rate_limited", "{e}");
            limited += 1;
        }
    }
    assert!(limited >= 2, "{limited}");
}

#[tokio::test]
async fn a_silent_peer_is_closed_after_the_idle_timeout_and_a_live_one_is_not() {
    let mock = MockLlm::start().await;
    let app = app_with_ws(&mock, |ws| {
        ws.ping_interval = Duration::from_millis(100);
        ws.idle_timeout = Duration::from_millis(600);
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    let mut live = app.ws("/ws", Some(&t.key)).await;
    // The silent peer is a bare socket after the handshake: it never writes, so never answers
    // a ping (a WebSocket client library would answer them as it reads).
    let mut silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let handshake = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {}\r\n\r\n",
        app.addr, t.key
    );
    tokio::io::AsyncWriteExt::write_all(&mut silent, handshake.as_bytes())
        .await
        .unwrap();
    // The live client reads (and so answers pings, and sees heartbeats) for 1.5 s.
    let until = tokio::time::Instant::now() + Duration::from_millis(1500);
    let mut beats = 0;
    while tokio::time::Instant::now() < until {
        if let Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) =
            tokio::time::timeout_at(until, futures::StreamExt::next(&mut live.stream)).await
        {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == "heartbeat" {
                assert_eq!(v["data"]["status"], "ok");
                assert!(v["data"]["timestamp"].is_i64());
                beats += 1;
            }
        }
    }
    assert!(beats >= 3, "{beats}");
    status_works(&mut live, 1).await;
    // The silent one: pings, then a close frame (opcode 8) with 1001 and the reason, then EOF.
    let mut received = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut received),
    )
    .await
    .expect("the server closes the silent socket")
    .unwrap();
    let mut close = vec![0x88, 2 + 12, 0x03, 0xE9];
    close.extend_from_slice(b"idle timeout");
    assert!(
        received.windows(close.len()).any(|w| w == close),
        "no close frame 1001 `idle timeout` in {}",
        String::from_utf8_lossy(&received)
    );
}

#[tokio::test]
async fn shutdown_lets_a_chat_finish_then_closes_with_going_away() {
    let mock = MockLlm::start().await;
    let app = app(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let mut idle = app.ws("/ws", Some(&t.key)).await;
    let mut busy = app.ws("/ws", Some(&t.key)).await;
    mock.push(slow("a b c d e f g h"));
    busy.send(&json!({"method": "chat.run", "id": 1, "params": {"message": "go"}}))
        .await;
    busy.until("chat.delta", Some(&json!(1))).await;
    app.begin_shutdown();
    assert_eq!(
        idle.ended().await,
        Ended::Closed(1001, "server shutting down".into())
    );
    // New requests are refused while the chat finishes…
    let e = busy.request("system.status", json!({}), 2).await;
    assert_eq!(e["data"]["code"], "service_unavailable", "{e}");
    let (done, _) = busy.until("chat.done", Some(&json!(1))).await;
    assert_eq!(done["data"]["content"], "a b c d e f g h");
    // …then the socket closes.
    assert_eq!(
        busy.ended().await,
        Ended::Closed(1001, "server shutting down".into())
    );
}

#[tokio::test]
async fn a_revoked_key_stops_working_on_an_open_socket() {
    let mock = MockLlm::start().await;
    let app = app(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let extra = app.admin_key(&t.id, json!({"name": "ws"})).await;
    let key = extra["key"].as_str().unwrap().to_string();
    let mut ws = app.ws("/ws", Some(&key)).await;
    status_works(&mut ws, 1).await;
    let id = extra["id"].as_str().unwrap();
    let resp = app
        .delete(&format!("/v1/api-keys/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let e = ws.request("system.status", json!({}), 2).await;
    assert_eq!(e["data"]["code"], "unauthorized", "{e}");
    assert!(matches!(ws.ended().await, Ended::Closed(1008, _)));
}

#[tokio::test]
async fn a_session_limited_token_chats_only_in_its_session() {
    let mock = MockLlm::start().await;
    let app = app(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    app.post_json("/v1/sessions", &t.key, &json!({"session_id": "other"}))
        .await;
    let token = jwt(&app, &t.key, json!({"session_id": "browser-1"})).await;
    let mut ws = app.ws(&format!("/ws?token={token}"), None).await;
    mock.push(says("hi"));
    ws.send(&json!({"method": "chat.run", "id": 1, "params": {"message": "hello"}}))
        .await;
    let (done, _) = ws.until("chat.done", Some(&json!(1))).await;
    assert_eq!(done["data"]["sessionKey"], "browser-1", "{done}");
    let e = ws
        .request(
            "chat.run",
            json!({"message": "x", "sessionKey": "other"}),
            2,
        )
        .await;
    assert_eq!(e["data"]["code"], "not_found", "{e}");
    let e = ws
        .request("session.get", json!({"sessionKey": "other"}), 3)
        .await;
    assert_eq!(e["data"]["code"], "not_found", "{e}");
}

/// Sockets that have not authenticated cost the replica before anyone pays for them: a few per
/// address and a bounded number in all, each reading only small frames until its `auth`.
#[tokio::test]
async fn unauthenticated_sockets_are_capped_and_read_only_small_frames() {
    let mock = MockLlm::start().await;
    let app = app_with_ws(&mock, |ws| ws.max_unauthenticated_per_address = 2).await;
    let t = app.create_tenant(Tier::Free).await;
    let mut first = app.ws("/ws", None).await;
    let _second = app.ws("/ws", None).await;
    let (status, body) = app.ws_connect("/ws", None).await.err().unwrap();
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("rate_limited"), "{body}");
    // A credential on the upgrade is not waiting for anything: it connects.
    let mut keyed = app.ws("/ws", Some(&t.key)).await;
    status_works(&mut keyed, 1).await;
    // Authenticating gives the place back.
    first.send(&json!({"type": "auth", "token": t.key})).await;
    assert_eq!(first.next_event().await["type"], "auth_success");
    let mut third = app.ws("/ws", None).await;
    // Before `auth`, a large frame ends the socket.
    let big = format!(r#"{{"type":"auth","token":"{}"}}"#, "x".repeat(8 * 1024));
    third.send_text(&big).await;
    let e = third.next_event().await;
    assert_eq!(e["data"]["code"], "payload_too_large", "{e}");
    assert!(matches!(third.ended().await, Ended::Closed(1008, _)));
}
