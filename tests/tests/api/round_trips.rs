//! The database budget of a run (ARCHITECTURE.md), counted on the wire: the app's pool talks to
//! Postgres through a proxy that records every synchronous round trip. A stateful run makes two
//! (begin, end); a stateless completion none before its answer ends — its record and usage are
//! one statement in the next write-behind batch. A change that adds a round trip fails here.

use std::time::Duration;

use openclaw_domain::Tier;
use openclaw_tests::pg_proxy::{upstream_of, PgProxy, SYNC_ONLY};
use openclaw_tests::{services, spawn_with, AppOptions, TestApp, TestTenant};
use serde_json::{json, Value};

/// An app whose pool goes through `proxy`, with nothing on a timer that would touch the
/// database during a measurement (no worker, no sweep, no key-use flush, a long batch window).
async fn app_through_proxy() -> (TestApp, PgProxy) {
    let url = services::get().await.fresh_database().await;
    let proxy = PgProxy::start(&upstream_of(&url)).await;
    let app = spawn_with(AppOptions {
        database_url: Some(proxy.url_for(&url)),
        worker: None,
        // One connection, so every statement is prepared once and reused (a pool hands out its
        // idle connections in turn, and each prepares a statement on its first use).
        pool_size: 1,
        configure: Box::new(|c| {
            c.last_used_flush = Duration::from_secs(3600);
            c.run_sweep_interval = Duration::from_secs(3600);
            c.write_behind.window = Duration::from_secs(3600);
        }),
        ..Default::default()
    })
    .await;
    (app, proxy)
}

/// The round trips that carried SQL: sqlx's own ping when a connection goes back to its pool
/// (a bare `Sync`, which no caller waits for) is not one.
fn statements(proxy: &PgProxy) -> Vec<String> {
    proxy
        .statements()
        .into_iter()
        .filter(|s| s != SYNC_ONLY)
        .collect()
}

async fn agent_run(app: &TestApp, t: &TestTenant, session: &str) -> Value {
    let resp = app
        .post_json(
            "/v1/agent/run",
            &t.key,
            &json!({"message": "hello there", "sessionKey": session}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn completion(app: &TestApp, t: &TestTenant, extra: Value) -> Value {
    let mut body = json!({"model": "builtin/echo",
                          "messages": [{"role": "user", "content": "hello there"}]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let resp = app.post_json("/v1/chat/completions", &t.key, &body).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_stateful_run_makes_two_round_trips_one_to_begin_and_one_to_end() {
    let (app, proxy) = app_through_proxy().await;
    let t = app.create_tenant(Tier::Free).await;
    // Warm: the key is cached, the statements are prepared on the pool's connections.
    for i in 0..3 {
        agent_run(&app, &t, &format!("warm-{i}")).await;
    }
    proxy.reset();
    for i in 0..5 {
        let r = agent_run(&app, &t, &format!("fresh-{i}")).await;
        assert_eq!(r["response"], "Echo: hello there");
    }
    let sent = statements(&proxy);
    assert_eq!(sent.len(), 10, "two per run: {sent:#?}");
    for pair in sent.chunks(2) {
        assert!(pair[0].contains("openclaw_run_begin"), "{sent:#?}");
        assert!(pair[1].contains("openclaw_run_end"), "{sent:#?}");
    }

    // The same session again: still two (its history comes with the begin).
    proxy.reset();
    agent_run(&app, &t, "fresh-0").await;
    assert_eq!(statements(&proxy).len(), 2, "{:#?}", statements(&proxy));

    // An OpenAI client naming its session (`user`) is stateful too.
    completion(&app, &t, json!({"user": "end-user-1"})).await;
    proxy.reset();
    completion(&app, &t, json!({"user": "end-user-1"})).await;
    assert_eq!(statements(&proxy).len(), 2, "{:#?}", statements(&proxy));
}

#[tokio::test]
async fn a_stateless_completion_makes_no_round_trip_before_its_answer_ends() {
    let (app, proxy) = app_through_proxy().await;
    let t = app.create_tenant(Tier::Free).await;
    completion(&app, &t, json!({})).await;
    app.flush_write_behind().await;
    proxy.reset();

    for _ in 0..5 {
        let r = completion(&app, &t, json!({})).await;
        assert_eq!(r["choices"][0]["message"]["content"], "Echo: hello there");
    }
    let streamed = app
        .post_json(
            "/v1/chat/completions",
            &t.key,
            &json!({"model": "builtin/echo", "stream": true,
                    "messages": [{"role": "user", "content": "hello there"}]}),
        )
        .await;
    assert!(streamed.text().await.unwrap().contains("[DONE]"));
    assert_eq!(
        statements(&proxy),
        Vec::<String>::new(),
        "nothing on the request path"
    );

    // The six runs and their usage: one statement in the next batch.
    app.flush_write_behind().await;
    let sent = statements(&proxy);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].contains("openclaw_write_behind"), "{sent:#?}");
    let usage = app.usage_today(&t.id).await;
    assert_eq!(usage[0].requests, 7, "every completion counted once");
}
