//! Each message dialect's exact shape and event order, answered by `builtin/echo`.

use std::time::{Duration, Instant};

use openclaw_domain::Tier;
use openclaw_tests::sse::read_all;
use openclaw_tests::{expect_error, spawn_app, TestApp, TestTenant};
use serde_json::{json, Value};

async fn post(app: &TestApp, t: &TestTenant, path: &str, body: Value) -> reqwest::Response {
    app.post(path)
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn post_sse(app: &TestApp, t: &TestTenant, path: &str, body: Value) -> reqwest::Response {
    let resp = app
        .post(path)
        .bearer_auth(&t.key)
        .header("accept", "text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    assert!(resp.headers().contains_key("x-request-id"));
    resp
}

#[tokio::test]
async fn s4_agent_run_answers_and_keeps_the_history() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let body = json!({"message": "Hello, AI!", "sessionKey": "session-123", "agentId": "default",
                      "options": {"thinking": "medium", "model": "builtin/echo"}});
    let resp = post(&app, &t, "/v1/agent/run", body).await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert!(r["runId"].as_str().unwrap().starts_with("run_"));
    assert_eq!(r["sessionKey"], "session-123");
    assert_eq!(r["response"], "Echo: Hello, AI!");
    let usage = &r["usage"];
    assert_eq!(
        usage["totalTokens"],
        usage["promptTokens"].as_u64().unwrap() + usage["completionTokens"].as_u64().unwrap()
    );
    assert!(usage["completionTokens"].as_u64().unwrap() > 0);

    let conv = app.get_json("/v1/conversations/session-123", &t.key).await;
    let turns: Vec<(String, String)> = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().into(),
                m["content"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        turns,
        vec![
            ("user".into(), "Hello, AI!".into()),
            ("assistant".into(), "Echo: Hello, AI!".into())
        ]
    );
    assert_eq!(conv["messages"][1]["model"], "builtin/echo");
    // Usage is written behind the answer, in the next batch.
    app.flush_write_behind().await;
    let usage = app.usage_today(&t.id).await;
    assert_eq!(
        (usage[0].model.as_str(), usage[0].requests),
        ("builtin/echo", 1),
        "usage per day and model"
    );
}

#[tokio::test]
async fn s4_streams_deltas_then_done() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = post_sse(
        &app,
        &t,
        "/v1/agent/run/stream",
        json!({"message": "Hello there", "sessionKey": "s", "stream": true}),
    )
    .await;
    let events = read_all(resp).await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    assert_eq!(names.last(), Some(&"done"));
    assert!(
        names[..names.len() - 1].iter().all(|n| *n == "delta"),
        "{names:?}"
    );
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| e.json()["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text, "Echo: Hello there");
    let done = events.last().unwrap().json();
    assert_eq!(done["finishReason"], "stop");
    assert_eq!(events[0].json()["runId"], done["runId"]);
    let ids: Vec<u64> = events
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "increasing event ids: {ids:?}"
    );
}

