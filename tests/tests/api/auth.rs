use std::time::{Duration, Instant};

use base64::Engine;
use openclaw_domain::Tier;
use openclaw_tests::{expect_error, spawn_app, JWT_SECRET};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn refuses_missing_malformed_and_unknown_keys_with_401() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;

    let body = expect_error(
        app.get("/v1/status").send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(body["error"]["type"], "authentication_error");

    let resp = app.status_response("sk-not-ours").await;
    assert!(resp.headers().contains_key("www-authenticate"));
    expect_error(resp, 401, "unauthorized").await;

    let resp = app
        .get("/v1/status")
        .header("authorization", "Token abc")
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "unauthorized").await;

    // Flip one character of a real key: the checksum no longer matches.
    let mut bad = t.key.clone().into_bytes();
    bad[15] = if bad[15] == b'a' { b'b' } else { b'a' };
    let bad = String::from_utf8(bad).unwrap();
    let resp = app.status_response(&bad).await;
    let body = expect_error(resp, 401, "unauthorized").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("checksum"));

    // Well-formed but never issued.
    let unknown = openclaw_domain::ApiKeySecret::generate();
    let resp = app.status_response(unknown.expose()).await;
    expect_error(resp, 401, "unauthorized").await;

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("reason=\"malformed_key\""),
        "checksum failures are counted"
    );
    assert!(metrics.contains("reason=\"unknown_key\""));
}

#[tokio::test]
async fn accepts_bearer_basic_and_openclaw_password() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let ok = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap())
    };
    ok(app.status_response(&t.key).await).await;
    ok(app
        .get("/v1/status")
        .basic_auth("anything", Some(&t.key))
        .send()
        .await
        .unwrap())
    .await;
    let header = base64::engine::general_purpose::STANDARD.encode(format!(":{}", t.key));
    ok(app
        .get("/v1/status")
        .header("authorization", format!("Basic {header}"))
        .send()
        .await
        .unwrap())
    .await;
    ok(app
        .get("/v1/status")
        .header("x-openclaw-password", &t.key)
        .send()
        .await
        .unwrap())
    .await;
}

#[tokio::test]
async fn revoked_and_expired_keys_are_refused() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    assert_eq!(app.status_as(&t.key).await, 200);

    let resp = app
        .delete(&format!("/v1/api-keys/{}", t.key_id))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.status_response(&t.key).await;
    let body = expect_error(resp, 401, "unauthorized").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));

    let soon = chrono::Utc::now() + chrono::Duration::hours(1);
    let k = app
        .admin_key(&t.id, json!({"name": "short", "expires_at": soon}))
        .await;
    let key = k["key"].as_str().unwrap();
    assert_eq!(app.status_as(key).await, 200);
    // Let the hour pass, as far as the database is concerned.
    sqlx::query("UPDATE api_keys SET expires_at = now() - interval '1 second'")
        .execute(&app.sql)
        .await
        .unwrap();
    let fresh = app.replica().await; // a replica with a cold cache sees the stored expiry
    let resp = fresh.status_response(key).await;
    let body = expect_error(resp, 401, "unauthorized").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn a_key_revoked_on_one_replica_is_refused_by_another_within_a_second() {
    let a = spawn_app().await;
    let b = a.replica().await;
    let t = a.create_tenant(Tier::Pro).await;
    // B has the key cached.
    assert_eq!(b.status_as(&t.key).await, 200);
    assert_eq!(b.status_as(&t.key).await, 200);

    let revoked_at = Instant::now();
    let resp = a
        .delete(&format!("/v1/api-keys/{}", t.key_id))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let refused = loop {
        let status = b.status_as(&t.key).await;
        if status == 401 {
            break revoked_at.elapsed();
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "replica B still accepts a revoked key after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(refused < Duration::from_secs(1), "took {refused:?}");
}

async fn mint(app: &openclaw_tests::TestApp, key: &str, body: Value) -> Value {
    let resp = app
        .post("/v1/auth/tokens")
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn jwts_minted_from_a_key_work_on_any_replica_until_the_key_is_revoked() {
    let a = spawn_app().await;
    let b = a.replica().await;
    let t = a.create_tenant(Tier::Free).await;
    let tok = mint(
        &a,
        &t.key,
        json!({"ttl_seconds": 600, "scopes": ["sessions"]}),
    )
    .await;
    let token = tok["token"].as_str().unwrap();
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["scopes"], json!(["sessions"]));
    assert!(tok["expires_at"].is_string());

    let resp = b.status_response(token).await;
    assert_eq!(resp.status(), 200);
    let status: Value = resp.json().await.unwrap();
    assert_eq!(status["tenant"]["id"], t.id.as_str());

    // Narrow scopes hold: no `keys` scope, so no key management.
    let resp = b
        .get("/v1/api-keys")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "forbidden").await;
    // A token cannot mint tokens.
    let resp = b
        .post("/v1/auth/tokens")
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "forbidden").await;
    // Nor ask for more than its key has.
    let limited = a
        .admin_key(&t.id, json!({"name": "ro", "scopes": ["memory"]}))
        .await;
    let resp = a
        .post("/v1/auth/tokens")
        .bearer_auth(limited["key"].as_str().unwrap())
        .json(&json!({"scopes": ["memory", "keys"]}))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "scopes");

    let resp = a
        .delete(&format!("/v1/api-keys/{}", t.key_id))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resp = b.status_response(token).await;
    expect_error(resp, 401, "unauthorized").await;
}

