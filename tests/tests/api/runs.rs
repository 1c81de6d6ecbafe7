//! Runs against a scripted upstream (mock-llm): what the model is sent, provider failures,
//! disconnects, resuming and aborting from another replica, and order within a session.

use std::time::{Duration, Instant};

use openclaw_domain::Tier;
use openclaw_mock_llm::{MockLlm, Script};
use openclaw_tests::sse::SseReader;
use openclaw_tests::{expect_error, mock_providers, spawn_with, AppOptions, TestApp, TestTenant};
use serde_json::{json, Value};

async fn app_with(mock: &MockLlm) -> TestApp {
    spawn_with(AppOptions {
        providers: Some(mock_providers(mock)),
        ..Default::default()
    })
    .await
}

async fn agent_run(
    app: &TestApp,
    t: &TestTenant,
    session: &str,
    message: &str,
) -> reqwest::Response {
    app.post("/v1/agent/run")
        .bearer_auth(&t.key)
        .json(&json!({"message": message, "sessionKey": session}))
        .send()
        .await
        .unwrap()
}

async fn stream(app: &TestApp, t: &TestTenant, session: &str, message: &str) -> SseReader {
    let resp = app
        .post("/v1/agent/run/stream")
        .bearer_auth(&t.key)
        .json(&json!({"message": message, "sessionKey": session}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    SseReader::new(resp)
}

/// The roles of a conversation's messages, in order.
async fn conversation_roles(app: &TestApp, t: &TestTenant, key: &str) -> Vec<String> {
    let conv = app
        .get_json(&format!("/v1/conversations/{key}"), &t.key)
        .await;
    conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_string())
        .collect()
}

async fn wait_for_status(app: &TestApp, t: &TestTenant, run: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let s = app
            .get_json(&format!("/v1/message/{run}/status"), &t.key)
            .await;
        if s["status"] == want {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} never reached {want}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn the_model_receives_the_sessions_history() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let r: Value = agent_run(&app, &t, "s", "first question")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["response"], "mock: first question");
    let r: Value = agent_run(&app, &t, "s", "second question")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["response"], "mock: second question");
    let sent = mock.requests();
    let last = &sent.last().unwrap().body;
    assert_eq!(
        last["model"], "mock-1",
        "the provider prefix is not sent upstream"
    );
    let contents: Vec<&str> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        vec!["first question", "mock: first question", "second question"]
    );
}

#[tokio::test]
async fn provider_failures_are_502_and_end_streams_with_an_error_event() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    for _ in 0..3 {
        mock.push(Script {
            status: Some(500),
            error_message: Some("boom".into()),
            ..Default::default()
        });
    }
    let err = expect_error(agent_run(&app, &t, "s", "hi").await, 502, "upstream_error").await;
    assert!(err["error"]["message"].as_str().unwrap().contains("500"));

    mock.push(Script {
        text: Some("one two three four".into()),
        disconnect_after_chunks: Some(2),
        ..Default::default()
    });
    let mut events = stream(&app, &t, "s", "again").await;
    let last = events.last().await.unwrap();
    assert_eq!(last.event.as_deref(), Some("error"));
    assert_eq!(last.json()["code"], "upstream_error");
    // The user's message is kept, and so is what was streamed before the failure.
    let roles = conversation_roles(&app, &t, "s").await;
    assert_eq!(roles, vec!["user", "user", "assistant"]);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_loses_nothing() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    mock.push(Script {
        text: Some("a b c d e f g h".into()),
        token_delay_ms: 40,
        ..Default::default()
    });
    let mut events = stream(&app, &t, "s", "tell me").await;
    let first = events.next().await.unwrap();
    assert_eq!(first.event.as_deref(), Some("delta"));
    let run = first.json()["runId"].as_str().unwrap().to_string();
    drop(events); // the client goes away
    let status = wait_for_status(&app, &t, &run, "completed").await;
    assert_eq!(status["response"]["content"], "a b c d e f g h");
    let conv = app.get_json("/v1/conversations/s", &t.key).await;
    assert_eq!(
        conv["messages"][1]["content"], "a b c d e f g h",
        "the reply is persisted"
    );
}