#[tokio::test]
async fn s2_message_sync_async_and_sse() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let body = json!({"channel": "api", "message": "明天서울的天氣如何?", "conversation_id": "conv_abc123",
                      "metadata": {"user_id": "user_001", "user_name": "사용자"}});
    let resp = post(&app, &t, "/api/v1/message", body).await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert!(
        r.get("success").is_none(),
        "S2's /message is never enveloped"
    );
    assert!(r["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(r["conversation_id"], "conv_abc123");
    assert_eq!(r["role"], "assistant");
    assert_eq!(r["content"], "Echo: 明天서울的天氣如何?");
    assert_eq!(r["skills_used"], json!([]));
    let tok = &r["tokens"];
    assert_eq!(
        tok["total"],
        tok["input"].as_u64().unwrap() + tok["output"].as_u64().unwrap()
    );
    assert!(r["latency_ms"].is_u64());
    assert_eq!(r["model"], "builtin/echo");

    // Async: 202 and a poll URL that reaches completion.
    let resp = post(
        &app,
        &t,
        "/v1/message",
        json!({"message": "later", "wait_for_response": false}),
    )
    .await;
    assert_eq!(resp.status(), 202);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["status"], "processing");
    let poll = r["poll_url"].as_str().unwrap().to_string();
    assert!(poll.starts_with("/api/v1/message/run_") && poll.ends_with("/status"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let done = loop {
        let s = app.get_json(&poll, &t.key).await;
        if s["status"] == "completed" {
            break s;
        }
        assert!(Instant::now() < deadline, "never completed: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(done["conversation_id"], r["conversation_id"]);
    assert_eq!(done["response"]["content"], "Echo: later");

    // SSE: start, tokens, end.
    let resp = post_sse(
        &app,
        &t,
        "/api/v1/message",
        json!({"channel": "api", "message": "寫一首詩"}),
    )
    .await;
    let events = read_all(resp).await;
    let types: Vec<String> = events
        .iter()
        .map(|e| e.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("start"));
    assert_eq!(types.last().map(String::as_str), Some("end"));
    assert!(
        types[1..types.len() - 1].iter().all(|t| t == "token"),
        "{types:?}"
    );
    assert!(
        events[0].json()["conversation_id"]
            .as_str()
            .unwrap()
            .starts_with("session_"),
        "created on first use"
    );
    let text: String = events[1..events.len() - 1]
        .iter()
        .map(|e| e.json()["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text, "Echo: 寫一首詩");
    assert!(
        events.last().unwrap().json()["tokens"]["output"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        events.iter().all(|e| e.id.is_some()),
        "every SSE event has an id"
    );

    let resp = post(
        &app,
        &t,
        "/v1/message",
        json!({"message": "x", "timeout_ms": 0}),
    )
    .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "timeout_ms");
    let resp = post(&app, &t, "/v1/message", json!({"channel": "api"})).await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "message");
}

#[tokio::test]
async fn s2_metadata_is_kept_with_the_users_message_sync_or_async() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let meta = json!({"user_id": "user_001", "user_name": "사용자",
                      "attachments": [{"type": "image", "url": "https://example.com/a.png"}]});
    let resp = post(
        &app,
        &t,
        "/api/v1/message",
        json!({"message": "hi", "conversation_id": "m1", "metadata": meta}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    // Queued for a worker: the metadata travels with the job.
    let resp = post(
        &app,
        &t,
        "/v1/message",
        json!({"message": "later", "conversation_id": "m1", "wait_for_response": false,
               "metadata": {"user_id": "user_002"}}),
    )
    .await;
    assert_eq!(resp.status(), 202);
    let poll = resp.json::<Value>().await.unwrap()["poll_url"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get_json(&poll, &t.key).await["status"] != "completed" {
        assert!(Instant::now() < deadline, "the queued run never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let conv = app.get_json("/v1/conversations/m1", &t.key).await;
    let messages = conv["messages"].as_array().unwrap();
    let said: Vec<(&str, &Value)> = messages
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), &m["metadata"]))
        .collect();
    assert_eq!(
        said,
        vec![
            ("user", &meta),
            ("assistant", &Value::Null),
            ("user", &json!({"user_id": "user_002"})),
            ("assistant", &Value::Null),
        ],
        "{conv}"
    );
    // Another tenant sees none of it.
    let other = app.create_tenant(Tier::Free).await;
    let resp = app
        .get("/v1/conversations/m1")
        .bearer_auth(&other.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;

    for bad in [json!("user_001"), json!({"notes": "x".repeat(17 * 1024)})] {
        let resp = post(
            &app,
            &t,
            "/v1/message",
            json!({"message": "x", "metadata": bad}),
        )
        .await;
        let err = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], "metadata");
    }
}

#[tokio::test]
async fn s0_text_messages_are_enveloped_under_api_v1_and_stream_chunks() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = post(
        &app,
        &t,
        "/api/v1/message",
        json!({"text": "你好", "session": "default"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["success"], true);
    assert!(r["data"]["messageId"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(r["data"]["text"], "Echo: 你好");
    assert!(r["data"]["usage"]["inputTokens"].as_u64().unwrap() > 0);
    assert!(r["data"]["usage"]["outputTokens"].as_u64().unwrap() > 0);
    // The same under /v1 is plain.
    let r: Value = post(
        &app,
        &t,
        "/v1/message",
        json!({"text": "hi", "session": "default"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["text"], "Echo: hi");
    // S0 errors under /api/v1 are enveloped too.
    let r: Value = post(
        &app,
        &t,
        "/api/v1/message",
        json!({"text": "hi", "session": "a/b"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["success"], false);
    assert_eq!(
        r["error"], "invalid_request",
        "S2's flat shape under /api/v1: {r}"
    );
    assert_eq!(r["param"], "session");

    let resp = post_sse(
        &app,
        &t,
        "/api/v1/message/stream",
        json!({"text": "讲个故事", "session": "default"}),
    )
    .await;
    let events = read_all(resp).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| e.json()["chunk"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text, "Echo: 讲个故事");
    // The session's history now holds all three exchanges, in order.
    let conv = app.get_json("/v1/conversations/default", &t.key).await;
    assert_eq!(conv["message_count"], 6);
}

#[tokio::test]
async fn s3_chat_and_s1_session_messages() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = post(&app, &t, "/v1/chat", json!({"session_id": "user_123", "message": "Hello",
                                                  "context": {"model": "builtin/echo", "temperature": 0.7}})).await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert!(r["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(r["content"], "Echo: Hello");
    assert_eq!(r["model"], "builtin/echo");
    assert!(r["usage"]["input_tokens"].is_u64() && r["usage"]["output_tokens"].is_u64());
    assert!(r["timestamp"].is_string());
    let resp = post(
        &app,
        &t,
        "/v1/chat",
        json!({"session_id": "user_123", "message": "x", "context": {"temperature": 7}}),
    )
    .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "context.temperature");

    let resp = post_sse(
        &app,
        &t,
        "/v1/chat",
        json!({"sessionId": "user_123", "message": "讲个故事", "stream": true}),
    )
    .await;
    let events = read_all(resp).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| e.json()["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text, "Echo: 讲个故事");

    // S1: the session must exist first.
    let resp = post(
        &app,
        &t,
        "/v1/sessions/session_67890/messages",
        json!({"content": "hi", "type": "text"}),
    )
    .await;
    expect_error(resp, 404, "not_found").await;
    let s: Value = post(&app, &t, "/v1/sessions", json!({"agent_id": "qwencode"}))
        .await
        .json()
        .await
        .unwrap();
    let sid = s["session_id"].as_str().unwrap();
    let resp = post(
        &app,
        &t,
        &format!("/v1/sessions/{sid}/messages"),
        json!({"content": "你好", "type": "text"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert!(r["message_id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(r["content"], "Echo: 你好");
    assert_eq!(r["role"], "assistant");
    assert!(r["timestamp"].is_string());
}

#[tokio::test]
async fn runs_and_their_routes_are_invisible_to_other_tenants() {
    let app = spawn_app().await;
    let alice = app.create_tenant(Tier::Free).await;
    let bob = app.create_tenant(Tier::Free).await;
    let r: Value = post(
        &app,
        &alice,
        "/v1/agent/run",
        json!({"message": "secret", "sessionKey": "private"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let run = r["runId"].as_str().unwrap();
    for path in [
        format!("/v1/runs/{run}/events"),
        format!("/v1/message/{run}/status"),
        format!("/api/v1/message/{run}/status"),
    ] {
        let resp = app.get(&path).bearer_auth(&bob.key).send().await.unwrap();
        expect_error(resp, 404, "not_found").await;
    }
    let resp = app
        .post(&format!("/v1/runs/{run}/abort"))
        .bearer_auth(&bob.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    // S1 writes only into the caller's own sessions.
    let resp = post(
        &app,
        &bob,
        "/v1/sessions/private/messages",
        json!({"content": "let me in"}),
    )
    .await;
    expect_error(resp, 404, "not_found").await;
    // Bob writing to "private" gets his own session, not Alice's.
    let r: Value = post(
        &app,
        &bob,
        "/v1/agent/run",
        json!({"message": "mine", "sessionKey": "private"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["sessionKey"], "private");
    assert_eq!(
        app.get_json("/v1/conversations/private", &alice.key).await["message_count"],
        2
    );
    assert_eq!(
        app.get_json("/v1/conversations/private", &bob.key).await["message_count"],
        2
    );
    // A finished run's events replay from its record; aborting it is a conflict.
    let events = read_all(
        app.get(&format!("/v1/runs/{run}/events"))
            .bearer_auth(&alice.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(events.last().unwrap().event.as_deref(), Some("done"));
    let resp = app
        .post(&format!("/v1/runs/{run}/abort"))
        .bearer_auth(&alice.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 409, "conflict").await;
}

/// An async message waits in the queue for a worker; aborting it there ends its run at once,
/// and no worker starts it afterwards.
#[tokio::test]
async fn an_async_message_aborted_before_a_worker_takes_it_never_runs() {
    let app = openclaw_tests::spawn_with(openclaw_tests::AppOptions {
        worker: None,
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Pro).await;
    let resp = post(
        &app,
        &t,
        "/v1/message",
        json!({"message": "never mind", "wait_for_response": false}),
    )
    .await;
    assert_eq!(resp.status(), 202);
    let r: Value = resp.json().await.unwrap();
    let id = r["id"].as_str().unwrap();
    let poll = r["poll_url"].as_str().unwrap();
    assert_eq!(app.get_json(poll, &t.key).await["status"], "processing");

    let resp = app
        .post(&format!("/v1/runs/{id}/abort"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "cancelled");

    // A worker arriving now finds nothing to do.
    let worker = app.replica().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(worker.get_json(poll, &t.key).await["status"], "cancelled");
    let (jobs, _) = app
        .store
        .list_jobs(
            t.id.parse().unwrap(),
            openclaw_store::JobKind::Message,
            None,
            None,
            10,
            0,
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status.as_str(), "cancelled");
    assert_eq!(jobs[0].attempts, 0, "never claimed");
}
