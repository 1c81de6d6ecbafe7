//! Spawned agents (API.md §5.6, S3): spawning, long-polling for the result, following the
//! agent's events, cancelling, sub-agents through the `spawn_agent` tool, validation, tenant
//! isolation and scopes.

use std::time::{Duration, Instant};

use openclaw_domain::Tier;
use openclaw_mock_llm::{MockLlm, Script, ToolCall};
use openclaw_tests::sse::{read_all, SseReader};
use openclaw_tests::{expect_error, TestApp, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

use crate::tasks::{
    app_with, app_without_worker, poll_until, run_status, slow_script, wait_run_status,
};

async fn spawn(app: &TestApp, t: &TestTenant, body: Value) -> reqwest::Response {
    app.post("/v1/agents/spawn")
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn spawn_ok(app: &TestApp, t: &TestTenant, body: Value) -> Value {
    let resp = spawn(app, t, body).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn events(app: &TestApp, t: &TestTenant, id: &str) -> reqwest::Response {
    app.get(&format!("/v1/agents/{id}/events"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_s3_agent_is_spawned_and_waited_for() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    mock.push(Script {
        text: Some("文档的要点如下".into()),
        delay_ms: 300,
        ..Default::default()
    });
    // S3's curl goes to /api/v1 with `-d` and no Content-Type, so curl labels the JSON
    // `application/x-www-form-urlencoded`.
    let resp = app
        .post("/api/v1/agents/spawn")
        .bearer_auth(&t.key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            json!({"task": "分析这份文档", "model": "gpt-4o", "timeout": 300,
                   "skills": ["web_fetch", "file_read"]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let agent: Value = resp.json().await.unwrap();
    let id = agent["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("agent_"), "{agent}");
    assert_eq!(location, format!("/api/v1/agents/{id}"));
    assert_eq!(agent["object"], "agent");
    assert_eq!(agent["status"], "pending");
    assert_eq!(agent["task"], "分析这份文档");
    assert_eq!(agent["model"], "gpt-4o");
    assert_eq!(agent["skills"], json!(["web_fetch", "file_read"]));
    assert_eq!(agent["timeout"], 300);
    assert!(agent["parent_id"].is_null() && agent["result"].is_null());
    assert_eq!(agent["depth"], 0);

    let started = Instant::now();
    let done = app
        .get_json(&format!("/v1/agents/{id}?wait=10"), &t.key)
        .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["content"], "文档的要点如下");
    // The bare name the seed uses resolves to the OpenAI-compatible provider.
    assert_eq!(done["result"]["model"], "openai/gpt-4o");
    assert_eq!(done["children"], json!([]));
    assert!(done["run_id"].as_str().unwrap().starts_with("run_"));
    assert!(done["completed_at"].as_str().unwrap().ends_with('Z'));
    // The model got the task, and only the skills S3 named as tools.
    let sent = mock.requests();
    assert!(sent[0].body["messages"]
        .to_string()
        .contains("分析这份文档"));
    let mut offered = crate::skills::offered(&sent[0]);
    offered.sort();
    assert_eq!(offered, ["file_read", "web_fetch"], "{}", sent[0].body);

    // An ended agent answers a long-poll at once.
    let started = Instant::now();
    let again = app
        .get_json(&format!("/v1/agents/{id}?wait=60"), &t.key)
        .await;
    assert_eq!(again["status"], "completed");
    assert!(started.elapsed() < Duration::from_secs(2));

    for wait in ["61", "-1", "soon"] {
        let resp = app
            .get(&format!("/v1/agents/{id}?wait={wait}"))
            .bearer_auth(&t.key)
            .send()
            .await
            .unwrap();
        let err = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], "wait", "{wait}");
    }
}

#[tokio::test]
async fn a_long_poll_returns_the_pending_agent_when_the_wait_runs_out() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let agent = spawn_ok(&app, &t, json!({"task": "wait for me"})).await;
    let id = agent["id"].as_str().unwrap();
    let started = Instant::now();
    let v = app
        .get_json(&format!("/v1/agents/{id}?wait=1"), &t.key)
        .await;
    assert_eq!(v["status"], "pending");
    assert!(v["model"].is_null() && v["skills"] == json!([]), "{v}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // Cancelling wakes a long-poll at once.
    let poll = {
        let (client, url, key) = (
            app.client.clone(),
            format!("{}/v1/agents/{id}?wait=30", app.base),
            t.key.clone(),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let v: Value = client
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (v, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resp = app
        .delete(&format!("/v1/agents/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (v, took) = poll.await.unwrap();
    assert_eq!(v["status"], "cancelled");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn an_agents_events_stream_from_start_to_done() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    mock.push(Script {
        text: Some("one two three four".into()),
        ttft_ms: 300,
        token_delay_ms: 50,
        ..Default::default()
    });
    let agent = spawn_ok(&app, &t, json!({"task": "count"})).await;
    let id = agent["id"].as_str().unwrap().to_string();
    // Asked before the run has started: the stream waits for it.
    let resp = events(&app, &t, &id).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut reader = SseReader::new(resp);
    let mut seen = Vec::new();
    while let Some(e) = reader.next().await {
        seen.push(e);
    }
    let names: Vec<&str> = seen.iter().map(|e| e.event.as_deref().unwrap()).collect();
    assert_eq!(names.first(), Some(&"start"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(
        names[1..names.len() - 1].iter().all(|n| *n == "delta"),
        "{names:?}"
    );
    let ids: Vec<u64> = seen
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    let text: String = seen
        .iter()
        .filter(|e| e.event.as_deref() == Some("delta"))
        .map(|e| e.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text, "one two three four");
    let done = seen.last().unwrap().json();
    assert_eq!(done["content"], "one two three four");

    // Afterwards: the same as the run's own events, and resumable.
    let agent = app
        .get_json(&format!("/v1/agents/{id}?wait=10"), &t.key)
        .await;
    let run = agent["run_id"].as_str().unwrap();
    let via_run = app
        .get(&format!("/v1/runs/{run}/events"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let via_run = read_all(via_run).await;
    let again = read_all(events(&app, &t, &id).await).await;
    assert_eq!(again, via_run);
    assert_eq!(again.last().unwrap().event.as_deref(), Some("done"));
    let resp = app
        .get(&format!("/v1/agents/{id}/events"))
        .bearer_auth(&t.key)
        .header("last-event-id", "2")
        .send()
        .await
        .unwrap();
    let rest = read_all(resp).await;
    assert_eq!(rest.first().unwrap().id.as_deref(), Some("3"));
    assert_eq!(rest, via_run.into_iter().skip(2).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_running_agent_is_cancelled_and_stops() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    mock.push(slow_script());
    let agent = spawn_ok(&app, &t, json!({"task": "go on and on"})).await;
    let id = agent["id"].as_str().unwrap().to_string();
    let running = poll_until(&app, &t, &format!("/v1/agents/{id}"), |v| {
        v["status"] == "running" && v["run_id"].is_string()
    })
    .await;
    let run = running["run_id"].as_str().unwrap().to_string();
    let mut stream = SseReader::new(events(&app, &t, &id).await);
    let first = stream.next().await.unwrap();
    assert_eq!(first.event.as_deref(), Some("start"));
    assert_eq!(run_status(&app, &t, &run).await, "processing");

    let resp = app
        .delete(&format!("/v1/agents/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "cancelled");
    wait_run_status(&app, &t, &run, "cancelled").await;
    let mut last = None;
    while let Some(e) = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the stream ends")
    {
        last = Some(e);
    }
    let last = last.unwrap();
    assert_eq!(last.event.as_deref(), Some("error"));
    assert_eq!(last.json()["code"], "cancelled");
    let after = app.get_json(&format!("/v1/agents/{id}"), &t.key).await;
    assert_eq!(after["status"], "cancelled");
    let again = app
        .delete(&format!("/v1/agents/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let err = expect_error(again, 409, "conflict").await;
    assert_eq!(err["error"]["details"]["status"], "cancelled");
}

#[tokio::test]
async fn an_agent_cancelled_before_it_ran_ends_its_events_with_one_error() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let agent = spawn_ok(&app, &t, json!({"task": "never starts"})).await;
    let id = agent["id"].as_str().unwrap().to_string();
    // A stream opened while it waits ends when it is cancelled.
    let waiting = {
        let (client, url, key) = (
            app.client.clone(),
            format!("{}/v1/agents/{id}/events", app.base),
            t.key.clone(),
        );
        tokio::spawn(async move {
            let resp = client.get(url).bearer_auth(key).send().await.unwrap();
            read_all(resp).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resp = app
        .delete(&format!("/v1/agents/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting stream ends")
        .unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].event.as_deref(), Some("error"));
    assert_eq!(seen[0].id.as_deref(), Some("1"));
    let data = seen[0].json();
    assert_eq!(data["type"], "error");
    assert_eq!(data["code"], "cancelled");
    assert_eq!(data["seq"], 1);
    // And so does a stream opened afterwards.
    let later = read_all(events(&app, &t, &id).await).await;
    assert_eq!(later, seen);
}

#[tokio::test]
async fn an_agent_gathers_what_its_sub_agents_found() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    mock.push(Script {
        tool_calls: vec![
            ToolCall {
                id: "call_search".into(),
                name: "spawn_agent".into(),
                arguments: json!({"task": "搜索信息"}),
            },
            ToolCall {
                id: "call_analyse".into(),
                name: "spawn_agent".into(),
                arguments: json!({"task": "分析数据"}),
            },
        ],
        ..Default::default()
    });
    // The two children run at once and take the next two scripts in either order.
    for _ in 0..2 {
        mock.push(Script {
            text: Some("子任务完成".into()),
            ..Default::default()
        });
    }
    mock.push(Script {
        text: Some("报告：汇总了两个子任务".into()),
        ..Default::default()
    });
    let parent = spawn_ok(
        &app,
        &t,
        json!({"task": "生成报告", "model": "openai/mock-1"}),
    )
    .await;
    let id = parent["id"].as_str().unwrap().to_string();
    let done = app
        .get_json(&format!("/v1/agents/{id}?wait=30"), &t.key)
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["content"], "报告：汇总了两个子任务");
    let children = done["children"].as_array().unwrap();
    assert_eq!(children.len(), 2, "{done}");
    let mut tasks = Vec::new();
    for child in children {
        let child = child.as_str().unwrap();
        assert!(child.starts_with("agent_"));
        let c = app.get_json(&format!("/v1/agents/{child}"), &t.key).await;
        assert_eq!(c["status"], "completed", "{c}");
        assert_eq!(c["parent_id"], id.as_str());
        assert_eq!(c["depth"], 1);
        assert_eq!(c["result"]["content"], "子任务完成");
        assert_eq!(c["model"], "openai/mock-1", "children inherit the model");
        // The parent named no skills: neither do they (all installed ones are theirs).
        assert_eq!(c["skills"], json!([]), "{c}");
        assert_eq!(c["children"], json!([]));
        tasks.push(c["task"].as_str().unwrap().to_string());
    }
    tasks.sort();
    let mut want = vec!["分析数据".to_string(), "搜索信息".to_string()];
    want.sort();
    assert_eq!(tasks, want);

    // The parent's second request carries both tool results.
    let sent = mock.requests();
    assert_eq!(sent.len(), 4);
    let last = &sent[3].body["messages"];
    assert!(
        last.to_string().contains("生成报告"),
        "it is the parent's: {last}"
    );
    let results: Vec<&Value> = last
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(results.len(), 2, "{last}");
    for call in ["call_search", "call_analyse"] {
        let r = results
            .iter()
            .find(|m| m["tool_call_id"] == call)
            .unwrap_or_else(|| panic!("no result for {call}: {last}"));
        assert!(r["content"].to_string().contains("子任务完成"), "{r}");
    }
    // The spawn_agent tool was offered to the parent.
    let tools = sent[0].body["tools"].to_string();
    assert!(tools.contains("spawn_agent"), "{tools}");

    // Sub-agents are listed with the agents.
    let list = app.get_json("/v1/agents", &t.key).await;
    assert_eq!(list["total"], 3);
    let outbox = app
        .store
        .outbox_events(crate::tasks::tenant_id(&t))
        .await
        .unwrap();
    let count = |e: &str| outbox.iter().filter(|o| o.event == e).count();
    assert_eq!(count("agent.spawned"), 3);
    assert_eq!(count("agent.completed"), 3);
}

#[tokio::test]
async fn spawn_fields_are_validated() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let huge = "x".repeat(100_001);
    let cases = [
        (json!({}), "task"),
        (json!({"task": ""}), "task"),
        (json!({"task": "  "}), "task"),
        (json!({"task": 5}), "task"),
        (json!({"task": huge}), "task"),
        (json!({"task": "t", "model": "gpt 4"}), "model"),
        (json!({"task": "t", "model": "ghost/x"}), "model"),
        (json!({"task": "t", "model": 4}), "model"),
        (json!({"task": "t", "timeout": 0}), "timeout"),
        (json!({"task": "t", "timeout": 3601}), "timeout"),
        (json!({"task": "t", "skills": "web_fetch"}), "skills"),
        (json!({"task": "t", "skills": [1]}), "skills[0]"),
        (json!({"task": "t", "skills": ["ok", ""]}), "skills[1]"),
        (json!({"task": "t", "priority": 1}), "priority"),
    ];
    for (body, param) in cases {
        let err = expect_error(spawn(&app, &t, body.clone()).await, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{body}: {err}");
    }
    let ok = spawn_ok(
        &app,
        &t,
        json!({"task": "x".repeat(100_000), "timeout": 3600, "model": "builtin/echo"}),
    )
    .await;
    assert_eq!(ok["timeout"], 3600);
    assert_eq!(ok["task"].as_str().unwrap().len(), 100_000);
}

#[tokio::test]
async fn spawn_skills_must_be_installed_skills_of_the_tenant() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let other = app.create_tenant(Tier::Enterprise).await;
    // Another tenant's HTTP skill is no skill of this one.
    let greeter = json!({"name": "greeter", "version": "1.0.0", "description": "Greets", "endpoint":
        "https://skills.example.com/greet", "input_schema": {"type": "object"}});
    let resp = app.post_json("/v1/skills", &other.key, &greeter).await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .post("/v1/skills/weather/disable")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cases = [
        (
            json!(["web_fetch", "file_write"]),
            "skills[1]",
            "no skill `file_write`",
        ),
        (json!(["greeter"]), "skills[0]", "no skill `greeter`"),
        (
            json!(["calculator", "weather"]),
            "skills[1]",
            "not installed and enabled",
        ),
    ];
    for (skills, param, says) in cases {
        let body = json!({"task": "t", "skills": skills});
        let err = expect_error(spawn(&app, &t, body).await, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{skills}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{skills}: {message}");
    }
    // The other tenant may name its own.
    spawn_ok(&app, &other, json!({"task": "t", "skills": ["greeter"]})).await;
}

#[tokio::test]
async fn tenants_never_see_each_others_agents() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let a = app.create_tenant(Tier::Enterprise).await;
    let b = app.create_tenant(Tier::Enterprise).await;
    let agent = spawn_ok(&app, &a, json!({"task": "private"})).await;
    let id = agent["id"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/v1/agents/{id}")),
        (Method::GET, format!("/v1/agents/{id}?wait=1")),
        (Method::DELETE, format!("/v1/agents/{id}")),
        (Method::GET, format!("/v1/agents/{id}/events")),
    ] {
        let resp = app
            .request(method.clone(), &path)
            .bearer_auth(&b.key)
            .send()
            .await
            .unwrap();
        expect_error(resp, 404, "not_found").await;
    }
    let list = app.get_json("/v1/agents", &b.key).await;
    assert_eq!(list["total"], 0);
    assert_eq!(list["data"], json!([]));
    let mine = app.get_json("/v1/agents", &a.key).await;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["data"][0]["id"], id);
    // A task's id is not an agent's.
    let task = app
        .post("/v1/tasks")
        .bearer_auth(&a.key)
        .json(&json!({"name": "t", "type": "noop"}))
        .send()
        .await
        .unwrap();
    let task: Value = task.json().await.unwrap();
    let bare = task["id"].as_str().unwrap().strip_prefix("task_").unwrap();
    for path in [
        format!("/v1/agents/{bare}"),
        format!("/v1/agents/agent_{bare}"),
    ] {
        let resp = app.get(&path).bearer_auth(&a.key).send().await.unwrap();
        expect_error(resp, 404, "not_found").await;
    }
}

#[tokio::test]
async fn agents_need_the_agents_scope() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let agent = spawn_ok(&app, &t, json!({"task": "x"})).await;
    let id = agent["id"].as_str().unwrap();
    let narrow = app
        .admin_key(
            &t.id,
            json!({"name": "narrow", "scopes": ["tasks", "messages"]}),
        )
        .await;
    let key = narrow["key"].as_str().unwrap();
    for (method, path) in [
        (Method::POST, "/v1/agents/spawn".to_string()),
        (Method::GET, "/v1/agents".to_string()),
        (Method::GET, format!("/v1/agents/{id}")),
        (Method::GET, format!("/v1/agents/{id}/events")),
        (Method::DELETE, format!("/v1/agents/{id}")),
    ] {
        let resp = app
            .request(method.clone(), &path)
            .bearer_auth(key)
            .json(&json!({"task": "x"}))
            .send()
            .await
            .unwrap();
        let err = expect_error(resp, 403, "forbidden").await;
        assert_eq!(
            err["error"]["details"]["required_scope"], "agents",
            "{method} {path}"
        );
    }
}
