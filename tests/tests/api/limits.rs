use std::time::{SystemTime, UNIX_EPOCH};

use openclaw_domain::Tier;
use openclaw_tests::{
    expect_error, spawn_app, spawn_with, AppOptions, RedisMode, TestApp, TestTenant,
};
use serde_json::Value;

async fn status(app: &TestApp, t: &TestTenant) -> reqwest::Response {
    app.status_response(&t.key).await
}

#[tokio::test]
async fn the_free_tier_allows_its_burst_then_429_with_headers_and_body() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    for i in 0..20u32 {
        let resp = status(&app, &t).await;
        assert_eq!(resp.status(), 200, "request {i} of the burst");
        let h = resp.headers();
        assert_eq!(h["x-ratelimit-limit"], "1000");
        let remaining: u32 = h["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            remaining <= 19 - i,
            "remaining {remaining} after {} requests",
            i + 1
        );
        assert!(h.contains_key("x-ratelimit-reset"));
        assert!(h["ratelimit-policy"].to_str().unwrap().contains("q=1000"));
        assert!(h["ratelimit"]
            .to_str()
            .unwrap()
            .contains(&format!("r={remaining}")));
    }
    let resp = status(&app, &t).await;
    let headers = resp.headers().clone();
    let body = expect_error(resp, 429, "rate_limited").await;
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Rate limit exceeded. Try again in"));
    let details = &body["error"]["details"];
    assert_eq!(details["limit"], 1000);
    assert_eq!(details["remaining"], 0);
    let reset_at =
        chrono::DateTime::parse_from_rfc3339(details["reset_at"].as_str().unwrap()).unwrap();
    assert!(reset_at > chrono::Utc::now());
    assert!(details["retry_after"].as_u64() >= Some(1), "{details}");

    assert_eq!(headers["x-ratelimit-remaining"], "0");
    // Under /api/v1, S2's flat shape: the same details at the top level.
    let resp = app
        .get("/api/v1/status")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let flat = expect_error(resp, 429, "rate_limited").await;
    assert_eq!(flat["error"], "rate_limited", "{flat}");
    assert_eq!(flat["type"], "rate_limit_error");
    assert_eq!(flat["details"]["limit"], 1000);
    assert_eq!(flat["details"]["remaining"], 0);
    assert!(flat["details"]["reset_at"].is_string(), "{flat}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(
        details["retry_after"], retry,
        "the header's wait, in the body"
    );
    assert!(
        (1..=4).contains(&retry),
        "one request per 3.6 s refills: retry-after {retry}"
    );
    let reset: u64 = headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        reset > now && reset <= now + 5,
        "reset {reset} vs now {now}"
    );

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("openclaw_rate_limited_total{tier=\"free\",kind=\"rate\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn tenants_are_limited_separately_and_overrides_apply() {
    let app = spawn_app().await;
    let a = app.create_tenant(Tier::Free).await;
    let b = app.create_tenant(Tier::Free).await;
    app.set_limits(&a.id, serde_json::json!({"burst": 3})).await;
    for _ in 0..3 {
        assert_eq!(status(&app, &a).await.status(), 200);
    }
    assert_eq!(status(&app, &a).await.status(), 429);
    assert_eq!(
        status(&app, &b).await.status(),
        200,
        "another tenant is unaffected"
    );
    // `null` returns a limit to the tier's value.
    app.set_limits(&a.id, serde_json::json!({"burst": null}))
        .await;
    let t: Value = app
        .admin(reqwest::Method::GET, &format!("/tenants/{}", a.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["limits"]["burst"], 20);
    assert_eq!(t["limit_overrides"], serde_json::json!({}));
}

#[tokio::test]
async fn two_replicas_sharing_redis_enforce_one_limit() {
    let a = spawn_app().await;
    let b = a.replica().await;
    let t = a.create_tenant(Tier::Free).await;
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(status(app, &t).await.status(), 200, "request {i}");
    }
    // The burst is spent across both: each replica refuses now.
    expect_error(status(&a, &t).await, 429, "rate_limited").await;
    expect_error(status(&b, &t).await, 429, "rate_limited").await;
}

#[tokio::test]
async fn with_redis_down_requests_succeed_under_the_local_limit() {
    let app = spawn_with(AppOptions {
        redis: RedisMode::Dead,
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    for i in 0..20 {
        let resp = status(&app, &t).await;
        assert_eq!(resp.status(), 200, "request {i} served with Redis down");
        assert!(resp.headers().contains_key("x-ratelimit-remaining"));
    }
    expect_error(status(&app, &t).await, 429, "rate_limited").await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("openclaw_rate_limit_fallback_total"),
        "the fallback is counted"
    );
    let body: Value = status(&app, &t).await.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn without_redis_configured_limits_are_local() {
    let app = spawn_with(AppOptions {
        redis: RedisMode::Absent,
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    app.set_limits(&t.id, serde_json::json!({"burst": 2})).await;
    assert_eq!(status(&app, &t).await.status(), 200);
    assert_eq!(status(&app, &t).await.status(), 200);
    expect_error(status(&app, &t).await, 429, "rate_limited").await;
}

#[tokio::test]
async fn new_limits_take_effect_at_once_in_the_shared_cell() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    app.set_limits(&t.id, serde_json::json!({"burst": 2})).await;
    assert_eq!(status(&app, &t).await.status(), 200);
    assert_eq!(status(&app, &t).await.status(), 200);
    expect_error(status(&app, &t).await, 429, "rate_limited").await;
    // An upgrade right after draining the burst must not inherit the drained state.
    app.set_limits(&t.id, serde_json::json!({"burst": 50}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let resp = status(&app, &t).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "49");
}

#[tokio::test]
async fn the_concurrency_cap_refuses_requests_beyond_it_while_others_are_in_flight() {
    use tokio::io::AsyncWriteExt;

    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    // A burst the polling below cannot drain, so the 429 it waits for is the concurrency cap's
    // (on a loaded machine the held request may take a while to pass the gate).
    app.set_limits(
        &t.id,
        serde_json::json!({"concurrent_requests": 1, "burst": 1000}),
    )
    .await;
    // A request whose body never finishes arriving stays in flight, holding the one slot. It is
    // sent alone, and given time to pass the gate, before anything else competes for the slot.
    let mut held = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /v1/api-keys HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\":",
        t.key
    );
    held.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Poll (bounded) until the held request has passed the gate and holds the slot.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let resp = loop {
        let resp = status(&app, &t).await;
        if resp.status() == 429 || std::time::Instant::now() > deadline {
            break resp;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(resp.headers()["retry-after"], "1");
    let body = expect_error(resp, 429, "rate_limited").await;
    assert_eq!(body["error"]["details"]["concurrent_limit"], 1);

    drop(held);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while status(&app, &t).await.status() != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slot is released when the request ends"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
