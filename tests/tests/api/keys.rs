use openclaw_domain::Tier;
use openclaw_tests::{expect_error, spawn_app};
use serde_json::{json, Value};

#[tokio::test]
async fn a_tenant_creates_lists_reads_and_revokes_its_own_keys() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;

    let resp = app
        .post("/v1/api-keys")
        .bearer_auth(&t.key)
        .json(&json!({"name": "production", "scopes": ["messages", "sessions"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let secret = created["key"].as_str().unwrap();
    assert!(secret.starts_with("oc_api_sk_") && secret.len() == 48);
    assert_eq!(created["name"], "production");
    assert_eq!(created["scopes"], json!(["messages", "sessions"]));
    assert_eq!(created["prefix"], &secret[..14]);
    assert_eq!(created["last4"], &secret[44..]);
    let new_id = created["id"].as_str().unwrap();
    assert!(new_id.starts_with("key_"));

    // The new key works, and is limited to its scopes.
    assert_eq!(app.status_as(secret).await, 200);
    expect_error(
        app.get("/v1/api-keys")
            .bearer_auth(secret)
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;

    let list: Value = app.get_json("/v1/api-keys", &t.key).await;
    assert_eq!(list["object"], "list");
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(
        data.iter().all(|k| k.get("key").is_none()),
        "secrets are shown once, at creation"
    );
    assert!(!list.to_string().contains(secret));

    let one: Value = app
        .get_json(&format!("/v1/api-keys/{new_id}"), &t.key)
        .await;
    assert_eq!(one["id"], new_id);
    assert!(one.get("key").is_none());

    let resp = app
        .delete(&format!("/v1/api-keys/{new_id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["revoked"], true);
    assert_eq!(app.status_as(secret).await, 401);

    let list: Value = app.get_json("/v1/api-keys", &t.key).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "revoked keys leave the default list"
    );
    let all: Value = app
        .get_json("/v1/api-keys?include_revoked=true", &t.key)
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn another_tenants_keys_are_404_to_see_and_to_revoke() {
    let app = spawn_app().await;
    let alice = app.create_tenant(Tier::Free).await;
    let bob = app.create_tenant(Tier::Free).await;

    let resp = app
        .get(&format!("/v1/api-keys/{}", bob.key_id))
        .bearer_auth(&alice.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    let resp = app
        .delete(&format!("/v1/api-keys/{}", bob.key_id))
        .bearer_auth(&alice.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    let list: Value = app.get_json("/v1/api-keys", &alice.key).await;
    assert!(!list.to_string().contains(&bob.key_id));
    // Bob's key still works.
    assert_eq!(app.status_as(&bob.key).await, 200);
    // Malformed ids are simply not found.
    let resp = app
        .delete("/v1/api-keys/key_nope")
        .bearer_auth(&alice.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn a_key_cannot_create_a_more_powerful_key_and_scopes_are_checked() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let manager = app
        .admin_key(
            &t.id,
            json!({"name": "manager", "scopes": ["keys", "memory"]}),
        )
        .await;
    let manager = manager["key"].as_str().unwrap();

    // No scopes given means "all", which is more than this key has.
    let resp = app
        .post("/v1/api-keys")
        .bearer_auth(manager)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "scopes");

    for scopes in [json!(["admin"]), json!(["bogus"]), json!([])] {
        let resp = app
            .post("/v1/api-keys")
            .bearer_auth(manager)
            .json(&json!({"name": "x", "scopes": scopes}))
            .send()
            .await
            .unwrap();
        let body = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(body["error"]["param"], "scopes", "{scopes}");
    }
    let resp = app
        .post("/v1/api-keys")
        .bearer_auth(manager)
        .json(&json!({"name": "x", "scopes": ["memory"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let resp = app
        .post("/v1/api-keys")
        .bearer_auth(&t.key)
        .json(&json!({"name": "x", "expiresAt": "2001-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "expires_at");

    let resp = app
        .post("/v1/api-keys")
        .bearer_auth(&t.key)
        .json(&json!({"name": "  "}))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "name");
}
