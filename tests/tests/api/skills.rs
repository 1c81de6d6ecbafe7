//! Skills and tools (API.md §5.5), first part: the built-in catalogue as S1's tools, and
//! execution in S0's shape (enveloped under /api/v1) and S1's, with input validation.

use openclaw_domain::Tier;
use openclaw_tests::{expect_error, spawn_app};
use serde_json::{json, Value};

#[tokio::test]
async fn tools_list_the_catalogue_with_schemas() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let tools = app.get_json("/v1/tools", &t.key).await;
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"calculator") && names.contains(&"current_time"),
        "{tools}"
    );
    let calculator = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "calculator")
        .unwrap();
    assert_eq!(calculator["version"], "1.0.0");
    assert_eq!(
        calculator["input_schema"]["required"],
        json!(["expression"])
    );
    assert!(calculator["output_schema"]["properties"]["result"].is_object());
    assert_eq!(calculator["permissions"]["network"], false);
}

#[tokio::test]
async fn s1_executes_a_tool_with_parameters_and_metadata() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = app
        .post_json(
            "/v1/tools/calculator/execute",
            &t.key,
            &json!({"parameters": {"expression": "2 * (3 + 4) ^ 2"}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["result"]["result"], 98.0, "{v}");
    assert!(
        v["metadata"]["execution_time"].as_f64().unwrap() >= 0.0,
        "{v}"
    );
    assert!(v["metadata"].get("memory_used").is_some(), "{v}");

    // Bad input names the field; an unknown tool is 404 listing what exists.
    let resp = app
        .post_json(
            "/v1/tools/calculator/execute",
            &t.key,
            &json!({"parameters": {"expression": 42}}),
        )
        .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "parameters.expression");
    let resp = app
        .post_json(
            "/v1/tools/calculator/execute",
            &t.key,
            &json!({"parameters": {"expression": "1/0"}}),
        )
        .await;
    expect_error(resp, 400, "invalid_request").await;
    let resp = app
        .post_json(
            "/v1/tools/file-processor/execute",
            &t.key,
            &json!({"parameters": {}}),
        )
        .await;
    let err = expect_error(resp, 404, "not_found").await;
    assert!(err["error"]["details"]["available"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "calculator"));
}

