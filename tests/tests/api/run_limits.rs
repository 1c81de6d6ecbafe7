//! Limits held by runs, not by response heads: a run keeps its tenant's concurrency slot until
//! it ends (a stream, an abort, a request that answered 408 while its run went on), and the
//! daily token quota stops a tenant before its next model call, on every replica.

use std::time::{Duration, Instant};

use openclaw_domain::Tier;
use openclaw_mock_llm::{MockLlm, Script, Usage};
use openclaw_tests::{expect_error, mock_providers, spawn_with, AppOptions, TestApp, TestTenant};
use serde_json::{json, Value};

async fn app_with(mock: &MockLlm) -> TestApp {
    spawn_with(AppOptions {
        providers: Some(mock_providers(mock)),
        ..Default::default()
    })
    .await
}

/// A streamed completion in session `session`; returns the response (headers in) once the
/// stream has begun.
async fn stream(app: &TestApp, t: &TestTenant, session: &str) -> reqwest::Response {
    app.post("/v1/chat/completions")
        .bearer_auth(&t.key)
        .json(
            &json!({"model": "openai/mock-1", "stream": true, "user": session,
                      "messages": [{"role": "user", "content": "hello"}]}),
        )
        .send()
        .await
        .unwrap()
}

async fn agent_run(app: &TestApp, t: &TestTenant, body: Value) -> reqwest::Response {
    app.post_json("/v1/agent/run", &t.key, &body).await
}

#[tokio::test]
async fn a_tenant_capped_at_two_runs_gets_429_on_a_third_stream_until_one_ends_or_is_aborted() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    app.set_limits(&t.id, json!({"concurrent_requests": 2, "burst": 1000}))
        .await;
    // The first run answers after a while, the second never does.
    mock.push(Script {
        delay_ms: 1500,
        ..Default::default()
    });
    mock.push(Script {
        hang: true,
        ..Default::default()
    });
    let first = stream(&app, &t, "a").await;
    let second = stream(&app, &t, "b").await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let hung = second.headers()["x-openclaw-run-id"]
        .to_str()
        .unwrap()
        .to_string();

    // Both response heads are out; their runs still hold both slots.
    let third = stream(&app, &t, "c").await;
    let body = expect_error(third, 429, "rate_limited").await;
    assert_eq!(body["error"]["details"]["concurrent_limit"], 2);

    // The first stream ends: its slot is free again.
    assert!(first.text().await.unwrap().contains("[DONE]"));
    let fourth = agent_run(&app, &t, json!({"message": "hi", "sessionKey": "d"})).await;
    assert_eq!(fourth.status(), 200, "{}", fourth.text().await.unwrap());
    mock.push(Script {
        hang: true,
        ..Default::default()
    });
    let held = stream(&app, &t, "e").await;
    assert_eq!(held.status(), 200);
    let refused = agent_run(&app, &t, json!({"message": "hi", "sessionKey": "f"})).await;
    expect_error(refused, 429, "rate_limited").await;

    // Aborting the hung run frees its slot.
    let aborted = app
        .post(&format!("/v1/runs/{hung}/abort"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(aborted.status(), 200);
    let after = agent_run(&app, &t, json!({"message": "hi", "sessionKey": "g"})).await;
    assert_eq!(after.status(), 200, "{}", after.text().await.unwrap());
    drop(second);
    drop(held);
}

#[tokio::test]
async fn a_request_that_answered_408_keeps_its_slot_until_its_run_ends() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    app.set_limits(&t.id, json!({"concurrent_requests": 1, "burst": 1000}))
        .await;
    mock.push(Script {
        delay_ms: 1500,
        ..Default::default()
    });
    let resp = app
        .post_json(
            "/v1/message",
            &t.key,
            &json!({"message": "slow", "timeout_ms": 100, "model": "openai/mock-1"}),
        )
        .await;
    let body = expect_error(resp, 408, "timeout").await;
    let run = body["error"]["details"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();

    // The run goes on, and holds the tenant's one slot.
    let refused = agent_run(&app, &t, json!({"message": "hi"})).await;
    let err = expect_error(refused, 429, "rate_limited").await;
    assert_eq!(err["error"]["details"]["concurrent_limit"], 1);

    // Once it has ended (the poll URL says so), the slot is free.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app
            .get_json(&format!("/v1/message/{run}/status"), &t.key)
            .await;
        if status["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "the run did not end: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = agent_run(&app, &t, json!({"message": "hi"})).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

#[tokio::test]
async fn a_tenant_over_its_daily_tokens_gets_429_and_the_upstream_hears_nothing() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let other = app.create_tenant(Tier::Free).await;
    app.set_limits(&t.id, json!({"tokens_per_day": 100})).await;
    mock.push(Script {
        usage: Some(Usage {
            input_tokens: 60,
            output_tokens: 40,
        }),
        ..Default::default()
    });
    let first = app
        .post_json(
            "/v1/chat/completions",
            &t.key,
            &json!({"model": "openai/mock-1", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-remaining-tokens"], "0");
    let heard = mock.requests().len();

    for (path, body) in [
        (
            "/v1/chat/completions",
            json!({"model": "openai/mock-1", "messages": [{"role": "user", "content": "again"}]}),
        ),
        (
            "/v1/agent/run",
            json!({"message": "again", "sessionKey": "s"}),
        ),
        ("/v1/agent/run/stream", json!({"message": "again"})),
    ] {
        let resp = app.post_json(path, &t.key, &body).await;
        let err = expect_error(resp, 429, "rate_limited").await;
        assert_eq!(err["error"]["details"]["quota"], "tokens_per_day", "{path}");
        assert_eq!(err["error"]["details"]["limit"], 100);
        assert!(err["error"]["details"]["reset_at"].is_string());
    }
    assert_eq!(mock.requests().len(), heard, "no model call past the quota");

    // Another replica hears of the spent quota through the shared counter.
    let replica = app.replica().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let resp = replica
            .post_json("/v1/agent/run", &t.key, &json!({"message": "there?"}))
            .await;
        if resp.status() == 429 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica still runs: {}",
            resp.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Other tenants are not affected.
    let resp = app
        .post_json("/v1/agent/run", &other.key, &json!({"message": "hi"}))
        .await;
    assert_eq!(resp.status(), 200);
}