#[tokio::test]
async fn another_replica_resumes_a_stream_after_last_event_id() {
    let mock = MockLlm::start().await;
    let a = app_with(&mock).await;
    let b = a.replica().await;
    let t = a.create_tenant(Tier::Free).await;
    mock.push(Script {
        text: Some("one two three four five six".into()),
        token_delay_ms: 40,
        ..Default::default()
    });
    let mut events = stream(&a, &t, "s", "count").await;
    let first = events.next().await.unwrap();
    let second = events.next().await.unwrap();
    let run = first.json()["runId"].as_str().unwrap().to_string();
    let seen: u64 = second.id.as_deref().unwrap().parse().unwrap();
    drop(events);

    // An id past every event (the largest there is): nothing to send, no overflow.
    let resp = a
        .get(&format!("/v1/runs/{run}/events"))
        .bearer_auth(&t.key)
        .header("last-event-id", u64::MAX.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(SseReader::new(resp).next().await.is_none());

    let resp = b
        .get(&format!("/v1/runs/{run}/events"))
        .bearer_auth(&t.key)
        .header("last-event-id", seen.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut rest = SseReader::new(resp);
    let mut ids = Vec::new();
    let mut text = String::new();
    let mut last = None;
    while let Some(e) = rest.next().await {
        ids.push(e.id.as_deref().unwrap().parse::<u64>().unwrap());
        if e.event.as_deref() == Some("delta") {
            text.push_str(e.json()["text"].as_str().unwrap());
        }
        last = Some(e);
    }
    assert_eq!(ids[0], seen + 1, "resumes right after Last-Event-ID");
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "no gaps: {ids:?}");
    let done = last.unwrap();
    assert_eq!(done.event.as_deref(), Some("done"));
    let full = done.json()["content"].as_str().unwrap().to_string();
    let before: String = second.json()["delta"].as_str().unwrap().to_string();
    assert!(
        full.ends_with(&text) && full.contains(before.trim()),
        "{full:?} vs {before:?} + {text:?}"
    );
}

#[tokio::test]
async fn a_run_the_sweep_ended_first_does_not_tell_its_client_done() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    mock.push(Script {
        text: Some("one two three four five six".into()),
        token_delay_ms: 40,
        ..Default::default()
    });
    let mut events = stream(&app, &t, "s", "count").await;
    // Its first event: the run has begun and is streaming.
    events.next().await.unwrap();
    // As if its replica had stopped renewing the lease: the sweep ends it failed.
    sqlx::query("UPDATE runs SET lease_until = now() - interval '1 second' WHERE tenant_id = $1")
        .bind(t.id.parse::<openclaw_domain::TenantId>().unwrap().as_uuid())
        .execute(&app.sql)
        .await
        .unwrap();
    assert_eq!(app.store.sweep_runs(100).await.unwrap().len(), 1);

    let last = events.last().await.unwrap();
    assert_eq!(last.event.as_deref(), Some("error"), "{:?}", last.data);
    assert_eq!(last.json()["code"], "internal_error");
    let roles = conversation_roles(&app, &t, "s").await;
    assert_eq!(
        roles,
        vec!["user"],
        "the reply the record does not hold was not announced"
    );
}

#[tokio::test]
async fn a_run_is_aborted_from_another_replica() {
    let mock = MockLlm::start().await;
    let a = app_with(&mock).await;
    let b = a.replica().await;
    let t = a.create_tenant(Tier::Free).await;
    mock.push(Script {
        text: Some("w ".repeat(200)),
        token_delay_ms: 50,
        ..Default::default()
    });
    let mut events = stream(&a, &t, "s", "go on forever").await;
    let first = events.next().await.unwrap();
    let run = first.json()["runId"].as_str().unwrap().to_string();

    let resp = b
        .post(&format!("/v1/runs/{run}/abort"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "cancelled");
    let last = events.last().await.unwrap();
    assert_eq!(last.event.as_deref(), Some("error"));
    assert_eq!(last.json()["code"], "cancelled");
    let status = b
        .get_json(&format!("/v1/message/{run}/status"), &t.key)
        .await;
    assert_eq!(status["status"], "cancelled");
}

#[tokio::test]
async fn concurrent_runs_in_one_session_keep_the_history_in_order() {
    let mock = MockLlm::start().await;
    let a = app_with(&mock).await;
    let b = a.replica().await;
    let t = a.create_tenant(Tier::Free).await;
    mock.push(Script {
        text: Some("first answer here".into()),
        token_delay_ms: 100,
        ..Default::default()
    });
    mock.push(Script {
        text: Some("second answer".into()),
        ..Default::default()
    });
    // Run 1 is mid-answer on replica A when run 2 arrives on replica B.
    let mut first = stream(&a, &t, "shared", "q1").await;
    assert_eq!(first.next().await.unwrap().event.as_deref(), Some("delta"));
    let second = agent_run(&b, &t, "shared", "q2");
    let drain_first = async { while first.next().await.is_some() {} };
    let (r2, ()) = tokio::join!(second, drain_first);
    assert_eq!(r2.status(), 200);
    let conv = a.get_json("/v1/conversations/shared", &t.key).await;
    let turns: Vec<(&str, &str)> = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        turns,
        vec![
            ("user", "q1"),
            ("assistant", "first answer here"),
            ("user", "q2"),
            ("assistant", "second answer")
        ],
        "turns never interleave"
    );
}