#[tokio::test]
async fn s0s_session_is_where_a_memory_skill_works() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    for key in ["s1", "s2"] {
        let resp = app
            .post_json(
                "/v1/agent/run",
                &t.key,
                &json!({"message": "hi", "sessionKey": key}),
            )
            .await;
        assert_eq!(resp.status(), 200);
    }
    let exec = |key: String, body: Value| {
        let app = &app;
        async move {
            app.post_json("/api/v1/skills/memory_add/execute", &key, &body)
                .await
        }
    };
    let resp = exec(
        t.key.clone(),
        json!({"args": {"content": "likes green tea"}, "session": "s1"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let listed = app.get_json("/v1/memory", &t.key).await;
    assert_eq!(listed["memories"][0]["content"], "likes green tea");
    assert_eq!(
        listed["memories"][0]["conversation_id"], "s1",
        "kept in the named conversation: {listed}"
    );

    // A session the tenant does not have is 404, in the gateway's flat shape.
    let resp = exec(
        t.key.clone(),
        json!({"args": {"content": "x"}, "session": "nope"}),
    )
    .await;
    let err = expect_error(resp, 404, "not_found").await;
    assert_eq!(err["error"], "not_found");
    // A token limited to s1 cannot name s2.
    let token: Value = app
        .post("/v1/auth/tokens")
        .bearer_auth(&t.key)
        .json(&json!({"session_id": "s1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let resp = exec(
        token.clone(),
        json!({"args": {"content": "x"}, "session": "s2"}),
    )
    .await;
    expect_error(resp, 404, "not_found").await;
    let resp = exec(
        token,
        json!({"args": {"content": "also s1"}, "session": "s1"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    // Another tenant's session of the same name is not this one's.
    let other = app.create_tenant(Tier::Free).await;
    let resp = exec(
        other.key.clone(),
        json!({"args": {"content": "x"}, "session": "s1"}),
    )
    .await;
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn s0_executes_a_skill_with_positional_args_in_its_envelope() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    // S0's request shape: `args` as a list and the session.
    let resp = app
        .post_json(
            "/api/v1/skills/calculator/execute",
            &t.key,
            &json!({"args": ["sqrt(16) + 1"], "session": "default"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["data"]["result"]["result"], 5.0, "{v}");
    assert!(v["data"]["executionTime"].is_number(), "{v}");
    // An object works too; too many arguments is the caller's 400, in the envelope.
    let v = app
        .post_json(
            "/api/v1/skills/current_time/execute",
            &t.key,
            &json!({"args": {"timezone": "+08:00"}}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        v["data"]["result"]["iso"]
            .as_str()
            .unwrap()
            .ends_with("+08:00"),
        "{v}"
    );
    let resp = app
        .post_json(
            "/api/v1/skills/calculator/execute",
            &t.key,
            &json!({"args": ["1", "2"]}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["error"], "invalid_request", "{v}");
    assert_eq!(v["param"], "args");
    // Under /v1 the same call is not enveloped.
    let v = app
        .post_json(
            "/v1/skills/calculator/execute",
            &t.key,
            &json!({"args": ["1 + 1"]}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(v["result"]["result"], 2.0, "{v}");
}

#[tokio::test]
async fn skills_need_the_skills_scope() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let narrow = app
        .admin_key(&t.id, json!({"name": "no-skills", "scopes": ["messages"]}))
        .await;
    let key = narrow["key"].as_str().unwrap();
    let resp = app.get("/v1/tools").bearer_auth(key).send().await.unwrap();
    expect_error(resp, 403, "forbidden").await;
    let resp = app
        .post_json(
            "/v1/tools/calculator/execute",
            key,
            &json!({"parameters": {"expression": "1"}}),
        )
        .await;
    expect_error(resp, 403, "forbidden").await;
}

/// What every tenant starts with installed: the whole (harmless) catalogue.
const DEFAULTS: [&str; 8] = [
    "calculator",
    "current_time",
    "web_fetch",
    "file_read",
    "weather",
    "memory_search",
    "memory_add",
    "spawn_agent",
];

/// The names of the tenant's installed skills, sorted.
async fn installed(app: &openclaw_tests::TestApp, key: &str) -> Vec<String> {
    let list = app.get_json("/v1/skills", key).await;
    let mut names: Vec<String> = list["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(list["total"], names.len(), "{list}");
    names.sort();
    names
}

/// [`DEFAULTS`] and `more`, sorted.
fn defaults_and(more: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = DEFAULTS.iter().chain(more).map(|s| s.to_string()).collect();
    names.sort();
    names
}

/// [`DEFAULTS`] without `less`, sorted.
fn defaults_but(less: &str) -> Vec<String> {
    defaults_and(&[])
        .into_iter()
        .filter(|n| n != less)
        .collect()
}

async fn install(app: &openclaw_tests::TestApp, key: &str, body: Value) -> reqwest::Response {
    app.post_json("/v1/skills/install", key, &body).await
}

async fn uninstall(app: &openclaw_tests::TestApp, key: &str, name: &str) -> reqwest::Response {
    app.delete(&format!("/v1/skills/{name}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn skills_install_list_disable_and_uninstall_per_tenant() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let other = app.create_tenant(Tier::Free).await;
    // A new tenant has the defaults installed, enabled, at the catalogue's versions.
    let first = app.get_json("/v1/skills", &t.key).await;
    assert_eq!(installed(&app, &t.key).await, defaults_and(&[]));
    let tools = app.get_json("/v1/tools", &t.key).await;
    for skill in first["skills"].as_array().unwrap() {
        let listed = tools
            .as_array()
            .unwrap()
            .iter()
            .find(|tool| tool["name"] == skill["name"])
            .unwrap_or_else(|| panic!("{skill} is not in the catalogue: {tools}"));
        assert_eq!(skill["version"], listed["version"], "{skill}");
        assert_eq!(skill["status"], "active", "{skill}");
        assert_eq!(skill["kind"], "builtin", "{skill}");
        assert_eq!(skill["invocations"], 0, "{skill}");
    }

    // Uninstalled, it installs again as new.
    let resp = uninstall(&app, &t.key, "calculator").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(installed(&app, &t.key).await, defaults_but("calculator"));
    let resp = install(
        &app,
        &t.key,
        json!({"name": "calculator", "version": "1.0.0"}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let skill: Value = resp.json().await.unwrap();
    assert_eq!(skill["status"], "active");
    assert_eq!(skill["invocations"], 0);
    assert!(skill["last_used"].is_null() && skill["installed_at"].is_string());
    assert_eq!(
        skill["permissions"],
        json!({"network": false, "filesystem": false, "shell": false})
    );
    // Again: 200, still one.
    let resp = install(&app, &t.key, json!({"name": "calculator"})).await;
    assert_eq!(resp.status(), 200);
    // Under /api/v1 a superset: S0's envelope and S2's `skills` + `total` beside it.
    let list = app.get_json("/api/v1/skills", &t.key).await;
    assert_eq!(list["total"], 8, "S2's fields under /api/v1: {list}");
    assert_eq!(list["success"], true, "{list}");
    assert_eq!(list["data"]["skills"], list["skills"]);
    let calculator = list["data"]["skills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "calculator")
        .unwrap();
    assert_eq!(calculator["version"], "1.0.0");
    assert_eq!(calculator["enabled"], true);
    assert!(calculator["description"].is_string());
    let plain = app.get_json("/v1/skills", &t.key).await;
    assert!(
        plain.get("success").is_none() && plain.get("data").is_none(),
        "{plain}"
    );
    assert_eq!(plain["skills"], list["skills"]);
    assert_eq!(installed(&app, &t.key).await, defaults_and(&[]));

    // S2's own example installs weather 1.2.0, the current version; 1.0.0 (S0's) installs too.
    for version in ["1.0.0", "1.2.0"] {
        let resp = install(&app, &t.key, json!({"name": "weather", "version": version})).await;
        assert_eq!(resp.status(), 200, "{version}");
        let skill: Value = resp.json().await.unwrap();
        assert_eq!(skill["version"], version);
    }
    // A version the catalogue lacks: 404 with what exists.
    let resp = install(&app, &t.key, json!({"name": "weather", "version": "3.0.0"})).await;
    let err = expect_error(resp, 404, "not_found").await;
    let weather = err["error"]["details"]["available"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "weather")
        .cloned();
    assert_eq!(
        weather,
        Some(json!({"name": "weather", "versions": ["1.2.0", "1.0.0"]})),
        "{err}"
    );
    let resp = install(
        &app,
        &t.key,
        json!({"name": "calculator", "version": "9.9.9"}),
    )
    .await;
    expect_error(resp, 404, "not_found").await;
    let resp = install(&app, &t.key, json!({"version": "1.0.0"})).await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "name");

    // Another tenant's installations are its own: uninstalling its calculator leaves this
    // tenant's alone. (A tenant's HTTP skills are unknown to others: see the HTTP skill test.)
    let resp = uninstall(&app, &other.key, "calculator").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        installed(&app, &other.key).await,
        defaults_but("calculator")
    );
    assert_eq!(installed(&app, &t.key).await, defaults_and(&[]));
    let resp = app
        .post("/v1/skills/calculator/disable")
        .bearer_auth(&other.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;

    let v: Value = app
        .post("/v1/skills/calculator/disable")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["enabled"].clone(), v["status"].clone()),
        (json!(false), json!("disabled"))
    );
    let resp = uninstall(&app, &t.key, "calculator").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(installed(&app, &t.key).await, defaults_but("calculator"));
    let resp = uninstall(&app, &t.key, "calculator").await;
    expect_error(resp, 404, "not_found").await;
}

/// The names of the tools a model request offered.
pub(crate) fn offered(req: &openclaw_mock_llm::RecordedRequest) -> Vec<String> {
    req.body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_run_calls_an_installed_skill_and_answers_with_its_result() {
    use openclaw_mock_llm::{MockLlm, Script, ToolCall};
    let mock = MockLlm::start().await;
    let app = crate::tasks::app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let ask = || async {
        app.post_json(
            "/v1/message",
            &t.key,
            &json!({"message": "What is 2 * (3 + 4) ^ 2?"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()
    };
    // Installed on a new tenant, and offered; uninstalled, not offered.
    ask().await;
    assert!(offered(&mock.requests()[0]).contains(&"calculator".to_string()));
    let resp = uninstall(&app, &t.key, "calculator").await;
    assert_eq!(resp.status(), 200);
    mock.clear_requests();
    ask().await;
    assert!(!offered(&mock.requests()[0]).contains(&"calculator".to_string()));

    assert_eq!(
        install(&app, &t.key, json!({"name": "calculator"}))
            .await
            .status(),
        201
    );
    mock.clear_requests();
    mock.push(Script {
        tool_calls: vec![ToolCall {
            id: "call_calc".into(),
            name: "calculator".into(),
            arguments: json!({"expression": "2 * (3 + 4) ^ 2"}),
        }],
        ..Default::default()
    });
    mock.push(Script {
        text: Some("It is 98.".into()),
        ..Default::default()
    });
    let reply = ask().await;
    assert_eq!(reply["content"], "It is 98.", "{reply}");
    assert_eq!(reply["skills_used"], json!(["calculator"]), "{reply}");
    let sent = mock.requests();
    assert!(
        offered(&sent[0]).contains(&"calculator".to_string()),
        "{}",
        sent[0].body
    );
    let answer = sent[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap()
        .clone();
    assert_eq!(answer["tool_call_id"], "call_calc");
    assert!(
        answer["content"].as_str().unwrap().contains("98"),
        "{answer}"
    );
    let skill = &app.get_json("/v1/skills", &t.key).await["skills"][0];
    assert_eq!(skill["invocations"], 1, "{skill}");
    assert!(skill["last_used"].is_string(), "{skill}");

    // Bad arguments from the model go back to it as the tool's error; the run still answers.
    mock.clear_requests();
    mock.push(Script {
        tool_calls: vec![ToolCall {
            id: "call_bad".into(),
            name: "calculator".into(),
            arguments: json!({"expression": 7}),
        }],
        ..Default::default()
    });
    mock.push(Script {
        text: Some("Sorry.".into()),
        ..Default::default()
    });
    assert_eq!(ask().await["content"], "Sorry.");
    let error = mock.requests()[1].body["messages"].to_string();
    assert!(error.contains("arguments.expression"), "{error}");

    // S2's SSE shows a call and its result as its document does: `invoking`, then `completed`
    // (or `failed`).
    for (arguments, status) in [
        (json!({"expression": "1 + 1"}), "completed"),
        (json!({"expression": 7}), "failed"),
    ] {
        mock.push(Script {
            tool_calls: vec![ToolCall {
                id: "call_sse".into(),
                name: "calculator".into(),
                arguments,
            }],
            ..Default::default()
        });
        mock.push(Script {
            text: Some("Done.".into()),
            ..Default::default()
        });
        let resp = app
            .post("/v1/message")
            .bearer_auth(&t.key)
            .header("accept", "text/event-stream")
            .json(&json!({"message": "and 1 + 1?"}))
            .send()
            .await
            .unwrap();
        let skill_events: Vec<Value> = openclaw_tests::sse::read_all(resp)
            .await
            .iter()
            .map(|e| e.json())
            .filter(|v| v["type"] == "skill_call" || v["type"] == "skill_result")
            .collect();
        assert_eq!(
            skill_events[0],
            json!({"type": "skill_call", "skill": "calculator", "status": "invoking"})
        );
        assert_eq!(skill_events[1]["type"], "skill_result", "{skill_events:?}");
        assert_eq!(skill_events[1]["skill"], "calculator");
        assert_eq!(skill_events[1]["status"], status, "{skill_events:?}");
    }

    // Disabled: no longer offered.
    app.post("/v1/skills/calculator/disable")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    mock.clear_requests();
    ask().await;
    assert!(!offered(&mock.requests()[0]).contains(&"calculator".to_string()));
    // Enabled again: offered again.
    let v: Value = app
        .post("/v1/skills/calculator/enable")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "active", "{v}");
    mock.clear_requests();
    ask().await;
    assert!(offered(&mock.requests()[0]).contains(&"calculator".to_string()));
}

/// A local stand-in for the web and for Open-Meteo: an HTML page, a redirect, and the
/// geocoding and forecast APIs the `weather` skill calls.
async fn fake_web() -> std::net::SocketAddr {
    use axum::http::{header, StatusCode};
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/page",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<html><head><style>p{color:red}</style><script>var x = 1;</script></head>\
                     <body><h1>Release notes</h1><p>Version 2 &amp; more</p></body></html>",
                )
            }),
        )
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "http://10.0.0.1/")]) }),
        )
        .route(
            "/v1/search",
            get(|q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                let found = q.get("name").map(String::as_str) == Some("北京");
                axum::Json(if found {
                    json!({"results": [{"name": "北京", "country": "中国",
                                        "latitude": 39.9, "longitude": 116.4}]})
                } else {
                    json!({})
                })
            }),
        )
        .route(
            "/v1/forecast",
            get(|| async {
                axum::Json(json!({"daily": {"time": ["2026-11-22"], "weather_code": [0],
                                            "temperature_2m_max": [28.0], "temperature_2m_min": [20.0]}}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// An app whose skills may reach 127.0.0.1 (the fake web) and whose weather API is the fake.
async fn app_with_fake_web(web: std::net::SocketAddr) -> openclaw_tests::TestApp {
    openclaw_tests::spawn_with(openclaw_tests::AppOptions {
        configure: Box::new(move |config| {
            config.skills.outbound = openclaw_engine::outbound::OutboundConfig::default()
                .with_allow_list(&format!("127.0.0.1:{}", web.port()));
            config.skills.weather = openclaw_engine::skills::WeatherConfig {
                forecast_url: format!("http://{web}"),
                geocoding_url: format!("http://{web}"),
            };
        }),
        ..Default::default()
    })
    .await
}

async fn fetch(app: &openclaw_tests::TestApp, key: &str, url: &str) -> reqwest::Response {
    app.post_json(
        "/v1/tools/web_fetch/execute",
        key,
        &json!({"parameters": {"url": url}}),
    )
    .await
}

#[tokio::test]
async fn web_fetch_refuses_private_and_local_addresses() {
    let web = fake_web().await;
    // No allow-list: even the fake web on loopback is refused.
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    for url in [
        format!("http://127.0.0.1:{}/page", web.port()),
        "http://10.0.0.1/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://[::1]:{}/page", web.port()),
        format!("http://localhost:{}/page", web.port()),
        "http://[::ffff:127.0.0.1]/".to_string(),
    ] {
        let err = expect_error(fetch(&app, &t.key, &url).await, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], "parameters.url", "{url}: {err}");
    }
    let err = expect_error(
        fetch(&app, &t.key, "file:///etc/passwd").await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(err["error"]["param"], "parameters.url");
}

#[tokio::test]
async fn web_fetch_reads_an_allow_listed_host_as_text_and_never_follows_redirects() {
    let web = fake_web().await;
    let app = app_with_fake_web(web).await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = fetch(
        &app,
        &t.key,
        &format!("http://127.0.0.1:{}/page", web.port()),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["result"]["text"], "Release notes Version 2 & more", "{v}");
    assert_eq!(v["result"]["status"], 200);
    // A redirect comes back as it is; its target (a private address) is never requested.
    let v: Value = fetch(
        &app,
        &t.key,
        &format!("http://127.0.0.1:{}/moved", web.port()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["result"]["status"], 302, "{v}");
    assert_eq!(v["result"]["location"], "http://10.0.0.1/");
    // Only that host and port are allowed.
    let other_port = if web.port() == 1 { 2 } else { web.port() - 1 };
    let resp = fetch(&app, &t.key, &format!("http://127.0.0.1:{other_port}/")).await;
    expect_error(resp, 400, "invalid_request").await;
}

#[tokio::test]
async fn the_s0_weather_example_runs_against_the_configured_forecast_api() {
    let web = fake_web().await;
    let app = app_with_fake_web(web).await;
    let t = app.create_tenant(Tier::Free).await;
    // S0's request, verbatim.
    let v: Value = app
        .post_json(
            "/api/v1/skills/weather/execute",
            &t.key,
            &json!({"args": ["北京"], "session": "default"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["success"], true, "{v}");
    // `result` is a sentence, as S0 shows it; the structured forecast is beside it.
    assert_eq!(v["data"]["result"], "北京 today: clear, 20–28 °C", "{v}");
    let output = &v["data"]["output"];
    assert_eq!(output["summary"], v["data"]["result"], "{v}");
    assert_eq!(output["daily"][0]["max_c"], 28.0);
    // A place the geocoder does not know is the caller's 400.
    let resp = app
        .post_json(
            "/v1/tools/weather/execute",
            &t.key,
            &json!({"parameters": {"city": "Atlantis"}}),
        )
        .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "parameters.city");
    let resp = app
        .post_json(
            "/v1/tools/weather/execute",
            &t.key,
            &json!({"parameters": {"city": "北京", "days": 30}}),
        )
        .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "parameters.days");
}

#[tokio::test]
async fn a_model_that_keeps_calling_skills_is_stopped_at_the_step_bound() {
    use openclaw_mock_llm::{MockLlm, Script, ToolCall};
    let mock = MockLlm::start().await;
    let app = crate::tasks::app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    install(&app, &t.key, json!({"name": "calculator"})).await;
    // More tool-calling answers than a run may make model calls.
    for i in 0..20 {
        mock.push(Script {
            tool_calls: vec![ToolCall {
                id: format!("call_{i}"),
                name: "calculator".into(),
                arguments: json!({"expression": format!("{i} + 1")}),
            }],
            ..Default::default()
        });
    }
    // S4's stream says how the run finished.
    let body = app
        .post_json(
            "/v1/agent/run/stream",
            &t.key,
            &json!({"message": "count forever"}),
        )
        .await
        .text()
        .await
        .unwrap();
    let done = body
        .split("\n\n")
        .find(|frame| frame.contains("event: done"))
        .unwrap_or_else(|| panic!("no done event: {body}"));
    assert!(done.contains("\"finishReason\":\"max_steps\""), "{done}");
    // The bound is the run's model calls (8): the eighth answer's call is not executed.
    assert_eq!(mock.requests().len(), 8);
    let skill = &app.get_json("/v1/skills", &t.key).await["skills"][0];
    assert_eq!(skill["invocations"], 7, "{skill}");
}

/// A tenant's skill endpoint: checks each request's signature with the secret it is given
/// (HMAC-SHA256 of `t.body`, computed here independently of the platform's code), answers a
/// greeting, fails on `"name": "boom"` and is slow on `"name": "slow"`.
struct Endpoint {
    addr: std::net::SocketAddr,
    secret: std::sync::Arc<std::sync::Mutex<String>>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(bool, Value)>>>,
}

async fn skill_endpoint() -> Endpoint {
    use axum::http::{HeaderMap, StatusCode};
    use hmac::{Hmac, Mac};
    use std::sync::{Arc, Mutex};
    let secret = Arc::new(Mutex::new(String::new()));
    let seen: Arc<Mutex<Vec<(bool, Value)>>> = Arc::default();
    let (s, log) = (secret.clone(), seen.clone());
    let app = axum::Router::new().route(
        "/skill",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (secret, log) = (s.lock().unwrap().clone(), log.clone());
            async move {
                let header = headers
                    .get("x-openclaw-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let part = |key: &str| {
                    header
                        .split(',')
                        .find_map(|p| p.strip_prefix(key))
                        .unwrap_or_default()
                        .to_string()
                };
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(format!("{}.", part("t=")).as_bytes());
                mac.update(&body);
                let valid =
                    hex::decode(part("v1=")).is_ok_and(|sig| mac.verify_slice(&sig).is_ok());
                let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log.lock().unwrap().push((valid, request.clone()));
                if !valid {
                    return (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"error": "bad signature"})),
                    );
                }
                match request["input"]["name"].as_str() {
                    Some("boom") => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({}))),
                    Some("slow") => {
                        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                        (StatusCode::OK, axum::Json(json!({})))
                    }
                    name => (
                        StatusCode::OK,
                        axum::Json(json!({"greeting": format!("Hello, {}!", name.unwrap_or("?"))})),
                    ),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Endpoint { addr, secret, seen }
}

fn greeter(endpoint: &Endpoint) -> Value {
    json!({
        "name": "greeter",
        "version": "1.0.0",
        "description": "Greets someone by name",
        "input_schema": {"type": "object", "properties": {"name": {"type": "string"}},
                         "required": ["name"], "additionalProperties": false},
        "endpoint": format!("http://{}/skill", endpoint.addr),
        "timeout": 1,
    })
}

#[tokio::test]
async fn a_tenant_http_skill_is_called_signed_by_the_api_and_by_a_run_and_only_for_its_tenant() {
    use openclaw_mock_llm::{MockLlm, Script, ToolCall};
    let endpoint = skill_endpoint().await;
    let mock = MockLlm::start().await;
    let port = endpoint.addr.port();
    let app = openclaw_tests::spawn_with(openclaw_tests::AppOptions {
        providers: Some(openclaw_tests::mock_providers(&mock)),
        configure: Box::new(move |config| {
            config.skills.outbound = openclaw_engine::outbound::OutboundConfig::default()
                .with_allow_list(&format!("127.0.0.1:{port}"));
        }),
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    let other = app.create_tenant(Tier::Free).await;

    let resp = app
        .post_json("/v1/skills", &t.key, &greeter(&endpoint))
        .await;
    assert_eq!(resp.status(), 201);
    let registered: Value = resp.json().await.unwrap();
    let secret = registered["signing_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("sks_"), "{registered}");
    assert_eq!(registered["kind"], "http");
    assert_eq!(registered["permissions"]["network"], true);
    *endpoint.secret.lock().unwrap() = secret;
    // Shown once: never in listings.
    let tools = app.get_json("/v1/tools", &t.key).await;
    assert!(tools.to_string().contains("greeter") && !tools.to_string().contains("sks_"));
    assert_eq!(installed(&app, &t.key).await, defaults_and(&["greeter"]));

    // Executed through the API: signed, validated, its JSON answer the result.
    let v: Value = app
        .post_json(
            "/v1/tools/greeter/execute",
            &t.key,
            &json!({"parameters": {"name": "Ada"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["result"], json!({"greeting": "Hello, Ada!"}), "{v}");
    let (valid, request) = endpoint.seen.lock().unwrap()[0].clone();
    assert!(valid, "the endpoint could not verify the signature");
    assert_eq!(
        request,
        json!({"skill": "greeter", "version": "1.0.0", "input": {"name": "Ada"}})
    );
    let resp = app
        .post_json(
            "/v1/tools/greeter/execute",
            &t.key,
            &json!({"parameters": {"name": 7}}),
        )
        .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "parameters.name");
    let resp = app
        .post_json(
            "/v1/tools/greeter/execute",
            &t.key,
            &json!({"parameters": {"name": "boom"}}),
        )
        .await;
    expect_error(resp, 502, "upstream_error").await;
    let resp = app
        .post_json(
            "/v1/tools/greeter/execute",
            &t.key,
            &json!({"parameters": {"name": "slow"}}),
        )
        .await;
    expect_error(resp, 504, "upstream_timeout").await;

    // A run's model calls it like any installed skill.
    mock.push(Script {
        tool_calls: vec![ToolCall {
            id: "call_greet".into(),
            name: "greeter".into(),
            arguments: json!({"name": "Grace"}),
        }],
        ..Default::default()
    });
    mock.push(Script {
        text: Some("Greeted.".into()),
        ..Default::default()
    });
    let reply: Value = app
        .post_json("/v1/message", &t.key, &json!({"message": "greet Grace"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reply["content"], "Greeted.", "{reply}");
    let sent = mock.requests();
    assert!(offered(&sent[0]).contains(&"greeter".to_string()));
    assert!(sent[1].body["messages"]
        .to_string()
        .contains("Hello, Grace!"));

    // Another tenant neither sees nor reaches it.
    assert!(!app
        .get_json("/v1/tools", &other.key)
        .await
        .to_string()
        .contains("greeter"));
    let resp = app
        .post_json(
            "/v1/tools/greeter/execute",
            &other.key,
            &json!({"parameters": {"name": "Eve"}}),
        )
        .await;
    expect_error(resp, 404, "not_found").await;
    let resp = app
        .delete("/v1/skills/greeter")
        .bearer_auth(&other.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;

    // Registration is checked; uninstalling deletes it.
    let mut dup = greeter(&endpoint);
    let resp = app.post_json("/v1/skills", &t.key, &dup).await;
    expect_error(resp, 409, "conflict").await;
    dup["name"] = json!("calculator");
    let resp = app.post_json("/v1/skills", &t.key, &dup).await;
    expect_error(resp, 409, "conflict").await;
    for (field, value) in [
        ("endpoint", json!("http://example.com/skill")),
        ("input_schema", json!({"type": "string"})),
        ("timeout", json!(60)),
        ("name", json!("Bad Name")),
    ] {
        let mut bad = greeter(&endpoint);
        bad["name"] = json!("other");
        bad[field] = value;
        let resp = app.post_json("/v1/skills", &t.key, &bad).await;
        let err = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], field, "{err}");
    }
    let resp = app
        .delete("/v1/skills/greeter")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .post_json(
            "/v1/tools/greeter/execute",
            &t.key,
            &json!({"parameters": {"name": "Ada"}}),
        )
        .await;
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn a_tenant_http_skill_at_a_private_address_is_refused_when_called() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let resp = app
        .post_json(
            "/v1/skills",
            &t.key,
            &json!({
                "name": "internal", "version": "1.0.0", "description": "reaches inside",
                "input_schema": {"type": "object"},
                "endpoint": "https://169.254.169.254/latest/meta-data/",
            }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .post_json(
            "/v1/tools/internal/execute",
            &t.key,
            &json!({"parameters": {}}),
        )
        .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "endpoint");
}
