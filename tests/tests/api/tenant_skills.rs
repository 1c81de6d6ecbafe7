//! The built-in skills that need the tenant — `memory_search`, `memory_add`, `spawn_agent`:
//! installed for every tenant, offered to the model only while installed and enabled, and
//! executed directly (S1 and S0 shapes, tasks) within the caller's tenant, scope and session.

use openclaw_domain::Tier;
use openclaw_mock_llm::{MockLlm, RecordedRequest, Script, ToolCall};
use openclaw_tests::{expect_error, spawn_app, TestApp, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

use crate::tasks::{app_with, poll_until};

fn calls(name: &str, arguments: Value) -> Script {
    Script {
        tool_calls: vec![ToolCall {
            id: format!("call_{name}"),
            name: name.into(),
            arguments,
        }],
        ..Default::default()
    }
}

fn says(text: &str) -> Script {
    Script {
        text: Some(text.into()),
        ..Default::default()
    }
}

fn offered(req: &RecordedRequest) -> Vec<String> {
    req.body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["function"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The tools the model was offered for one message.
async fn offered_for_a_message(app: &TestApp, mock: &MockLlm, t: &TestTenant) -> Vec<String> {
    mock.clear_requests();
    let resp = app
        .post_json("/v1/message", &t.key, &json!({"message": "hello"}))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    offered(&sent[0])
}

async fn skill_call(
    app: &TestApp,
    t: &TestTenant,
    method: Method,
    path: &str,
) -> reqwest::Response {
    app.send_json(method, path, &t.key, &json!({})).await
}

#[tokio::test]
async fn installing_and_enabling_the_memory_skills_decides_whether_runs_offer_them() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let tools = offered_for_a_message(&app, &mock, &t).await;
    assert!(
        tools.contains(&"memory_search".into()) && tools.contains(&"memory_add".into()),
        "installed by default: {tools:?}"
    );
    // spawn_agent is for background agents, not message runs.
    assert!(!tools.contains(&"spawn_agent".into()), "{tools:?}");

    let resp = skill_call(&app, &t, Method::DELETE, "/v1/skills/memory_search").await;
    assert_eq!(resp.status(), 200);
    let resp = skill_call(&app, &t, Method::POST, "/v1/skills/memory_add/disable").await;
    assert_eq!(resp.status(), 200);
    let tools = offered_for_a_message(&app, &mock, &t).await;
    assert!(
        !tools.contains(&"memory_search".into()) && !tools.contains(&"memory_add".into()),
        "{tools:?}"
    );
    // A model calling a skill it was not offered does not get it executed: the run ends with
    // the call for the client instead, and nothing is remembered.
    mock.push(calls(
        "memory_add",
        json!({"content": "the user likes tea"}),
    ));
    let v: Value = app
        .post_json("/v1/message", &t.key, &json!({"message": "remember tea"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(app.get_json("/v1/memory", &t.key).await["total"], 0, "{v}");

    let resp = app
        .post_json(
            "/v1/skills/install",
            &t.key,
            &json!({"name": "memory_search", "version": "1.0.0"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = skill_call(&app, &t, Method::POST, "/v1/skills/memory_add/enable").await;
    assert_eq!(resp.status(), 200);
    let tools = offered_for_a_message(&app, &mock, &t).await;
    assert!(
        tools.contains(&"memory_search".into()) && tools.contains(&"memory_add".into()),
        "{tools:?}"
    );

    // A call the model makes is counted on the installation.
    mock.push(calls(
        "memory_add",
        json!({"content": "the user likes green tea"}),
    ));
    mock.push(says("Noted."));
    let v: Value = app
        .post_json(
            "/v1/message",
            &t.key,
            &json!({"message": "remember green tea"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["content"], "Noted.", "{v}");
    let list = app.get_json("/v1/skills", &t.key).await;
    let add = list["skills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "memory_add")
        .unwrap();
    assert_eq!(add["invocations"], 1, "{add}");
    assert!(add["last_used"].is_string(), "{add}");
}

#[tokio::test]
async fn uninstalling_spawn_agent_stops_offering_it_to_background_agents() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let agent_offered = |task: &'static str| {
        let (app, mock, t) = (&app, &mock, &t);
        async move {
            mock.clear_requests();
            mock.push(says("done"));
            let resp = app
                .post_json("/v1/agents/spawn", &t.key, &json!({"task": task}))
                .await;
            assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
            let agent: Value = resp.json().await.unwrap();
            let id = agent["id"].as_str().unwrap();
            let done = app
                .get_json(&format!("/v1/agents/{id}?wait=30"), &t.key)
                .await;
            assert_eq!(done["status"], "completed", "{done}");
            offered(&mock.requests()[0])
        }
    };
    assert!(agent_offered("first").await.contains(&"spawn_agent".into()));
    let resp = skill_call(&app, &t, Method::DELETE, "/v1/skills/spawn_agent").await;
    assert_eq!(resp.status(), 200);
    let tools = agent_offered("second").await;
    assert!(!tools.contains(&"spawn_agent".into()), "{tools:?}");
    assert!(tools.contains(&"memory_search".into()), "{tools:?}");
}

#[tokio::test]
async fn the_memory_skills_execute_directly_within_the_tenant() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let other = app.create_tenant(Tier::Free).await;

    // S1: memory_add, then memory_search finds it with a score.
    let resp = app
        .post_json(
            "/v1/tools/memory_add/execute",
            &t.key,
            &json!({"parameters": {"content": "OpenClaw 配置文件位于 ~/.openclaw/config.json",
                                   "tags": ["config"]}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let added: Value = resp.json().await.unwrap();
    let id = added["result"]["id"].as_str().unwrap().to_string();
    assert_eq!(added["result"]["saved"], true, "{added}");
    let stored = app.get_json(&format!("/v1/memory/{id}"), &t.key).await;
    assert_eq!(stored["tags"], json!(["config"]), "{stored}");
    let found: Value = app
        .post_json(
            "/v1/tools/memory_search/execute",
            &t.key,
            &json!({"parameters": {"query": "配置", "limit": 3}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let results = found["result"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{found}");
    assert_eq!(results[0]["id"], id.as_str());
    assert!(results[0]["score"].as_f64().unwrap() > 0.5, "{found}");

    // S0, in its envelope, with positional args, in the session its messages opened.
    let resp = app
        .post_json(
            "/api/v1/message",
            &t.key,
            &json!({"text": "hello", "session": "default"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let s0: Value = app
        .post_json(
            "/api/v1/skills/memory_search/execute",
            &t.key,
            &json!({"args": ["配置"], "session": "default"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s0["success"], true, "{s0}");
    assert_eq!(
        s0["data"]["result"]["results"][0]["id"],
        id.as_str(),
        "{s0}"
    );

    // Another tenant finds nothing of it.
    let theirs: Value = app
        .post_json(
            "/v1/tools/memory_search/execute",
            &other.key,
            &json!({"parameters": {"query": "配置"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["result"]["results"], json!([]), "{theirs}");

    // Bad input names the field.
    for (params, param) in [
        (json!({"query": ""}), "parameters.query"),
        (json!({"query": "   "}), "parameters.query"),
        (json!({"query": "x", "limit": 50}), "parameters.limit"),
        (json!({"query": "x", "limit": "5"}), "parameters.limit"),
        (json!({"limit": 5}), "parameters.query"),
    ] {
        let resp = app
            .post_json(
                "/v1/tools/memory_search/execute",
                &t.key,
                &json!({"parameters": params}),
            )
            .await;
        let err = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{params}: {err}");
    }
    for (params, param) in [
        (json!({"content": " "}), "parameters.content"),
        (
            json!({"content": "x", "type": "forever"}),
            "parameters.type",
        ),
        (json!({"content": "x", "tags": [1]}), "parameters.tags[0]"),
    ] {
        let resp = app
            .post_json(
                "/v1/tools/memory_add/execute",
                &t.key,
                &json!({"parameters": params}),
            )
            .await;
        let err = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{params}: {err}");
    }
    assert_eq!(app.get_json("/v1/memory", &t.key).await["total"], 1);

    // spawn_agent runs inside background agents only.
    let resp = app
        .post_json(
            "/v1/tools/spawn_agent/execute",
            &t.key,
            &json!({"parameters": {"task": "research"}}),
        )
        .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/agents/spawn"),
        "{err}"
    );
}

#[tokio::test]
async fn the_memory_skills_need_the_memory_scope_and_keep_to_a_tokens_session() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    app.post_json(
        "/v1/memory",
        &t.key,
        &json!({"content": "company holiday list"}),
    )
    .await;
    let narrow = app
        .admin_key(&t.id, json!({"name": "skills-only", "scopes": ["skills"]}))
        .await;
    let key = narrow["key"].as_str().unwrap();
    let resp = app
        .post_json(
            "/v1/tools/memory_search/execute",
            key,
            &json!({"parameters": {"query": "holiday"}}),
        )
        .await;
    expect_error(resp, 403, "forbidden").await;
    // The other skills do not need it.
    let resp = app
        .post_json(
            "/v1/tools/calculator/execute",
            key,
            &json!({"parameters": {"expression": "1 + 1"}}),
        )
        .await;
    assert_eq!(resp.status(), 200);

    // A token limited to one session sees and adds only that conversation's memories.
    app.post_json("/v1/sessions", &t.key, &json!({"session_id": "browser-1"}))
        .await;
    let token: Value = app
        .post_json(
            "/v1/auth/tokens",
            &t.key,
            &json!({"session_id": "browser-1"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let jwt = token["token"].as_str().unwrap();
    let search = |who: &str| {
        let who = who.to_string();
        let app = &app;
        async move {
            let v: Value = app
                .post_json(
                    "/v1/tools/memory_search/execute",
                    &who,
                    &json!({"parameters": {"query": "holiday"}}),
                )
                .await
                .json()
                .await
                .unwrap();
            v["result"]["results"]
                .as_array()
                .unwrap_or_else(|| panic!("{v}"))
                .iter()
                .map(|r| r["content"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search(jwt).await, Vec::<String>::new());
    let resp = app
        .post_json(
            "/v1/tools/memory_add/execute",
            jwt,
            &json!({"parameters": {"content": "browser holiday wish list"}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(search(jwt).await, ["browser holiday wish list"]);
    let mut everything = search(&t.key).await;
    everything.sort();
    assert_eq!(
        everything,
        ["browser holiday wish list", "company holiday list"]
    );
    // It went with the conversation.
    let listed = app
        .get_json("/v1/memory?conversation_id=browser-1", &t.key)
        .await;
    assert_eq!(listed["total"], 1, "{listed}");
}

#[tokio::test]
async fn a_skill_task_searches_memory_and_spawn_agent_is_no_skill_task() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    app.post_json(
        "/v1/memory",
        &t.key,
        &json!({"content": "The user's dog is called Rex"}),
    )
    .await;
    let resp = app
        .post_json(
            "/v1/tasks",
            &t.key,
            &json!({"name": "recall", "type": "skill",
                    "parameters": {"skill": "memory_search", "input": {"query": "dog name"}}}),
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let task: Value = resp.json().await.unwrap();
    let path = format!("/v1/tasks/{}", task["id"].as_str().unwrap());
    let done = poll_until(&app, &t, &path, |v| v["status"] == "completed").await;
    let results = &done["result"]["output"]["results"];
    assert_eq!(
        results[0]["content"], "The user's dog is called Rex",
        "{done}"
    );

    let resp = app
        .post_json(
            "/v1/tasks",
            &t.key,
            &json!({"name": "spawn", "type": "skill",
                    "parameters": {"skill": "spawn_agent", "input": {"task": "x"}}}),
        )
        .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "parameters.skill", "{err}");
}

/// Any JSON Schema that compiles registers (a root `anyOf`, `minProperties`); one too large or
/// too deep is refused on `input_schema`.
#[tokio::test]
async fn registration_takes_real_json_schemas_within_their_caps() {
    let app = openclaw_tests::spawn_app().await;
    let t = app.create_tenant(openclaw_domain::Tier::Pro).await;
    let manifest = |name: &str, schema: serde_json::Value| {
        serde_json::json!({"name": name, "version": "1.0.0", "description": "d",
                           "input_schema": schema,
                           "endpoint": "https://skills.example.com/x"})
    };
    let ok = serde_json::json!({"type": "object", "minProperties": 1,
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}]});
    let resp = app
        .post_json("/v1/skills", &t.key, &manifest("picky", ok))
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let mut deep = serde_json::json!({"type": "object"});
    for _ in 0..40 {
        deep = serde_json::json!({"type": "object", "properties": {"x": deep}});
    }
    let resp = app
        .post_json("/v1/skills", &t.key, &manifest("deep", deep))
        .await;
    let err = openclaw_tests::expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "input_schema", "{err}");
}
