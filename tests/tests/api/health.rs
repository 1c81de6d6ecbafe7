use openclaw_domain::Tier;
use openclaw_tests::{spawn_app, spawn_with, AppOptions, RedisMode};
use serde_json::Value;

#[tokio::test]
async fn health_answers_on_every_documented_path_without_auth() {
    let app = spawn_app().await;
    for path in ["/health", "/healthz", "/v1/health", "/api/v1/health"] {
        let resp = app.get(path).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers().contains_key("x-request-id"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        assert!(body["version"].is_string());
        assert!(body["uptime_seconds"].is_u64());
    }
}

#[tokio::test]
async fn ready_reports_postgres_and_redis_and_degrades_without_redis() {
    let app = spawn_app().await;
    let body: Value = app
        .get("/ready")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["postgres"], "ok");
    assert_eq!(body["checks"]["redis"], "ok");

    let dead = spawn_with(AppOptions {
        redis: RedisMode::Dead,
        ..Default::default()
    })
    .await;
    let resp = dead.get("/ready").send().await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "Redis down degrades, it does not take the replica out"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["redis"], "down");

    let alone = spawn_with(AppOptions {
        redis: RedisMode::Absent,
        ..Default::default()
    })
    .await;
    let body: Value = alone
        .get("/ready")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["redis"], "disabled");
}

#[tokio::test]
async fn status_shows_the_callers_tenant_on_all_three_paths() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Pro).await;
    for path in ["/v1/status", "/api/v1/status", "/status"] {
        let resp = app.get(path).bearer_auth(&t.key).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "running");
        assert_eq!(body["tenant"]["id"], t.id.as_str());
        assert_eq!(body["tenant"]["tier"], "pro");
        assert_eq!(body["gateway"]["auth_enabled"], true);
        assert!(body["uptime_seconds"].is_u64());
    }
}

#[tokio::test]
async fn metrics_are_served_on_their_own_port_by_route_template() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    app.status_response(&t.key).await;
    app.status_response("oc_api_sk_garbage").await;
    app.get(&format!("/v1/api-keys/{}", t.key_id))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();

    let public = app.get("/metrics").send().await.unwrap();
    assert_eq!(public.status(), 404, "metrics never on the public port");

    let text = app.metrics().await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("openclaw_http_requests_total")
                && l.contains("route=\"/v1/status\"")
                && l.contains("status=\"200\"")
                && l.contains("tier=\"free\"")),
        "{text}"
    );
    assert!(
        text.contains("route=\"/v1/api-keys/{id}\""),
        "route templates, not raw paths"
    );
    assert!(!text.contains(&t.key_id), "no ids in labels");
    assert!(text.contains("openclaw_http_request_duration_seconds_bucket"));
    assert!(text.contains("openclaw_auth_failures_total{reason=\"malformed_key\"}"));
    assert!(text.contains("openclaw_redis_fallback"));
}

#[tokio::test]
async fn a_draining_replica_reports_not_ready_while_still_serving() {
    let app = spawn_with(AppOptions {
        configure: Box::new(|c| c.drain_delay = std::time::Duration::from_secs(2)),
        ..Default::default()
    })
    .await;
    assert_eq!(app.get("/ready").send().await.unwrap().status(), 200);
    app.begin_shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let resp = app.get("/ready").send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "draining");
    assert_eq!(
        app.get("/health").send().await.unwrap().status(),
        200,
        "still serving during the delay"
    );
}

#[tokio::test]
async fn shutdown_drains_and_flushes_key_use() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = app.status_response(&t.key).await;
    assert_eq!(resp.status(), 200);
    let store = app.store.clone();
    let tenant_id = t.id.parse().unwrap();
    app.stop().await;
    let keys = store.list_keys(tenant_id, false).await.unwrap();
    assert!(
        keys[0].last_used_at.is_some(),
        "last_used_at is written by the batch, at the latest on shutdown"
    );
}
