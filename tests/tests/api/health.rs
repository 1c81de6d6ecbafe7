use std::time::{Duration, Instant};

use openclaw_domain::Tier;
use openclaw_tests::{spawn_app, spawn_with, AppOptions, RedisMode};
use serde_json::{json, Value};

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
async fn status_answers_each_seeds_shape_with_the_tenants_real_counters() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Pro).await;
    let other = app.create_tenant(Tier::Free).await;
    let resp = app
        .post("/v1/agent/run")
        .bearer_auth(&t.key)
        .json(&json!({"message": "hello", "sessionKey": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // S2's sections under /v1; the usage count arrives with the write-behind batch.
    let deadline = Instant::now() + Duration::from_secs(10);
    let s2 = loop {
        let s2 = app.get_json("/v1/status", &t.key).await;
        if s2["reasoning"]["total_requests"] == 1 {
            break s2;
        }
        assert!(Instant::now() < deadline, "the run never counted: {s2}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(s2["status"], "running");
    assert!(s2["uptime_seconds"].is_u64());
    assert_eq!(s2["gateway"]["auth_enabled"], true);
    assert!(s2["gateway"]["port"].is_u64() && s2["gateway"]["bind"].is_string());
    assert_eq!(s2["reasoning"]["primary_provider"], "builtin");
    assert_eq!(s2["reasoning"]["primary_model"], "echo");
    assert!(s2["reasoning"]["avg_latency_ms"].is_i64(), "{s2}");
    let skills = &s2["skills"];
    assert!(skills["installed"].as_i64().unwrap() >= skills["active"].as_i64().unwrap());
    assert!(skills["container_engine"].is_string() && skills["rootless"].is_boolean());
    assert_eq!(s2["channels"], json!({"connected": [], "disconnected": []}));
    assert_eq!(s2["sessions"], json!({"active": 0, "total": 1}));
    assert!(s2["models"]["available"].as_u64() >= Some(1));
    assert_eq!(s2["models"]["default"], "builtin/echo");
    assert_eq!(s2["tenant"]["id"], t.id.as_str());
    assert_eq!(s2["tenant"]["tier"], "pro");

    // Under /api/v1: S0's envelope, S2's sections beside it.
    let gw = app.get_json("/api/v1/status", &t.key).await;
    assert_eq!(gw["success"], true);
    assert_eq!(gw["data"]["gateway"]["status"], "running");
    assert!(gw["data"]["gateway"]["version"].is_string());
    assert!(gw["data"]["gateway"]["uptime"].is_u64());
    assert_eq!(gw["data"]["models"], s2["models"]);
    assert_eq!(gw["data"]["sessions"], json!({"active": 0, "total": 1}));
    for section in ["reasoning", "memory", "skills", "channels", "gateway"] {
        assert!(
            gw[section].is_object(),
            "S2's {section} at the top level: {gw}"
        );
    }
    assert_eq!(gw["uptime_seconds"], gw["data"]["gateway"]["uptime"]);

    // S4's shape on the bare path.
    let s4 = app.get_json("/status", &t.key).await;
    assert_eq!(s4["status"], "ok");
    assert!(s4["uptime"].is_u64() && s4["version"].is_string());
    assert_eq!(s4["gateway"]["auth"], "token");
    assert_eq!(s4["gateway"]["port"], s2["gateway"]["port"]);
    assert_eq!(s4["channels"], json!({}));

    // Another tenant's counters are its own.
    let theirs = app.get_json("/v1/status", &other.key).await;
    assert_eq!(theirs["sessions"]["total"], 0);
    assert_eq!(theirs["reasoning"]["total_requests"], 0);
    assert_eq!(theirs["reasoning"]["avg_latency_ms"], Value::Null);
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

/// Every statement the services run is bounded: a runaway query fails instead of holding its
/// connection (and the request behind it) for ever.
#[tokio::test]
async fn the_pool_bounds_every_statement() {
    let app = openclaw_tests::spawn_app().await;
    let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(timeout, "30s");
}
