use openclaw_domain::Tier;
use openclaw_store::NewMessage;
use openclaw_tests::{expect_error, spawn_app, TestApp, TestTenant};
use serde_json::{json, Value};

async fn create(app: &TestApp, t: &TestTenant, prefix: &str, body: Value) -> reqwest::Response {
    app.post(&format!("{prefix}/sessions"))
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sessions_are_created_with_the_s1_shape_and_listed_with_s4s() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = create(
        &app,
        &t,
        "/v1",
        json!({"agent_id": "qwencode", "context": {"lang": "zh"}, "ttl": 3600}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let s: Value = resp.json().await.unwrap();
    let id = s["session_id"].as_str().unwrap();
    assert!(id.starts_with("session_"));
    assert_eq!(s["agent_id"], "qwencode");
    let created = chrono::DateTime::parse_from_rfc3339(s["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(s["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_seconds(), 3600);

    let resp = create(
        &app,
        &t,
        "/v1",
        json!({"sessionKey": "session-123", "agentId": "default", "label": "demo"}),
    )
    .await;
    assert_eq!(resp.status(), 201);

    let list = app.get_json("/v1/sessions", &t.key).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(list["total"], 2);
    let demo = sessions
        .iter()
        .find(|s| s["sessionKey"] == "session-123")
        .unwrap();
    for field in [
        "sessionKey",
        "agentId",
        "channel",
        "createdAt",
        "updatedAt",
        "messageCount",
    ] {
        assert!(demo.get(field).is_some(), "S4 field {field}: {demo}");
    }
    assert_eq!(demo["messageCount"], 0);
    assert_eq!(demo["channel"], "api");

    let one = app.get_json("/v1/sessions/session-123", &t.key).await;
    assert_eq!(one["label"], "demo");
    let resp = app
        .delete("/v1/sessions/session-123")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["deleted"], true);
    let resp = app
        .get("/v1/sessions/session-123")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn under_api_v1_sessions_speak_s0_in_its_envelope() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = create(
        &app,
        &t,
        "/api/v1",
        json!({"label": "项目讨论", "model": "qwen3.5-plus"}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["success"], true);
    let data = &body["data"];
    assert!(data["sessionId"].as_str().unwrap().starts_with("session_"));
    assert_eq!(data["label"], "项目讨论");
    assert!(data["createdAt"].is_string());

    let list = app.get_json("/api/v1/sessions", &t.key).await;
    assert_eq!(list["success"], true);
    let first = &list["data"]["sessions"][0];
    assert_eq!(first["id"], data["sessionId"]);
    assert_eq!(first["label"], "项目讨论");
    assert_eq!(first["messageCount"], 0);

    let path = format!("/api/v1/sessions/{}", data["sessionId"].as_str().unwrap());
    let del: Value = app
        .delete(&path)
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(del, json!({"success": true, "data": {"deleted": true}}));

    // Errors, auth failures included, are S2's flat shape with S0's `success: false`.
    let resp = app.get(&path).bearer_auth(&t.key).send().await.unwrap();
    let body = expect_error(resp, 404, "not_found").await;
    assert_eq!(body["error"], "not_found");
    let resp = app.get("/api/v1/sessions").send().await.unwrap();
    let body = expect_error(resp, 401, "unauthorized").await;
    assert_eq!(body["success"], false);
    assert_eq!(body["error"], "unauthorized");
    // The same route under /v1 is never enveloped.
    assert!(app
        .get_json("/v1/sessions", &t.key)
        .await
        .get("success")
        .is_none());
}

#[tokio::test]
async fn bad_session_input_is_a_400_naming_the_field_and_ids_are_unique_per_tenant() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    for (body, param) in [
        (json!({"ttl": 0}), "ttl"),
        (json!({"context": [1, 2]}), "context"),
        (json!({"session_id": "a/b"}), "session_id"),
        (json!({"session_id": ""}), "session_id"),
        (json!({"tenant_id": "x"}), "tenant_id"),
    ] {
        let resp = create(&app, &t, "/v1", body.clone()).await;
        let err = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{body}");
    }
    assert_eq!(
        create(&app, &t, "/v1", json!({"session_id": "default"}))
            .await
            .status(),
        201
    );
    let resp = create(&app, &t, "/v1", json!({"session_id": "default"})).await;
    let err = expect_error(resp, 409, "conflict").await;
    assert_eq!(err["error"]["param"], "session_id");
    // Another tenant has its own namespace.
    let other = app.create_tenant(Tier::Free).await;
    assert_eq!(
        create(&app, &other, "/v1", json!({"session_id": "default"}))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn conversations_list_filter_and_show_their_messages_in_order() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    create(
        &app,
        &t,
        "/v1",
        json!({"session_id": "tg-1", "channel": "telegram"}),
    )
    .await;
    create(&app, &t, "/v1", json!({"session_id": "api-1"})).await;
    let tenant = t.id.parse().unwrap();
    let s = app
        .store
        .get_session(tenant, "tg-1")
        .await
        .unwrap()
        .unwrap();
    for (role, content) in [
        ("user", "明天的天氣如何?"),
        ("assistant", "晴天"),
        ("user", "thanks"),
    ] {
        let m = NewMessage {
            role: role.into(),
            content: content.into(),
            ..Default::default()
        };
        app.store.append_message(tenant, s.id, m).await.unwrap();
    }

    let list = app
        .get_json("/v1/conversations?limit=20&offset=0", &t.key)
        .await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["limit"], 20);
    assert_eq!(list["offset"], 0);
    let first = &list["conversations"][0];
    assert_eq!(first["id"], "tg-1", "most recently active first");
    assert_eq!(first["channel"], "telegram");
    assert_eq!(first["message_count"], 3);
    assert!(first["last_message_at"].is_string());
    assert!(first.get("summary").is_some());

    let tg = app
        .get_json("/api/v1/conversations?channel=telegram", &t.key)
        .await;
    assert_eq!(
        tg["total"], 1,
        "S2 routes are plain under /api/v1 too: {tg}"
    );
    let future = app
        .get_json("/v1/conversations?since=2999-01-01T00:00:00Z", &t.key)
        .await;
    assert_eq!(future["total"], 0);
    let resp = app
        .get("/v1/conversations?limit=0")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "invalid_request").await;
    let resp = app
        .get("/v1/conversations?since=yesterday")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "since");

    let conv = app.get_json("/v1/conversations/tg-1", &t.key).await;
    let contents: Vec<&str> = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["明天的天氣如何?", "晴天", "thanks"]);
    assert_eq!(conv["messages"][1]["role"], "assistant");
    assert!(conv["messages"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("msg_"));
    assert_eq!(conv["has_more"], false);
    let page = app.get_json("/v1/conversations/tg-1?limit=2", &t.key).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);

    let resp = app
        .delete("/v1/conversations/tg-1")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.sql)
        .await
        .unwrap();
    assert_eq!(left, 0, "deleting a conversation deletes its messages");
    let resp = app
        .get("/v1/conversations/tg-1")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn another_tenants_sessions_and_conversations_are_404_everywhere() {
    let app = spawn_app().await;
    let alice = app.create_tenant(Tier::Free).await;
    let bob = app.create_tenant(Tier::Free).await;
    create(&app, &alice, "/v1", json!({"session_id": "secret-plans"})).await;
    for path in [
        "/v1/sessions/secret-plans",
        "/api/v1/sessions/secret-plans",
        "/v1/conversations/secret-plans",
        "/api/v1/conversations/secret-plans",
    ] {
        let resp = app.get(path).bearer_auth(&bob.key).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        let resp = app.delete(path).bearer_auth(&bob.key).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    assert_eq!(app.get_json("/v1/sessions", &bob.key).await["total"], 0);
    assert_eq!(
        app.get_json("/v1/conversations", &bob.key).await["total"],
        0
    );
    assert_eq!(
        app.get("/v1/sessions/secret-plans")
            .bearer_auth(&alice.key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn expired_sessions_vanish_and_are_purged() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    create(&app, &t, "/v1", json!({"session_id": "short", "ttl": 60})).await;
    create(&app, &t, "/v1", json!({"session_id": "long"})).await;
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE key = 'short'")
        .execute(&app.sql)
        .await
        .unwrap();
    let resp = app
        .get("/v1/sessions/short")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    assert_eq!(app.get_json("/v1/sessions", &t.key).await["total"], 1);
    let tenant = t.id.parse().unwrap();
    let used = app
        .store
        .ensure_session(tenant, "short", Default::default())
        .await
        .unwrap();
    assert_eq!(
        used,
        Err(openclaw_store::SessionRefusal::Expired),
        "an expired session takes no messages"
    );
    assert_eq!(
        app.store
            .purge_expired_sessions(chrono::Duration::zero())
            .await
            .unwrap(),
        1
    );
    // The key is free again.
    assert_eq!(
        create(&app, &t, "/v1", json!({"session_id": "short"}))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_token_limited_to_one_session_sees_only_that_session() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    create(&app, &t, "/v1", json!({"session_id": "mine"})).await;
    create(&app, &t, "/v1", json!({"session_id": "theirs"})).await;
    let tok: Value = app
        .post("/v1/auth/tokens")
        .bearer_auth(&t.key)
        .json(&json!({"session_id": "mine"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["token"].as_str().unwrap();
    let list = app.get_json("/v1/sessions", token).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["sessions"][0]["sessionKey"], "mine");
    assert_eq!(
        app.get("/v1/sessions/mine")
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = app
        .get("/v1/sessions/theirs")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    let resp = app
        .delete("/v1/conversations/theirs")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;

    let memory_only = app
        .admin_key(&t.id, json!({"name": "m", "scopes": ["memory"]}))
        .await;
    let resp = app
        .get("/v1/sessions")
        .bearer_auth(memory_only["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "forbidden").await;
}

/// A conversation read is bounded in bytes as well as in messages: a thousand large messages
/// are never one answer; `has_more` says the rest is there.
#[tokio::test]
async fn a_conversation_read_stops_at_its_byte_budget() {
    let app = openclaw_tests::spawn_app().await;
    let t = app.create_tenant(openclaw_domain::Tier::Enterprise).await;
    // Messages as large as a user may send (512 KiB): ten of them are over the 4 MiB budget.
    let big = "x".repeat(500 * 1024);
    for _ in 0..5 {
        // builtin/echo answers with the message: two large messages per run.
        let resp = app
            .post_json(
                "/v1/message",
                &t.key,
                &serde_json::json!({"message": big, "conversation_id": "big"}),
            )
            .await;
        assert_eq!(resp.status(), 200);
    }
    let read = app.get_json("/v1/conversations/big", &t.key).await;
    let messages = read["messages"].as_array().unwrap();
    let bytes: usize = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap().len())
        .sum();
    assert_eq!(read["message_count"], 10);
    assert!(
        messages.len() < 10 && !messages.is_empty(),
        "{}",
        messages.len()
    );
    assert!(bytes <= 4 * 1024 * 1024 + 512 * 1024, "{bytes}");
    assert_eq!(read["has_more"], true);
    // The first message always comes, however large.
    let one = app.get_json("/v1/conversations/big?limit=1", &t.key).await;
    assert_eq!(one["messages"].as_array().unwrap().len(), 1);
    assert_eq!(one["has_more"], true);
    // A small conversation reads whole.
    app.post_json(
        "/v1/message",
        &t.key,
        &serde_json::json!({"message": "hi", "conversation_id": "small"}),
    )
    .await;
    let small = app.get_json("/v1/conversations/small", &t.key).await;
    assert_eq!(small["messages"].as_array().unwrap().len(), 2);
    assert_eq!(small["has_more"], false);
}
