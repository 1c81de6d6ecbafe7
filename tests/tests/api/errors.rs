use openclaw_domain::Tier;
use openclaw_store::{Actor, NewApiKey};
use openclaw_tests::{expect_error, spawn_app, spawn_with, AppOptions};
use reqwest::Method;
use std::time::Duration;

#[tokio::test]
async fn unknown_route_and_wrong_method_speak_json() {
    let app = spawn_app().await;
    expect_error(app.get("/v1/nope").send().await.unwrap(), 404, "not_found").await;
    expect_error(app.get("/nope").send().await.unwrap(), 404, "not_found").await;
    // Under /api/v1, S2's flat shape (`error` is the code); under /v1 the nested one.
    let flat = expect_error(
        app.get("/api/v1/nope").send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_eq!(flat["error"], "not_found", "{flat}");
    let nested = expect_error(app.get("/v1/nope").send().await.unwrap(), 404, "not_found").await;
    assert_eq!(nested["error"]["code"], "not_found", "{nested}");
    let resp = app.request(Method::PUT, "/health").send().await.unwrap();
    assert!(resp.headers().contains_key("allow"));
    expect_error(resp, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn bad_bodies_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let post = || app.post("/v1/api-keys").bearer_auth(&t.key);

    let resp = post()
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));

    let resp = post()
        .json(&serde_json::json!({"name": "x", "tenant_id": "ten_x"}))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(
        body["error"]["param"], "tenant_id",
        "unknown fields are refused, never mass-assigned"
    );

    let resp = post()
        .json(&serde_json::json!({"name": 5}))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "name");

    let resp = post()
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    expect_error(resp, 415, "unsupported_media_type").await;
    // A real form is refused too; only JSON that curl labelled as a form passes.
    let resp = post()
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x")
        .send()
        .await
        .unwrap();
    expect_error(resp, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn oversize_bodies_are_413() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(10 * 1024 * 1024));
    let resp = app
        .post("/v1/api-keys")
        .bearer_auth(&t.key)
        .json(&())
        .body(big)
        .send()
        .await
        .unwrap();
    expect_error(resp, 413, "payload_too_large").await;
    let resp = app
        .post("/api/v1/message")
        .bearer_auth(&t.key)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"message\":\"{}\"}}",
            "x".repeat(10 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    let flat = expect_error(resp, 413, "payload_too_large").await;
    assert_eq!(flat["status"], 413);
}

#[tokio::test]
async fn slow_requests_time_out_with_408() {
    // A zero timeout expires at the first await on I/O: here the key lookup in Postgres.
    let app = spawn_with(AppOptions {
        configure: Box::new(|c| c.request_timeout = Duration::ZERO),
        ..Default::default()
    })
    .await;
    let tenant = app
        .store
        .create_tenant(Actor::Cli, "slow", Tier::Free)
        .await
        .unwrap();
    let (_, key) = app
        .store
        .create_key(
            Actor::Cli,
            NewApiKey {
                tenant: tenant.id,
                name: "k",
                scopes: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let resp = app.status_response(key.expose()).await;
    let body = expect_error(resp, 408, "timeout").await;
    assert_eq!(body["error"]["type"], "timeout_error");
}

#[tokio::test]
async fn request_ids_are_propagated_or_generated() {
    let app = spawn_app().await;
    let resp = app
        .get("/health")
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-abc-123");
    let resp = app
        .get("/v1/status")
        .header("x-request-id", "trace-xyz")
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 401, "unauthorized").await;
    assert_eq!(body["error"]["request_id"], "trace-xyz");
    let resp = app
        .get("/health")
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.starts_with("req_"), "unsafe ids are replaced: {id}");
}

#[tokio::test]
async fn arrays_syntax_errors_and_bad_query_values_get_precise_errors() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = app
        .post("/v1/auth/tokens")
        .bearer_auth(&t.key)
        .json(&serde_json::json!([]))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("JSON object"));

    let resp = app
        .post("/v1/auth/tokens")
        .bearer_auth(&t.key)
        .header("content-type", "application/json")
        .body("{\"ttl_seconds\": }")
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert!(
        body["error"]["param"].is_null(),
        "a syntax error names no field: {body}"
    );

    let resp = app
        .get("/v1/api-keys?include_revoked=yes")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "include_revoked");
    let resp = app
        .get("/v1/api-keys?sort=desc")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "sort");
}
