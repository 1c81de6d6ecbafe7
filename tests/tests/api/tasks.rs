//! Tasks (API.md §5.6, S1): creating, executing on the in-process worker against a scripted
//! upstream, validation, listing, cancelling before and while running, failures, the outbox,
//! tenant isolation, scopes, the per-tenant cap on unfinished jobs, and `skill` tasks.

use std::time::{Duration, Instant};

use futures::StreamExt;
use openclaw_domain::{TenantId, Tier};
use openclaw_mock_llm::{MockLlm, Script};
use openclaw_store::{JobKind, NewJob};
use openclaw_tests::{
    expect_error, mock_providers, spawn_with, test_worker, AppOptions, RedisMode, TestApp,
    TestTenant,
};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

pub async fn app_with(mock: &MockLlm) -> TestApp {
    spawn_with(AppOptions {
        providers: Some(mock_providers(mock)),
        ..Default::default()
    })
    .await
}

/// An API without a worker: jobs stay queued.
pub async fn app_without_worker(mock: &MockLlm) -> TestApp {
    spawn_with(AppOptions {
        providers: Some(mock_providers(mock)),
        worker: None,
        ..Default::default()
    })
    .await
}

pub fn tenant_id(t: &TestTenant) -> TenantId {
    t.id.parse().unwrap()
}

