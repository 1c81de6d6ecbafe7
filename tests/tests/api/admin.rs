use openclaw_domain::Tier;
use openclaw_tests::{expect_error, spawn_app, spawn_with, AppOptions, ADMIN_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn the_operator_api_needs_the_operator_token_and_nothing_else() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = app.get("/admin/v1/tenants").send().await.unwrap();
    expect_error(resp, 401, "unauthorized").await;
    let resp = app
        .get("/admin/v1/tenants")
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "unauthorized").await;
    let resp = app
        .get("/admin/v1/tenants")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "unauthorized").await;
    // And the operator token is not a tenant credential.
    let resp = app.status_response(ADMIN_TOKEN).await;
    expect_error(resp, 401, "unauthorized").await;

    let disabled = spawn_with(AppOptions {
        configure: Box::new(|c| c.admin_token = None),
        ..Default::default()
    })
    .await;
    let resp = disabled
        .get("/admin/v1/tenants")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 401, "unauthorized").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("OPENCLAW_ADMIN_TOKEN"));
}

#[tokio::test]
async fn operators_create_list_update_tenants_and_manage_their_keys() {
    let app = spawn_app().await;
    let resp = app
        .admin(Method::POST, "/tenants")
        .json(&json!({"name": "Acme", "tier": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let t: Value = resp.json().await.unwrap();
    let id = t["id"].as_str().unwrap();
    assert!(id.starts_with("ten_"));
    assert_eq!(t["name"], "Acme");
    assert_eq!(t["tier"], "pro");
    assert_eq!(t["status"], "active");
    assert!(t["created_at"].is_string());
    assert_eq!(t["limits"]["requests_per_hour"], 10_000);

    let resp = app
        .admin(Method::POST, "/tenants")
        .json(&json!({"name": "X", "tier": "gold"}))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "tier");
    let resp = app
        .admin(Method::POST, "/tenants")
        .json(&json!({"name": "X", "status": "active"}))
        .send()
        .await
        .unwrap();
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "status");

    let list: Value = app
        .admin(Method::GET, "/tenants?limit=10")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == id));
    let resp = app
        .admin(Method::GET, "/tenants?limit=1000")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "invalid_request").await;

    let resp = app
        .admin(Method::PATCH, &format!("/tenants/{id}"))
        .json(&json!({"tier": "enterprise", "limits": {"burst": 7}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["tier"], "enterprise");
    assert_eq!(t["limits"]["burst"], 7);
    assert_eq!(t["limits"]["requests_per_hour"], 100_000);
    for bad in [
        json!({"limits": {"burst": 0}}),
        json!({"limits": {"nonsense": 1}}),
        json!({"status": "gone"}),
    ] {
        let resp = app
            .admin(Method::PATCH, &format!("/tenants/{id}"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        expect_error(resp, 400, "invalid_request").await;
    }

    let key = app.admin_key(id, json!({"name": "production"})).await;
    let secret = key["key"].as_str().unwrap();
    let status: Value = app.get_json("/v1/status", secret).await;
    assert_eq!(status["tenant"]["tier"], "enterprise");
    assert_eq!(status["tenant"]["limits"]["burst"], 7);

    let keys: Value = app
        .admin(Method::GET, &format!("/tenants/{id}/api-keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
    let key_id = key["id"].as_str().unwrap();
    let resp = app
        .admin(Method::DELETE, &format!("/tenants/{id}/api-keys/{key_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(app.status_as(secret).await, 401);

    let audit: Value = app
        .admin(Method::GET, &format!("/tenants/{id}/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "key.revoked",
            "key.created",
            "tenant.updated",
            "tenant.created"
        ]
    );
}

#[tokio::test]
async fn operator_routes_are_404_for_unknown_tenants_and_keys() {
    let app = spawn_app().await;
    let a = app.create_tenant(Tier::Free).await;
    let b = app.create_tenant(Tier::Free).await;
    let ghost = "ten_0190b4d2a1c47c3b8f1e2d3c4b5a6978";
    expect_error(
        app.admin(Method::GET, &format!("/tenants/{ghost}"))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.admin(Method::GET, "/tenants/garbage")
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    // A's key through B's path is not B's key.
    let resp = app
        .admin(
            Method::DELETE,
            &format!("/tenants/{}/api-keys/{}", b.id, a.key_id),
        )
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    assert_eq!(app.status_as(&a.key).await, 200);
}
