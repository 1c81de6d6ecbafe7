//! Least privilege (issue 14): no token manages keys; a session-limited credential stays inside
//! its session on the task, agent and skill routes and inside its runs (recall and the memory
//! tools); the memory tools and recall need the `memory` scope.

use openclaw_domain::Tier;
use openclaw_mock_llm::MockLlm;
use openclaw_tests::{expect_error, TestApp, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

/// A JWT minted from `t`'s key with `body` (`scopes`, `session_id`).
async fn token(app: &TestApp, t: &TestTenant, body: Value) -> TestTenant {
    let resp = app.post_json("/v1/auth/tokens", &t.key, &body).await;
    assert_eq!(resp.status(), 201, "{body}");
    let tok: Value = resp.json().await.unwrap();
    TestTenant {
        key: tok["token"].as_str().unwrap().to_string(),
        ..t.clone()
    }
}

/// `POST path` as `key`, expecting 201; the created object.
async fn created(app: &TestApp, path: &str, key: &str, body: Value) -> Value {
    let resp = app.post_json(path, key, &body).await;
    assert_eq!(resp.status(), 201, "{path} {body}");
    resp.json().await.unwrap()
}

async fn send(app: &TestApp, method: Method, path: &str, key: &str) -> reqwest::Response {
    app.request(method, path)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn no_token_creates_lists_or_revokes_api_keys() {
    let app = openclaw_tests::spawn_app().await;
    let t = app.create_tenant(Tier::Pro).await;
    // The attack as found: a 60-second token limited to one session asked for a permanent key.
    let limited = token(
        &app,
        &t,
        json!({"session_id": "s1", "ttl_seconds": 60, "scopes": ["keys", "messages"]}),
    )
    .await;
    let wide = token(&app, &t, json!({})).await;
    for jwt in [&limited, &wide] {
        let resp = app
            .post_json("/v1/api-keys", &jwt.key, &json!({"name": "escalated"}))
            .await;
        let err = expect_error(resp, 403, "forbidden").await;
        assert_eq!(
            err["error"]["details"]["required_credential"], "api_key",
            "{err}"
        );
        let listed = send(&app, Method::GET, "/v1/api-keys", &jwt.key).await;
        expect_error(listed, 403, "forbidden").await;
    }
    let keys = app.get_json("/v1/api-keys", &t.key).await;
    let own = keys["data"][0]["id"].as_str().unwrap().to_string();
    let resp = send(
        &app,
        Method::DELETE,
        &format!("/v1/api-keys/{own}"),
        &wide.key,
    )
    .await;
    expect_error(resp, 403, "forbidden").await;
    let resp = send(&app, Method::GET, &format!("/v1/api-keys/{own}"), &wide.key).await;
    expect_error(resp, 403, "forbidden").await;
    // Nothing was made: the tenant still has its one key, which still works.
    let keys = app.get_json("/v1/api-keys", &t.key).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1, "{keys}");
    // Nor does a token mint a token.
    let resp = app
        .post_json("/v1/auth/tokens", &wide.key, &json!({}))
        .await;
    expect_error(resp, 403, "forbidden").await;
    // An API key without the `keys` scope cannot either.
    let created = app
        .post_json(
            "/v1/api-keys",
            &t.key,
            &json!({"name": "narrow", "scopes": ["messages"]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let narrow: Value = created.json().await.unwrap();
    let resp = app
        .post_json(
            "/v1/api-keys",
            narrow["key"].as_str().unwrap(),
            &json!({"name": "x"}),
        )
        .await;
    expect_error(resp, 403, "forbidden").await;
}

#[tokio::test]
async fn a_session_limited_token_sees_only_its_sessions_tasks_and_agents() {
    let mock = MockLlm::start().await;
    let app = crate::tasks::app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let limited = token(&app, &t, json!({"session_id": "mine"})).await;

    // The tenant's key makes a task in another session, one in none, and an agent.
    let theirs = created(
        &app,
        "/v1/tasks",
        &t.key,
        json!({"name": "theirs", "type": "agent",
               "parameters": {"message": "hi", "session_id": "other"}}),
    )
    .await;
    let tenant_wide = created(
        &app,
        "/v1/tasks",
        &t.key,
        json!({"name": "wide", "type": "noop"}),
    )
    .await;
    let agent = created(
        &app,
        "/v1/agents/spawn",
        &t.key,
        json!({"task": "research"}),
    )
    .await;

    // The limited token's own task, and one a tenant key made in its session, are its to see.
    let own = created(
        &app,
        "/v1/tasks",
        &limited.key,
        json!({"name": "own", "type": "noop"}),
    )
    .await;
    let placed = created(
        &app,
        "/v1/tasks",
        &t.key,
        json!({"name": "placed", "type": "agent",
               "parameters": {"message": "hi", "session_id": "mine"}}),
    )
    .await;

    for id in [&theirs["id"], &tenant_wide["id"]] {
        let id = id.as_str().unwrap();
        let resp = send(&app, Method::GET, &format!("/v1/tasks/{id}"), &limited.key).await;
        expect_error(resp, 404, "not_found").await;
        let resp = send(
            &app,
            Method::DELETE,
            &format!("/v1/tasks/{id}"),
            &limited.key,
        )
        .await;
        expect_error(resp, 404, "not_found").await;
        // Still pending for its owner: the refused cancel changed nothing.
        let seen = app.get_json(&format!("/v1/tasks/{id}"), &t.key).await;
        assert_eq!(seen["status"], "pending", "{seen}");
    }
    let listed = app.get_json("/v1/tasks", &limited.key).await;
    let mut names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["own", "placed"], "{listed}");
    assert_eq!(listed["total"], 2);
    let id = placed["id"].as_str().unwrap();
    let seen = app.get_json(&format!("/v1/tasks/{id}"), &limited.key).await;
    assert_eq!(seen["name"], "placed");
    let id = own["id"].as_str().unwrap();
    let resp = send(
        &app,
        Method::DELETE,
        &format!("/v1/tasks/{id}"),
        &limited.key,
    )
    .await;
    assert_eq!(resp.status(), 200);

    // The tenant's agent: not found on every route; the list is empty.
    let id = agent["id"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/v1/agents/{id}")),
        (Method::GET, format!("/v1/agents/{id}/events")),
        (Method::DELETE, format!("/v1/agents/{id}")),
    ] {
        let resp = send(&app, method.clone(), &path, &limited.key).await;
        expect_error(resp, 404, "not_found").await;
    }
    let listed = app.get_json("/v1/agents", &limited.key).await;
    assert_eq!(listed["total"], 0, "{listed}");
    let seen = app.get_json(&format!("/v1/agents/{id}"), &t.key).await;
    assert_eq!(seen["status"], "pending", "{seen}");
    // An agent it spawns is its own.
    let mine = app
        .post_json("/v1/agents/spawn", &limited.key, &json!({"task": "mine"}))
        .await;
    assert_eq!(mine.status(), 201);
    let listed = app.get_json("/v1/agents", &limited.key).await;
    assert_eq!(listed["total"], 1, "{listed}");
}

#[tokio::test]
async fn a_session_limited_token_cannot_change_the_tenants_skills() {
    let app = openclaw_tests::spawn_app().await;
    let t = app.create_tenant(Tier::Pro).await;
    let limited = token(&app, &t, json!({"session_id": "mine"})).await;
    let manifest = json!({"name": "lookup", "version": "1.0.0", "description": "d",
                          "input_schema": {"type": "object"},
                          "endpoint": "https://skills.example.com/lookup"});
    let resp = app.post_json("/v1/skills", &limited.key, &manifest).await;
    expect_error(resp, 403, "forbidden").await;
    let resp = app
        .post_json(
            "/v1/skills/install",
            &limited.key,
            &json!({"name": "weather"}),
        )
        .await;
    expect_error(resp, 403, "forbidden").await;
    for (method, path) in [
        (Method::DELETE, "/v1/skills/weather"),
        (Method::POST, "/v1/skills/weather/disable"),
        (Method::POST, "/v1/skills/weather/enable"),
    ] {
        let resp = send(&app, method, path, &limited.key).await;
        expect_error(resp, 403, "forbidden").await;
    }
    // The tenant's skills are as they were, and the token still reads them.
    let skills = app.get_json("/v1/skills", &limited.key).await;
    let weather = skills["skills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "weather")
        .cloned()
        .unwrap();
    assert_eq!(weather["enabled"], true, "{weather}");
}

/// The tools a recorded upstream request offered, by name.
fn offered(req: &openclaw_mock_llm::RecordedRequest) -> Vec<String> {
    req.body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
        .collect()
}

fn prompt(req: &openclaw_mock_llm::RecordedRequest) -> String {
    req.body["messages"].to_string()
}

#[tokio::test]
async fn runs_recall_and_offer_memory_only_as_far_as_their_credential_reaches() {
    let mock = MockLlm::start().await;
    let app = crate::tasks::app_with(&mock).await;
    let t = app.create_tenant(Tier::Pro).await;
    // A tenant-wide memory and one of session `mine`'s.
    let wide = app
        .post_json(
            "/v1/memory",
            &t.key,
            &json!({"content": "The vault combination is 4711"}),
        )
        .await;
    assert_eq!(wide.status(), 201);
    let first = app
        .post_json(
            "/v1/message",
            &t.key,
            &json!({"message": "hello", "conversation_id": "mine"}),
        )
        .await;
    assert_eq!(first.status(), 200);
    let own = app
        .post_json(
            "/v1/memory",
            &t.key,
            &json!({"content": "The vault in this conversation is the blue one",
                    "conversation_id": "mine"}),
        )
        .await;
    assert_eq!(own.status(), 201);
    let ask = json!({"message": "What is the vault combination?", "conversation_id": "mine"});

    // The tenant's key: both memories are recalled, and the memory tools offered.
    mock.clear_requests();
    let resp = app.post_json("/v1/message", &t.key, &ask).await;
    assert_eq!(resp.status(), 200);
    let sent = mock.requests();
    assert!(prompt(&sent[0]).contains("4711"), "{}", prompt(&sent[0]));
    assert!(offered(&sent[0]).contains(&"memory_search".to_string()));

    // A token limited to `mine`: its conversation's memory only, tools included.
    let limited = token(&app, &t, json!({"session_id": "mine"})).await;
    mock.clear_requests();
    let resp = app.post_json("/v1/message", &limited.key, &ask).await;
    assert_eq!(resp.status(), 200);
    let sent = mock.requests();
    let said = prompt(&sent[0]);
    assert!(
        !said.contains("4711"),
        "a tenant-wide memory leaked: {said}"
    );
    assert!(said.contains("blue one"), "its own conversation's: {said}");
    assert!(offered(&sent[0]).contains(&"memory_search".to_string()));

    // Without the memory scope: no recall and no memory tools.
    let no_memory = token(&app, &t, json!({"scopes": ["messages", "sessions"]})).await;
    mock.clear_requests();
    let resp = app.post_json("/v1/message", &no_memory.key, &ask).await;
    assert_eq!(resp.status(), 200);
    let sent = mock.requests();
    let said = prompt(&sent[0]);
    assert!(
        !said.contains("4711") && !said.contains("blue one"),
        "{said}"
    );
    let tools = offered(&sent[0]);
    assert!(!tools.iter().any(|t| t.starts_with("memory_")), "{tools:?}");

    // Queued for a worker, the run keeps its creator's reach.
    mock.clear_requests();
    let queued = app
        .post_json(
            "/v1/message",
            &limited.key,
            &json!({"message": "What is the vault combination?", "wait_for_response": false}),
        )
        .await;
    assert_eq!(queued.status(), 202);
    let queued: Value = queued.json().await.unwrap();
    let poll = format!("/v1/message/{}/status", queued["id"].as_str().unwrap());
    let done =
        crate::tasks::poll_until(&app, &limited, &poll, |v| v["status"] == "completed").await;
    assert_eq!(done["conversation_id"], "mine", "{done}");
    let sent = mock.requests();
    let said = prompt(sent.last().unwrap());
    assert!(!said.contains("4711"), "a worker widened the reach: {said}");
}

/// The operator decides which models each tier (and, in place of it, one tenant) may name: a
/// free tenant cannot reach an expensive upstream model just by naming it.
#[tokio::test]
async fn a_tier_names_only_the_models_its_allow_list_holds() {
    let mock = MockLlm::start().await;
    let app = openclaw_tests::spawn_with(openclaw_tests::AppOptions {
        providers: Some(openclaw_tests::mock_providers(&mock)),
        configure: Box::new(|c| {
            c.tier_models.insert(
                Tier::Free,
                openclaw_domain::ModelAllowList::parse(&["builtin/*"]).unwrap(),
            );
        }),
        ..Default::default()
    })
    .await;
    let free = app.create_tenant(Tier::Free).await;
    let pro = app.create_tenant(Tier::Pro).await;
    let named = json!({"message": "hi", "model": "openai/mock-1"});

    // Named anywhere a model is named, it is refused on that field, with the list.
    let chat = json!({"model": "openai/mock-1", "messages": [{"role": "user", "content": "hi"}]});
    for (path, body, param) in [
        ("/v1/message", named.clone(), "model"),
        ("/v1/chat/completions", chat, "model"),
        (
            "/v1/agents/spawn",
            json!({"task": "t", "model": "openai/mock-1"}),
            "model",
        ),
        (
            "/v1/tasks",
            json!({"name": "n", "type": "agent",
                   "parameters": {"message": "hi", "model": "openai/mock-1"}}),
            "parameters.model",
        ),
        (
            "/v1/sessions",
            json!({"session_id": "s", "model": "openai/mock-1"}),
            "model",
        ),
    ] {
        let resp = app.post_json(path, &free.key, &body).await;
        let err = expect_error(resp, 403, "forbidden").await;
        assert_eq!(err["error"]["param"], param, "{path}: {err}");
        assert_eq!(
            err["error"]["details"]["allowed_models"],
            json!(["builtin/*"]),
            "{path}"
        );
    }
    // What it may name works, and the listing shows only that; the deployment's default model
    // is the operator's choice and serves a run that names none.
    let ok = app
        .post_json(
            "/v1/message",
            &free.key,
            &json!({"message": "hi", "model": "builtin/echo"}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    let listed = app.get_json("/v1/models", &free.key).await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["builtin/echo"], "{listed}");
    let resp = send(&app, Method::GET, "/v1/models/openai/mock-1", &free.key).await;
    expect_error(resp, 404, "not_found").await;
    let default = app
        .post_json("/v1/message", &free.key, &json!({"message": "hi"}))
        .await;
    assert_eq!(default.status(), 200);
    // A tier without a list names any model.
    let resp = app.post_json("/v1/message", &pro.key, &named).await;
    assert_eq!(resp.status(), 200);

    // The operator widens one tenant; a malformed entry is refused, naming it.
    let bad = app
        .admin(Method::PATCH, &format!("/tenants/{}", free.id))
        .json(&json!({"allowed_models": ["openai/*", "gpt-4o"]}))
        .send()
        .await
        .unwrap();
    let err = expect_error(bad, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "allowed_models[1]", "{err}");
    let patched = app
        .admin(Method::PATCH, &format!("/tenants/{}", free.id))
        .json(&json!({"allowed_models": ["openai/*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let view: Value = patched.json().await.unwrap();
    assert_eq!(view["allowed_models"], json!(["openai/*"]), "{view}");
    let resp = app.post_json("/v1/message", &free.key, &named).await;
    assert_eq!(resp.status(), 200, "tenant changes reach the cache at once");
}