#[tokio::test]
async fn a_sync_wait_times_out_with_408_while_the_run_goes_on() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    mock.push(Script {
        text: Some("slow".into()),
        delay_ms: 800,
        ..Default::default()
    });
    let resp = app
        .post("/v1/message")
        .bearer_auth(&t.key)
        .json(&json!({"message": "take your time", "conversation_id": "c", "timeout_ms": 100}))
        .send()
        .await
        .unwrap();
    let err = expect_error(resp, 408, "timeout").await;
    let run = err["error"]["details"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = wait_for_status(&app, &t, &run, "completed").await;
    assert_eq!(status["response"]["content"], "slow");
}

#[tokio::test]
async fn an_upstream_that_never_answers_ends_the_run_with_a_timeout() {
    let mock = MockLlm::start().await;
    let mut providers = mock_providers(&mock);
    providers.http.timeouts.total = Duration::from_millis(500);
    let app = spawn_with(AppOptions {
        providers: Some(providers),
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    mock.push(Script {
        hang: true,
        ..Default::default()
    });
    let started = Instant::now();
    let err = expect_error(
        agent_run(&app, &t, "s", "hello?").await,
        504,
        "upstream_timeout",
    )
    .await;
    assert!(err["error"]["message"].is_string());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the provider timeout"
    );
    let conv = app.get_json("/v1/conversations/s", &t.key).await;
    assert_eq!(
        conv["messages"].as_array().unwrap().len(),
        1,
        "the question is kept, no answer invented"
    );
}

#[tokio::test]
async fn a_silent_model_keeps_its_sessions_turn_past_the_lease() {
    let mock = MockLlm::start().await;
    let a = spawn_with(AppOptions {
        providers: Some(mock_providers(&mock)),
        configure: Box::new(|c| c.run_turn_lease = Duration::from_millis(300)),
        ..Default::default()
    })
    .await;
    let t = a.create_tenant(Tier::Free).await;
    // The first answer starts only after three lease periods of silence.
    mock.push(Script {
        text: Some("late answer".into()),
        ttft_ms: 1000,
        ..Default::default()
    });
    mock.push(Script {
        text: Some("second".into()),
        ..Default::default()
    });
    let first = agent_run(&a, &t, "quiet", "q1");
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        agent_run(&a, &t, "quiet", "q2").await
    };
    let (r1, r2) = tokio::join!(first, second);
    assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (200, 200));
    let conv = a.get_json("/v1/conversations/quiet", &t.key).await;
    let contents: Vec<&str> = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        vec!["q1", "late answer", "q2", "second"],
        "the lease was renewed while the model was silent"
    );
}

#[tokio::test]
async fn a_bad_model_is_refused_before_any_session_is_created() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = app
        .post("/v1/agent/run")
        .bearer_auth(&t.key)
        .json(&json!({"message": "hi", "sessionKey": "fresh", "options": {"model": "nope/x"}}))
        .send()
        .await
        .unwrap();
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "model");
    let resp = app
        .get("/v1/sessions/fresh")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn a_tenants_default_model_applies_when_neither_request_nor_session_names_one() {
    let mock = MockLlm::start().await;
    let upstream = format!("{}/v1", mock.base_url());
    // The operator's default stays builtin/echo; the upstream is merely available.
    let providers = openclaw_engine::ProvidersConfig::from_lookup(move |name| match name {
        "OPENAI_BASE_URL" => Some(upstream.clone()),
        "OPENAI_API_KEY" => Some("sk-test".into()),
        _ => None,
    });
    let app = spawn_with(AppOptions {
        providers: Some(providers),
        ..Default::default()
    })
    .await;
    let (a, b) = (
        app.create_tenant(Tier::Free).await,
        app.create_tenant(Tier::Free).await,
    );
    let patch = |body: Value| {
        app.admin(reqwest::Method::PATCH, &format!("/tenants/{}", a.id))
            .json(&body)
            .send()
    };

    let resp = patch(json!({"default_model": "nope/x"})).await.unwrap();
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "default_model");
    let resp = patch(json!({"default_model": "openai/mock-1"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["default_model"],
        "openai/mock-1"
    );

    let answer =
        |r: reqwest::Response| async move { r.json::<Value>().await.unwrap()["response"].clone() };
    assert_eq!(
        answer(agent_run(&app, &a, "s", "hi").await).await,
        "mock: hi",
        "the tenant's default"
    );
    assert_eq!(
        answer(agent_run(&app, &b, "s", "hi").await).await,
        "Echo: hi",
        "another tenant keeps the operator's"
    );
    let named = app
        .post("/v1/agent/run")
        .bearer_auth(&a.key)
        .json(&json!({"message": "hi", "sessionKey": "t", "options": {"model": "builtin/echo"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer(named).await,
        "Echo: hi",
        "a model named in the request wins"
    );
    assert_eq!(
        patch(json!({"default_model": null}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        answer(agent_run(&app, &a, "u", "hi").await).await,
        "Echo: hi",
        "cleared: back to the operator's"
    );
}