async fn create(app: &TestApp, t: &TestTenant, body: Value) -> reqwest::Response {
    app.post("/v1/tasks")
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Creates a task and returns its view (asserting 201).
async fn create_ok(app: &TestApp, t: &TestTenant, body: Value) -> Value {
    let resp = create(app, t, body).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

/// Polls a task or agent (`path`) until `done` holds, for up to 20 s.
pub async fn poll_until(
    app: &TestApp,
    t: &TestTenant,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = app.get_json(path, &t.key).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path} never got there: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_status(app: &TestApp, t: &TestTenant, id: &str, status: &str) -> Value {
    poll_until(app, t, &format!("/v1/tasks/{id}"), |v| {
        v["status"] == status
    })
    .await
}

fn is_utc_rfc3339(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

/// A run's status as the store records it.
pub async fn run_status(app: &TestApp, t: &TestTenant, run: &str) -> String {
    let id = openclaw_engine::run::parse_run_id(run).expect("a run id");
    app.store
        .get_run(tenant_id(t), id)
        .await
        .unwrap()
        .expect("the run exists")
        .status
        .to_string()
}

pub async fn wait_run_status(app: &TestApp, t: &TestTenant, run: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = run_status(app, t, run).await;
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} is still {status}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A reply slow enough to cancel mid-way: 200 tokens, 50 ms apart (~10 s).
pub fn slow_script() -> Script {
    Script {
        text: Some("w ".repeat(200)),
        token_delay_ms: 50,
        ..Default::default()
    }
}

#[tokio::test]
async fn the_s1_example_task_runs_as_an_agent_and_completes() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    mock.push(Script {
        text: Some("处理完成：data.csv 共 3 行".into()),
        ..Default::default()
    });
    let resp = create(
        &app,
        &t,
        json!({"name": "数据处理任务", "type": "data-processing",
               "parameters": {"input_file": "data.csv"}}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let task: Value = resp.json().await.unwrap();
    let id = task["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("task_"), "{task}");
    assert_eq!(location, format!("/v1/tasks/{id}"));
    assert_eq!(task["object"], "task");
    assert_eq!(task["name"], "数据处理任务");
    assert_eq!(task["type"], "data-processing");
    assert_eq!(task["status"], "pending");
    assert_eq!(task["parameters"], json!({"input_file": "data.csv"}));
    assert_eq!(task["priority"], 0);
    assert_eq!(task["timeout"], 300);
    assert_eq!(task["progress"], 0);
    assert!(
        task["result"].is_null() && task["error"].is_null(),
        "{task}"
    );
    assert!(is_utc_rfc3339(&task["created_at"]), "{task}");
    assert!(is_utc_rfc3339(&task["updated_at"]), "{task}");

    let done = wait_status(&app, &t, &id, "completed").await;
    assert_eq!(done["result"]["content"], "处理完成：data.csv 共 3 行");
    assert_eq!(done["result"]["model"], "openai/mock-1");
    assert_eq!(done["progress"], 100);
    assert_eq!(done["attempts"], 1);
    assert!(done["error"].is_null());
    assert!(is_utc_rfc3339(&done["started_at"]) && is_utc_rfc3339(&done["completed_at"]));
    let run = done["run_id"].as_str().unwrap();
    assert!(run.starts_with("run_"));
    assert_eq!(done["result"]["run_id"], run);

    // The model was told what to do: the task's name, type and parameters.
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    let prompt = sent[0].body["messages"].to_string();
    for needle in ["数据处理任务", "data-processing", "input_file", "data.csv"] {
        assert!(prompt.contains(needle), "{needle} missing from {prompt}");
    }
}

#[tokio::test]
async fn agent_and_noop_tasks_complete() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let agent = create_ok(
        &app,
        &t,
        json!({"name": "ask", "type": "agent", "parameters": {"message": "what is 2+2?"}}),
    )
    .await;
    let noop = create_ok(&app, &t, json!({"name": "nothing", "type": "noop"})).await;
    assert_eq!(noop["parameters"], json!({}));

    let agent = wait_status(&app, &t, agent["id"].as_str().unwrap(), "completed").await;
    assert_eq!(agent["result"]["content"], "mock: what is 2+2?");
    assert_eq!(agent["progress"], 100);
    let noop = wait_status(&app, &t, noop["id"].as_str().unwrap(), "completed").await;
    assert_eq!(noop["result"], json!({}));
    assert_eq!(noop["progress"], 100);
    assert!(noop["run_id"].is_null());

    // The worker's metrics (one recorder per process, so the app's /metrics shows them).
    let metrics = app.metrics().await;
    for name in [
        "openclaw_jobs_started_total{kind=\"task\"}",
        "openclaw_job_duration_seconds_bucket{kind=\"task\",outcome=\"completed\"",
        "openclaw_job_wait_duration_seconds_bucket{kind=\"task\"",
        "openclaw_jobs_queued ",
        "openclaw_jobs_oldest_queued_seconds ",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    // Also under /api/v1, with the Location there.
    let resp = app
        .post("/api/v1/tasks")
        .bearer_auth(&t.key)
        .json(&json!({"name": "n", "type": "noop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/api/v1/tasks/task_"), "{loc}");
    let v = app.get_json(&loc, &t.key).await;
    assert_eq!(v["object"], "task");
}

#[tokio::test]
async fn task_fields_are_validated() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let long_name = "n".repeat(201);
    let long_type = "t".repeat(101);
    let big = "x".repeat(64 * 1024);
    let cases = [
        (json!({"type": "noop"}), "name"),
        (json!({"name": "", "type": "noop"}), "name"),
        (json!({"name": "   ", "type": "noop"}), "name"),
        (json!({"name": long_name, "type": "noop"}), "name"),
        (json!({"name": 5, "type": "noop"}), "name"),
        (json!({"name": "n"}), "type"),
        (json!({"name": "n", "type": ""}), "type"),
        (json!({"name": "n", "type": "data processing"}), "type"),
        (json!({"name": "n", "type": "数据"}), "type"),
        (json!({"name": "n", "type": long_type}), "type"),
        (
            json!({"name": "n", "type": "noop", "parameters": [1]}),
            "parameters",
        ),
        (
            json!({"name": "n", "type": "noop", "parameters": "x"}),
            "parameters",
        ),
        (
            json!({"name": "n", "type": "noop", "parameters": {"big": big}}),
            "parameters",
        ),
        (
            json!({"name": "n", "type": "noop", "priority": 101}),
            "priority",
        ),
        (
            json!({"name": "n", "type": "noop", "priority": -101}),
            "priority",
        ),
        (
            json!({"name": "n", "type": "noop", "priority": "high"}),
            "priority",
        ),
        (
            json!({"name": "n", "type": "noop", "priority": 1.5}),
            "priority",
        ),
        (
            json!({"name": "n", "type": "noop", "timeout": 0}),
            "timeout",
        ),
        (
            json!({"name": "n", "type": "noop", "timeout": 3601}),
            "timeout",
        ),
        (
            json!({"name": "n", "type": "noop", "timeout": -5}),
            "timeout",
        ),
        (json!({"name": "n", "type": "agent"}), "parameters.message"),
        (
            json!({"name": "n", "type": "agent", "parameters": {"message": " "}}),
            "parameters.message",
        ),
        (
            json!({"name": "n", "type": "agent", "parameters": {"message": "m", "model": 3}}),
            "parameters.model",
        ),
        (
            json!({"name": "n", "type": "agent", "parameters": {"message": "m", "model": "claude-3-5-sonnet"}}),
            "parameters.model",
        ),
        (
            json!({"name": "n", "type": "agent", "parameters": {"message": "m", "model": "ghost/x"}}),
            "parameters.model",
        ),
        (
            json!({"name": "n", "type": "agent", "parameters": {"message": "m", "session_id": "a/b"}}),
            "parameters.session_id",
        ),
        (
            json!({"name": "n", "type": "skill", "parameters": {"skill": "x"}}),
            "parameters.skill",
        ),
        (
            json!({"name": "n", "type": "memory.compact", "parameters": {"older_than": -1}}),
            "parameters.older_than",
        ),
        (
            json!({"name": "n", "type": "memory.compact", "parameters": {"before": "x"}}),
            "parameters.before",
        ),
        (
            json!({"name": "n", "type": "noop", "tenant_id": "ten_x"}),
            "tenant_id",
        ),
    ];
    for (body, param) in cases {
        let err = expect_error(create(&app, &t, body.clone()).await, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{body}: {err}");
    }
    // The bounds themselves are fine.
    for body in [
        json!({"name": "n".repeat(200), "type": "a.b_c-D9", "priority": 100, "timeout": 3600}),
        json!({"name": "n", "type": "noop", "priority": -100, "timeout": 1, "parameters": null}),
    ] {
        create_ok(&app, &t, body).await;
    }
    let (_, total) = app
        .store
        .list_jobs(tenant_id(&t), JobKind::Task, None, None, 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 2, "nothing invalid was queued");
}

#[tokio::test]
async fn tasks_are_listed_newest_first_with_a_status_filter_and_paging() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let task = create_ok(&app, &t, json!({"name": format!("t{i}"), "type": "noop"})).await;
        ids.push(task["id"].as_str().unwrap().to_string());
    }
    for id in &ids[..2] {
        let resp = app
            .delete(&format!("/v1/tasks/{id}"))
            .bearer_auth(&t.key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let all = app.get_json("/v1/tasks", &t.key).await;
    assert_eq!(all["total"], 5);
    assert_eq!(all["limit"], 20);
    assert_eq!(all["offset"], 0);
    let listed: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    assert_eq!(all["data"][0]["object"], "task");

    let page = app.get_json("/v1/tasks?limit=2&offset=1", &t.key).await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["offset"], 1);
    let got: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, newest_first[1..3].to_vec());
    let last = app.get_json("/v1/tasks?limit=2&offset=4", &t.key).await;
    assert_eq!(last["data"].as_array().unwrap().len(), 1);
    let beyond = app.get_json("/v1/tasks?offset=50", &t.key).await;
    assert_eq!(beyond["data"], json!([]));
    assert_eq!(beyond["total"], 5);

    let pending = app.get_json("/v1/tasks?status=pending", &t.key).await;
    assert_eq!(pending["total"], 3);
    assert!(pending["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["status"] == "pending"));
    let cancelled = app.get_json("/v1/tasks?status=cancelled", &t.key).await;
    assert_eq!(cancelled["total"], 2);
    let completed = app.get_json("/v1/tasks?status=completed", &t.key).await;
    assert_eq!(completed["total"], 0);

    for (query, param) in [
        ("status=queued", "status"),
        ("status=done", "status"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
        ("limit=abc", "limit"),
        ("colour=red", "colour"),
    ] {
        let resp = app
            .get(&format!("/v1/tasks?{query}"))
            .bearer_auth(&t.key)
            .send()
            .await
            .unwrap();
        let err = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{query}");
    }
}

#[tokio::test]
async fn a_pending_task_is_cancelled_and_never_runs() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let task = create_ok(
        &app,
        &t,
        json!({"name": "never", "type": "agent", "parameters": {"message": "do not run"}}),
    )
    .await;
    let id = task["id"].as_str().unwrap();
    let resp = app
        .delete(&format!("/v1/tasks/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cancelled: Value = resp.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["error"]["code"], "cancelled");
    assert!(is_utc_rfc3339(&cancelled["completed_at"]));

    // A worker arrives (a replica with one): it runs the next task, never the cancelled one.
    let worker = spawn_with(AppOptions {
        database_url: Some(app.database_url.clone()),
        providers: Some(mock_providers(&mock)),
        redis: app.redis.clone(),
        ..Default::default()
    })
    .await;
    let next = create_ok(&worker, &t, json!({"name": "next", "type": "noop"})).await;
    wait_status(&worker, &t, next["id"].as_str().unwrap(), "completed").await;
    let still = app.get_json(&format!("/v1/tasks/{id}"), &t.key).await;
    assert_eq!(still["status"], "cancelled");
    assert_eq!(still["attempts"], 0);
    assert!(still["started_at"].is_null() && still["run_id"].is_null());
    assert!(mock.requests().is_empty(), "the model was never called");

    let again = app
        .delete(&format!("/v1/tasks/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let err = expect_error(again, 409, "conflict").await;
    assert_eq!(err["error"]["details"]["status"], "cancelled");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already ended"));
}

async fn cancel_while_running(redis: RedisMode) {
    let mock = MockLlm::start().await;
    let app = spawn_with(AppOptions {
        providers: Some(mock_providers(&mock)),
        redis,
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Enterprise).await;
    mock.push(slow_script());
    let task = create_ok(
        &app,
        &t,
        json!({"name": "long", "type": "agent", "parameters": {"message": "talk a lot"}}),
    )
    .await;
    let id = task["id"].as_str().unwrap().to_string();
    let running = poll_until(&app, &t, &format!("/v1/tasks/{id}"), |v| {
        v["status"] == "running" && v["run_id"].is_string()
    })
    .await;
    let run = running["run_id"].as_str().unwrap().to_string();
    assert_eq!(run_status(&app, &t, &run).await, "processing");

    let started = Instant::now();
    let resp = app
        .delete(&format!("/v1/tasks/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "cancelled");
    wait_run_status(&app, &t, &run, "cancelled").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the run stopped {:?} after the cancel",
        started.elapsed()
    );
    // Whatever the worker reports afterwards is refused: the task stays cancelled.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = app.get_json(&format!("/v1/tasks/{id}"), &t.key).await;
    assert_eq!(after["status"], "cancelled");
    assert!(after["result"].is_null());
    let again = app
        .delete(&format!("/v1/tasks/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(again, 409, "conflict").await;
}

#[tokio::test]
async fn a_running_task_is_cancelled_and_its_run_stops() {
    cancel_while_running(RedisMode::Shared(openclaw_tests::fresh_prefix())).await;
}

#[tokio::test]
async fn a_running_task_is_cancelled_without_redis_through_the_heartbeat() {
    cancel_while_running(RedisMode::Absent).await;
}

#[tokio::test]
async fn a_task_past_its_timeout_fails_without_retrying() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    mock.push(Script {
        delay_ms: 3_000,
        ..Default::default()
    });
    let task = create_ok(
        &app,
        &t,
        json!({"name": "slow", "type": "agent", "timeout": 1, "parameters": {"message": "hurry"}}),
    )
    .await;
    let failed = wait_status(&app, &t, task["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["attempts"], 1, "{failed}");
    assert_eq!(failed["error"]["code"], "timeout", "{failed}");
    assert!(failed["result"].is_null());
    let run = failed["run_id"].as_str().unwrap();
    // The run does not go on behind the failed task.
    wait_run_status(&app, &t, run, "cancelled").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = app
        .get_json(
            &format!("/v1/tasks/{}", task["id"].as_str().unwrap()),
            &t.key,
        )
        .await;
    assert_eq!(later["status"], "failed");
    assert_eq!(later["attempts"], 1);
}

/// A refusal would recur: the task fails at once.
#[tokio::test]
async fn an_upstream_refusal_fails_the_task_without_retrying() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    mock.push(Script {
        status: Some(400),
        error_message: Some("this request is not acceptable".into()),
        ..Default::default()
    });
    let task = create_ok(
        &app,
        &t,
        json!({"name": "bad", "type": "agent", "parameters": {"message": "refuse me"}}),
    )
    .await;
    let failed = wait_status(&app, &t, task["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["attempts"], 1, "{failed}");
    assert!(failed["result"].is_null());
    assert!(failed["error"]["code"].is_string(), "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{failed}"
    );
    assert!(is_utc_rfc3339(&failed["completed_at"]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mock.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn the_outbox_holds_one_event_per_job_end() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let ok = create_ok(&app, &t, json!({"name": "ok", "type": "noop"})).await;
    mock.push(Script {
        delay_ms: 3_000,
        ..Default::default()
    });
    let bad = create_ok(
        &app,
        &t,
        json!({"name": "bad", "type": "agent", "timeout": 1, "parameters": {"message": "x"}}),
    )
    .await;
    let ok_id = ok["id"].as_str().unwrap();
    let bad_id = bad["id"].as_str().unwrap();
    wait_status(&app, &t, ok_id, "completed").await;
    wait_status(&app, &t, bad_id, "failed").await;
    let resp = app
        .post("/v1/agents/spawn")
        .bearer_auth(&t.key)
        .json(&json!({"task": "summarise"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let agent: Value = resp.json().await.unwrap();
    let agent_id = agent["id"].as_str().unwrap();
    let done = app
        .get_json(&format!("/v1/agents/{agent_id}?wait=20"), &t.key)
        .await;
    assert_eq!(done["status"], "completed");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let events = app.store.outbox_events(tenant_id(&t)).await.unwrap();
    let of = |wire: &str| -> Vec<String> {
        let uuid = wire.split_once('_').unwrap().1;
        let uuid = Uuid::parse_str(uuid).unwrap();
        events
            .iter()
            .filter(|e| e.payload["job_id"] == json!(uuid))
            .map(|e| e.event.clone())
            .collect()
    };
    assert_eq!(of(ok_id), vec!["task.completed"]);
    assert_eq!(of(bad_id), vec!["task.failed"]);
    assert_eq!(of(agent_id), vec!["agent.spawned", "agent.completed"]);
    assert_eq!(events.len(), 4, "{events:?}");
}

#[tokio::test]
async fn higher_priority_tasks_run_first() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let low = create_ok(
        &app,
        &t,
        json!({"name": "low", "type": "noop", "priority": -5}),
    )
    .await;
    let mid = create_ok(&app, &t, json!({"name": "mid", "type": "noop"})).await;
    let high = create_ok(
        &app,
        &t,
        json!({"name": "high", "type": "noop", "priority": 50}),
    )
    .await;
    // One worker taking one job at a time.
    let worker = spawn_with(AppOptions {
        database_url: Some(app.database_url.clone()),
        providers: Some(mock_providers(&mock)),
        redis: app.redis.clone(),
        worker: Some(openclaw_worker::WorkerConfig {
            concurrency: 1,
            ..test_worker()
        }),
        ..Default::default()
    })
    .await;
    let mut started = Vec::new();
    for task in [&high, &mid, &low] {
        let done = wait_status(&worker, &t, task["id"].as_str().unwrap(), "completed").await;
        let at =
            chrono::DateTime::parse_from_rfc3339(done["started_at"].as_str().unwrap()).unwrap();
        started.push(at);
    }
    assert!(
        started.windows(2).all(|w| w[0] <= w[1]),
        "high, then mid, then low: {started:?}"
    );
}

#[tokio::test]
async fn tenants_never_see_each_others_tasks() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let a = app.create_tenant(Tier::Enterprise).await;
    let b = app.create_tenant(Tier::Enterprise).await;
    let task = create_ok(&app, &a, json!({"name": "mine", "type": "noop"})).await;
    let id = task["id"].as_str().unwrap();
    let bare = id.strip_prefix("task_").unwrap();

    let resp = app
        .get(&format!("/v1/tasks/{id}"))
        .bearer_auth(&b.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    let resp = app
        .delete(&format!("/v1/tasks/{id}"))
        .bearer_auth(&b.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    let list = app.get_json("/v1/tasks", &b.key).await;
    assert_eq!(list["total"], 0);
    assert_eq!(list["data"], json!([]));
    // Still there, and still pending, for its owner; the bare UUID names it too.
    let mine = app.get_json(&format!("/v1/tasks/{bare}"), &a.key).await;
    assert_eq!(mine["status"], "pending");

    for path in [
        "/v1/tasks/task_nope".to_string(),
        "/v1/tasks/12345".to_string(),
        format!("/v1/tasks/agent_{bare}"),
        format!("/v1/tasks/{}", openclaw_domain::TaskId::new()),
    ] {
        let resp = app.get(&path).bearer_auth(&a.key).send().await.unwrap();
        expect_error(resp, 404, "not_found").await;
    }
}

#[tokio::test]
async fn tasks_need_the_tasks_scope() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let task = create_ok(&app, &t, json!({"name": "n", "type": "noop"})).await;
    let id = task["id"].as_str().unwrap();
    let narrow = app
        .admin_key(
            &t.id,
            json!({"name": "narrow", "scopes": ["messages", "agents"]}),
        )
        .await;
    let key = narrow["key"].as_str().unwrap();
    for (method, path) in [
        (Method::POST, "/v1/tasks".to_string()),
        (Method::GET, "/v1/tasks".to_string()),
        (Method::GET, format!("/v1/tasks/{id}")),
        (Method::DELETE, format!("/v1/tasks/{id}")),
    ] {
        let resp = app
            .request(method.clone(), &path)
            .bearer_auth(key)
            .json(&json!({"name": "n", "type": "noop"}))
            .send()
            .await
            .unwrap();
        let err = expect_error(resp, 403, "forbidden").await;
        assert_eq!(
            err["error"]["details"]["required_scope"], "tasks",
            "{method} {path}"
        );
    }
    let only_tasks = app
        .admin_key(&t.id, json!({"name": "tasks", "scopes": ["tasks"]}))
        .await;
    let resp = app
        .get("/v1/tasks")
        .bearer_auth(only_tasks["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_tenant_may_have_at_most_1000_unfinished_jobs() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let other = app.create_tenant(Tier::Enterprise).await;
    let tenant = tenant_id(&t);
    let first = create_ok(&app, &t, json!({"name": "first", "type": "noop"})).await;
    let jobs = (1..1000).map(|i| {
        let store = app.store.clone();
        async move {
            store
                .enqueue_job(
                    tenant,
                    NewJob {
                        id: Uuid::now_v7(),
                        kind: if i % 2 == 0 {
                            JobKind::Task
                        } else {
                            JobKind::Agent
                        },
                        name: format!("filler {i}"),
                        job_type: if i % 2 == 0 {
                            "noop".into()
                        } else {
                            "agent".into()
                        },
                        parameters: json!({"task": "x"}),
                        priority: 0,
                        timeout_ms: 1000,
                        max_attempts: 1,
                        run_id: None,
                        session_key: None,
                        memory_access: Default::default(),
                    },
                )
                .await
                .unwrap()
        }
    });
    let mut pending = futures::stream::iter(jobs).buffer_unordered(16);
    while pending.next().await.is_some() {}
    assert_eq!(app.store.unfinished_jobs(tenant).await.unwrap(), 1000);

    let err = expect_error(
        create(&app, &t, json!({"name": "one too many", "type": "noop"})).await,
        429,
        "rate_limited",
    )
    .await;
    assert!(
        err["error"]["message"].as_str().unwrap().contains("1000"),
        "{err}"
    );
    let resp = app
        .post("/v1/agents/spawn")
        .bearer_auth(&t.key)
        .json(&json!({"task": "one too many"}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 429, "rate_limited").await;
    // Other tenants are not affected.
    create_ok(&app, &other, json!({"name": "fine", "type": "noop"})).await;
    // Cancelling one makes room for one.
    let resp = app
        .delete(&format!("/v1/tasks/{}", first["id"].as_str().unwrap()))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    create_ok(&app, &t, json!({"name": "now it fits", "type": "noop"})).await;
}

#[tokio::test]
async fn a_token_limited_to_one_session_runs_agent_tasks_in_it() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let resp = app
        .post("/v1/auth/tokens")
        .bearer_auth(&t.key)
        .json(&json!({"session_id": "mine", "scopes": ["tasks"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let tok: Value = resp.json().await.unwrap();
    let limited = TestTenant {
        key: tok["token"].as_str().unwrap().to_string(),
        ..t.clone()
    };
    let task = create_ok(
        &app,
        &limited,
        json!({"name": "n", "type": "agent", "parameters": {"message": "hi"}}),
    )
    .await;
    assert_eq!(task["parameters"]["session_id"], "mine");
    let resp = create(
        &app,
        &limited,
        json!({"name": "n", "type": "agent",
               "parameters": {"message": "hi", "session_id": "someone-else"}}),
    )
    .await;
    expect_error(resp, 404, "not_found").await;
}

/// A provider outage outlasting the provider's own retries fails the attempt, not the task:
/// the job is queued again after its back-off and completes on the next attempt.
#[tokio::test]
async fn a_provider_outage_is_retried_later_and_then_completes() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    for _ in 0..3 {
        mock.push(Script {
            status: Some(503),
            ..Default::default()
        });
    }
    let task = create_ok(
        &app,
        &t,
        json!({"name": "flaky", "type": "agent", "parameters": {"message": "hang in there"}}),
    )
    .await;
    let id = task["id"].as_str().unwrap();
    // Between attempts (a back-off of 2 s or more) it is pending again, with no current run.
    let between = poll_until(&app, &t, &format!("/v1/tasks/{id}"), |v| {
        v["attempts"] == 1 && v["status"] == "pending"
    })
    .await;
    assert!(between["run_id"].is_null(), "{between}");
    assert_eq!(
        between["error"]["code"], "upstream_error",
        "the last attempt's: {between}"
    );
    let done = wait_status(&app, &t, id, "completed").await;
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(done["result"]["content"], "mock: hang in there", "{done}");
    assert_eq!(
        mock.requests().len(),
        4,
        "three refused calls, then the answer"
    );
}

#[tokio::test]
async fn a_calculator_skill_task_completes_with_the_result() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let task = create_ok(
        &app,
        &t,
        json!({"name": "calc", "type": "skill",
               "parameters": {"skill": "calculator", "input": {"expression": "2 * (3 + 4) ^ 2"}}}),
    )
    .await;
    assert_eq!(task["type"], "skill");
    assert_eq!(task["status"], "pending");
    let done = wait_status(&app, &t, task["id"].as_str().unwrap(), "completed").await;
    assert_eq!(done["result"]["skill"], "calculator", "{done}");
    assert_eq!(done["result"]["version"], "1.0.0", "{done}");
    assert_eq!(done["result"]["output"]["result"], 98, "{done}");
    assert!(
        done["result"]["output"]["result"].is_i64(),
        "an integer: {done}"
    );
    assert_eq!(
        done["result"]["output"]["expression"], "2 * (3 + 4) ^ 2",
        "{done}"
    );
    assert_eq!(done["progress"], 100);
    assert_eq!(done["attempts"], 1);
    assert!(
        done["error"].is_null() && done["run_id"].is_null(),
        "{done}"
    );
    assert!(mock.requests().is_empty(), "no model was asked");
}

#[tokio::test]
async fn a_current_time_skill_task_completes_with_an_rfc3339_time() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let utc = create_ok(
        &app,
        &t,
        json!({"name": "now", "type": "skill", "parameters": {"skill": "current_time"}}),
    )
    .await;
    let shanghai = create_ok(
        &app,
        &t,
        json!({"name": "now+8", "type": "skill",
               "parameters": {"skill": "current_time", "input": {"timezone": "+08:00"}}}),
    )
    .await;
    let utc = wait_status(&app, &t, utc["id"].as_str().unwrap(), "completed").await;
    let out = &utc["result"]["output"];
    assert_eq!(utc["result"]["skill"], "current_time", "{utc}");
    assert!(is_utc_rfc3339(&out["iso"]), "{utc}");
    assert_eq!(out["timezone"], "UTC");
    let iso = chrono::DateTime::parse_from_rfc3339(out["iso"].as_str().unwrap()).unwrap();
    assert_eq!(Some(iso.timestamp()), out["unix"].as_i64(), "{utc}");
    assert!((chrono::Utc::now().timestamp() - iso.timestamp()).abs() < 60);

    let sh = wait_status(&app, &t, shanghai["id"].as_str().unwrap(), "completed").await;
    let out = &sh["result"]["output"];
    let iso = out["iso"].as_str().unwrap();
    assert!(iso.ends_with("+08:00"), "{sh}");
    let parsed = chrono::DateTime::parse_from_rfc3339(iso).unwrap();
    assert_eq!(parsed.offset().local_minus_utc(), 8 * 3600);
    assert_eq!(out["timezone"], "+08:00");
}

#[tokio::test]
async fn skill_task_parameters_are_validated_at_creation() {
    let mock = MockLlm::start().await;
    let app = app_without_worker(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let skill = |parameters: Value| json!({"name": "s", "type": "skill", "parameters": parameters});
    let cases = [
        (json!({}), "parameters.skill"),
        (json!({"skill": 5}), "parameters.skill"),
        (json!({"skill": "file-processor"}), "parameters.skill"),
        (json!({"skill": "weather"}), "parameters.input.city"),
        (
            json!({"skill": "calculator", "input": "2+2"}),
            "parameters.input",
        ),
        (
            json!({"skill": "calculator"}),
            "parameters.input.expression",
        ),
        (
            json!({"skill": "calculator", "input": {}}),
            "parameters.input.expression",
        ),
        (
            json!({"skill": "calculator", "input": {"expression": 4}}),
            "parameters.input.expression",
        ),
        (
            json!({"skill": "calculator", "input": {"expression": "1".repeat(1001)}}),
            "parameters.input.expression",
        ),
        (
            json!({"skill": "calculator", "input": {"expression": "1", "precision": 2}}),
            "parameters.input.precision",
        ),
        (
            json!({"skill": "current_time", "input": {"tz": "UTC"}}),
            "parameters.input.tz",
        ),
        (
            json!({"skill": "current_time", "input": {"timezone": 8}}),
            "parameters.input.timezone",
        ),
        (
            json!({"skill": "current_time", "input": {"timezone": "Asia/Shanghai"}}),
            "parameters.input.timezone",
        ),
    ];
    for (parameters, param) in cases {
        let body = skill(parameters);
        let err = expect_error(create(&app, &t, body.clone()).await, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{body}: {err}");
    }
    // An unknown skill's error names the ones there are.
    let err = expect_error(
        create(&app, &t, skill(json!({"skill": "file-processor"}))).await,
        400,
        "invalid_request",
    )
    .await;
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("calculator") && message.contains("current_time"),
        "{err}"
    );
    // Only the input's shape is checked at creation: the expression is not evaluated then.
    create_ok(
        &app,
        &t,
        skill(json!({"skill": "calculator", "input": {"expression": "1 / 0"}})),
    )
    .await;
    let (_, total) = app
        .store
        .list_jobs(tenant_id(&t), JobKind::Task, None, None, 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 1, "nothing invalid was queued");
}

/// A skill's failure would recur with the same input: the task fails at once.
#[tokio::test]
async fn a_failing_skill_fails_its_task_without_retrying() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let task = create_ok(
        &app,
        &t,
        json!({"name": "oops", "type": "skill",
               "parameters": {"skill": "calculator", "input": {"expression": "1 / (2 - 2)"}}}),
    )
    .await;
    let failed = wait_status(&app, &t, task["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["attempts"], 1, "{failed}");
    assert_eq!(failed["error"]["code"], "invalid_request", "{failed}");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(message.contains("division by zero"), "{failed}");
    assert!(failed["result"].is_null(), "{failed}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = app
        .get_json(
            &format!("/v1/tasks/{}", task["id"].as_str().unwrap()),
            &t.key,
        )
        .await;
    assert_eq!(later["status"], "failed");
    assert_eq!(later["attempts"], 1);
}
