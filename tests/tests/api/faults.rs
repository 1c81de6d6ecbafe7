//! Faults the API must ride out in-process: a database that goes away (every connection cut,
//! new ones refused, by the proxy in front of it) answers 503 with `Retry-After`, never 500,
//! and the first request after it is back succeeds.

use openclaw_domain::Tier;
use openclaw_tests::pg_proxy::{upstream_of, PgProxy};
use openclaw_tests::{expect_error, services, spawn_with, AppOptions};
use serde_json::json;

#[tokio::test]
async fn a_database_outage_is_503_with_retry_after_and_recovery_is_immediate() {
    let url = services::get().await.fresh_database().await;
    let proxy = PgProxy::start(&upstream_of(&url)).await;
    let app = spawn_with(AppOptions {
        database_url: Some(proxy.url_for(&url)),
        worker: None,
        pool_size: 2,
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Pro).await;
    let session = app
        .post_json("/v1/sessions", &t.key, &json!({"session_id": "s"}))
        .await;
    assert_eq!(session.status(), 201);

    proxy.sever();
    for path in ["/v1/sessions/s", "/v1/tasks", "/v1/memory"] {
        let resp = app.get(path).bearer_auth(&t.key).send().await.unwrap();
        assert_eq!(resp.headers()["retry-after"], "1", "{path}");
        let body = expect_error(resp, 503, "service_unavailable").await;
        assert!(body["error"]["request_id"].is_string(), "{body}");
    }
    let resp = app
        .post_json(
            "/v1/message",
            &t.key,
            &json!({"message": "hi", "conversation_id": "s"}),
        )
        .await;
    assert_eq!(resp.headers()["retry-after"], "1");
    expect_error(resp, 503, "service_unavailable").await;

    // Back: the connections the outage broke do not fail a request.
    proxy.restore();
    let seen = app.get_json("/v1/sessions/s", &t.key).await;
    assert_eq!(seen["sessionKey"], "s", "{seen}");
    let tasks = app
        .get("/v1/tasks")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(tasks.status(), 200);
}

/// Probes from every load balancer and kubelet share one check a second: `/ready` does not
/// cost each of them a database round trip.
#[tokio::test]
async fn readiness_checks_the_database_at_most_once_a_second() {
    let url = services::get().await.fresh_database().await;
    let proxy = PgProxy::start(&upstream_of(&url)).await;
    let app = spawn_with(AppOptions {
        database_url: Some(proxy.url_for(&url)),
        worker: None,
        configure: Box::new(|c| c.last_used_flush = std::time::Duration::from_secs(3600)),
        ..Default::default()
    })
    .await;
    let started = std::time::Instant::now();
    proxy.reset();
    for _ in 0..20 {
        let resp = app.get("/ready").send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    // A ping is one round trip, or two on a connection it has not been prepared on.
    let round_trips = proxy
        .statements()
        .iter()
        .filter(|s| s.as_str() == "SELECT 1")
        .count();
    let pings = round_trips.div_ceil(2);
    let allowed = started.elapsed().as_secs() as usize + 1;
    assert!(
        (1..=allowed).contains(&pings),
        "{pings} pings for 20 probes in {:?}: {:?}",
        started.elapsed(),
        proxy.statements()
    );
}