#[tokio::test]
async fn expired_forged_and_bad_ttl_tokens_are_refused() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let tok = mint(&app, &t.key, json!({})).await;
    let claims: Value = {
        let payload = tok["token"].as_str().unwrap().split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    let sign = |claims: &Value, secret: &str| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("test".into());
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 60);
    let resp = app.status_response(sign(&expired, JWT_SECRET)).await;
    let body = expect_error(resp, 401, "unauthorized").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));

    let resp = app
        .status_response(sign(&claims, "another-secret-of-sufficient-length!!"))
        .await;
    expect_error(resp, 401, "unauthorized").await;

    // Claims that name another tenant than the key's.
    let other = app.create_tenant(Tier::Free).await;
    let mut crossed = claims.clone();
    crossed["sub"] = json!(other.id);
    let resp = app.status_response(sign(&crossed, JWT_SECRET)).await;
    expect_error(resp, 401, "unauthorized").await;

    let resp = app
        .post("/v1/auth/tokens")
        .bearer_auth(&t.key)
        .json(&json!({"ttl_seconds": 0}))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "ttl_seconds");
}

#[tokio::test]
async fn query_string_tokens_are_refused_outside_websocket() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = app
        .get(&format!("/v1/status?token={}", t.key))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "token");
}

/// Behind a load balancer every client shares one address: a guesser there must not shut the
/// honest clients out. Its failures turn into 429s; good credentials keep getting in.
#[tokio::test]
async fn an_address_that_keeps_failing_gets_429s_but_its_good_clients_get_in() {
    let app = openclaw_tests::spawn_with(openclaw_tests::AppOptions {
        configure: Box::new(|c| c.auth_failures_per_minute = 5),
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    let other = app.create_tenant(Tier::Free).await;
    assert_eq!(app.status_as(&t.key).await, 200);
    for _ in 0..6 {
        let resp = app.status_response("oc_api_sk_wrong").await;
        assert_eq!(resp.status(), 401);
    }
    // The guesser now hears 429, with when to try again.
    let resp = app.status_response("oc_api_sk_wrong").await;
    assert_eq!(resp.headers()["retry-after"], "60");
    expect_error(resp, 429, "rate_limited").await;
    // A key known to the replica, one it has not seen yet, and a token all get in.
    assert_eq!(app.status_as(&t.key).await, 200);
    assert_eq!(app.status_as(&other.key).await, 200);
    let tok = app
        .post_json("/v1/auth/tokens", &t.key, &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(app.status_as(tok["token"].as_str().unwrap()).await, 200);
    // Public routes stay open.
    assert_eq!(app.get("/health").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_until_reactivated() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    assert_eq!(app.status_as(&t.key).await, 200);
    let patch = |status: &'static str| {
        app.admin(Method::PATCH, &format!("/tenants/{}", t.id))
            .json(&json!({"status": status}))
            .send()
    };
    assert_eq!(patch("suspended").await.unwrap().status(), 200);
    let resp = app.status_response(&t.key).await;
    let body = expect_error(resp, 403, "forbidden").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("suspended"));
    assert_eq!(patch("active").await.unwrap().status(), 200);
    assert_eq!(app.status_as(&t.key).await, 200);
}
