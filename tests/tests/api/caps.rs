//! What a tenant may store: sessions per tenant and messages per session (its plan's, or the
//! operator's override), a user's message at most 512 KiB, and finished runs kept 30 days.

use openclaw_domain::Tier;
use openclaw_tests::{expect_error, spawn_app, TestApp, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

async fn limit(app: &TestApp, t: &TestTenant, limits: Value) {
    let resp = app
        .admin(Method::PATCH, &format!("/tenants/{}", t.id))
        .json(&json!({ "limits": limits }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn message(app: &TestApp, t: &TestTenant, conversation: &str) -> reqwest::Response {
    app.post_json(
        "/v1/message",
        &t.key,
        &json!({"message": "hello", "conversation_id": conversation}),
    )
    .await
}

#[tokio::test]
async fn a_tenant_holds_at_most_its_plans_sessions_and_another_tenant_is_unaffected() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let other = app.create_tenant(Tier::Free).await;
    limit(&app, &t, json!({"sessions": 2})).await;
    for id in ["one", "two"] {
        let resp = app
            .post_json("/v1/sessions", &t.key, &json!({"session_id": id}))
            .await;
        assert_eq!(resp.status(), 201);
    }
    let resp = app
        .post_json("/v1/sessions", &t.key, &json!({"session_id": "three"}))
        .await;
    let body = expect_error(resp, 429, "rate_limited").await;
    assert_eq!(body["error"]["details"]["limit"], 2, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 sessions"),
        "{body}"
    );
    // A run that would open a new conversation is refused the same way; one in a session the
    // tenant holds goes on.
    expect_error(message(&app, &t, "three").await, 429, "rate_limited").await;
    assert_eq!(message(&app, &t, "one").await.status(), 200);
    // Deleting one makes room.
    let resp = app
        .request(Method::DELETE, "/v1/sessions/two")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(message(&app, &t, "three").await.status(), 200);
    // The cap is the tenant's own.
    for id in ["a", "b", "c"] {
        assert_eq!(message(&app, &other, id).await.status(), 200);
    }
}

#[tokio::test]
async fn a_session_full_of_messages_refuses_the_next_and_keeps_every_reply() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    // Two exchanges (a message and its reply each) fill it.
    limit(&app, &t, json!({"messages_per_session": 4})).await;
    assert_eq!(message(&app, &t, "chat").await.status(), 200);
    assert_eq!(message(&app, &t, "chat").await.status(), 200);
    let body = expect_error(message(&app, &t, "chat").await, 429, "rate_limited").await;
    assert_eq!(body["error"]["details"]["limit"], 4, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messages in this session"),
        "{body}"
    );
    let history = app.get_json("/v1/conversations/chat", &t.key).await;
    let roles: Vec<&str> = history["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"))
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    // Another session of the same tenant is not full.
    assert_eq!(message(&app, &t, "fresh").await.status(), 200);
}

#[tokio::test]
async fn a_message_over_512_kib_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let big = "x".repeat(512 * 1024 + 1);
    let resp = app
        .post_json(
            "/v1/message",
            &t.key,
            &json!({"message": big, "conversation_id": "c"}),
        )
        .await;
    let body = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "message", "{body}");
    let at_most = "x".repeat(512 * 1024);
    let resp = app
        .post_json(
            "/v1/message",
            &t.key,
            &json!({"message": at_most, "conversation_id": "c"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn finished_runs_go_after_their_retention_and_running_ones_stay() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let tenant: openclaw_domain::TenantId = t.id.parse().unwrap();
    let resp = message(&app, &t, "c").await;
    assert_eq!(resp.status(), 200);
    let runs: Vec<(uuid::Uuid, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT id, finished_at FROM runs WHERE tenant_id = $1")
            .bind(tenant.as_uuid())
            .fetch_all(&app.sql)
            .await
            .unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].1.is_some(), "the run finished");
    // A run still processing is never purged, however old.
    sqlx::query(
        "INSERT INTO runs (tenant_id, id, model, created_at) \
         VALUES ($1, $2, 'builtin/echo', now() - interval '90 days')",
    )
    .bind(tenant.as_uuid())
    .bind(uuid::Uuid::now_v7())
    .execute(&app.sql)
    .await
    .unwrap();

    let month_ago = chrono::Utc::now() - chrono::Duration::days(30);
    assert_eq!(
        app.store.purge_finished_runs(month_ago, 100).await.unwrap(),
        0,
        "a run that finished today is kept"
    );
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    assert_eq!(app.store.purge_finished_runs(later, 100).await.unwrap(), 1);
    assert!(app
        .store
        .get_run(tenant, runs[0].0)
        .await
        .unwrap()
        .is_none());
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE tenant_id = $1")
        .bind(tenant.as_uuid())
        .fetch_one(&app.sql)
        .await
        .unwrap();
    assert_eq!(left, 1, "the processing run stays");
}

/// The triggers' figures (migration 18) are the tiers' (`Tier::limits`), and overrides win.
#[tokio::test]
async fn the_sql_storage_caps_match_the_tiers() {
    let app = spawn_app().await;
    for tier in Tier::ALL {
        let (sessions, messages): (i64, i64) = sqlx::query_as(
            "SELECT openclaw_session_cap($1, '{}'::jsonb), \
                    openclaw_session_message_cap($1, '{}'::jsonb)",
        )
        .bind(tier.as_str())
        .fetch_one(&app.sql)
        .await
        .unwrap();
        let limits = tier.limits();
        assert_eq!(sessions as u64, limits.sessions, "{tier:?}");
        assert_eq!(messages as u64, limits.messages_per_session, "{tier:?}");
    }
    let (sessions, messages): (i64, i64) = sqlx::query_as(
        "SELECT openclaw_session_cap('pro', '{\"sessions\": 3}'::jsonb), \
                openclaw_session_message_cap('pro', '{\"messages_per_session\": 5}'::jsonb)",
    )
    .fetch_one(&app.sql)
    .await
    .unwrap();
    assert_eq!((sessions, messages), (3, 5), "an operator override wins");
}
