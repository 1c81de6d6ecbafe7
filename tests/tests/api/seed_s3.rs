//! Seed S3 (`seeds/003_…`, REST API and Webhook), its examples replayed as written: the three
//! curl commands run by bash exactly as the seed prints them (host and token replaced), by
//! `tests/seeds/s3.py`, which checks every field of the seed's response example; the SDK's
//! `client.agents.spawn(…)` and `wait_for_completion()` over the HTTP API the SDK would call;
//! `openclaw api key generate --name "production"`; and the multi-agent diagram (主Agent spawns
//! three 子Agent and gathers their results). mock-llm is the model (as OpenAI, and as Anthropic
//! for `claude-3-5-sonnet`, see seed_scripts.rs); a worker runs the agents.
//!
//! Skipped, each for a later issue:
//! - SDKs (not published yet): the Python `OpenClawClient` (`client.chat.send`, `print(response.content)`;
//!   its `agents.spawn` / `wait_for_completion()` are replayed over HTTP here), the JavaScript
//!   `openclaw-sdk` `client.chat.stream`, the Go `openclaw.NewClient` / `client.Chat.Send`.
//! - Webhooks: the `webhooks:` config block, the `message.received` event body with its
//!   `signature`, `verify_webhook()`, and the diagrams' "Webhook通知处理状态" / "Webhook推送结果".
//! - Config: `~/.openclaw/config.yaml` (`gateway.api`, `auth`, `cors`, `rate_limit`) and
//!   `openssl rand -hex 32` for its secret; CORS.
//! - The "定时任务 → 触发OpenClaw Agent" diagram's schedule (cron is not in API.md).

use std::time::Duration;

use openclaw_domain::Tier;
use openclaw_mock_llm::{Script, ToolCall};
use serde_json::{json, Value};

use crate::seed_scripts::seed_app;

/// The curl "请求示例" `POST /api/v1/chat` and `GET /api/v1/sessions/user_123`.
#[tokio::test]
async fn s3_chat_and_session_curl_examples() {
    let s = seed_app().await;
    let t = s.app.create_tenant(Tier::Enterprise).await;
    s.python("s3.py", &t.key, "chat", &[]).await;
    // `context` reached the model: Claude, at temperature 0.7, asked the seed's question.
    let asked = s.mock.requests();
    let claude = asked
        .iter()
        .find(|r| r.path == "/v1/messages")
        .unwrap_or_else(|| panic!("Anthropic's API was called: {asked:?}"));
    assert_eq!(claude.body["model"], "claude-3-5-sonnet", "{}", claude.body);
    assert_eq!(claude.body["temperature"], 0.7, "{}", claude.body);
    assert!(
        claude.body["messages"]
            .to_string()
            .contains("帮我写个Python脚本"),
        "{}",
        claude.body
    );
}

/// The curl `POST /api/v1/agents/spawn` (no Content-Type, as written), waited for.
#[tokio::test]
async fn s3_spawn_curl_example() {
    let s = seed_app().await;
    let t = s.app.create_tenant(Tier::Enterprise).await;
    s.python("s3.py", &t.key, "spawn_curl", &[]).await;
    // `"model": "gpt-4o"` is OpenAI's, asked about the task.
    let asked = s.mock.requests();
    let run = asked
        .iter()
        .find(|r| r.body["messages"].to_string().contains("分析这份文档"))
        .unwrap_or_else(|| panic!("the model was asked about the task: {asked:?}"));
    assert_eq!(run.path, "/v1/chat/completions");
    assert_eq!(run.body["model"], "gpt-4o", "{}", run.body);
}

/// The Python SDK's `client.agents.spawn(task="分析数据", model="claude-3-5-sonnet")` and
/// `sub_agent.wait_for_completion()`, over HTTP.
#[tokio::test]
async fn s3_spawn_and_wait_for_completion() {
    let s = seed_app().await;
    let t = s.app.create_tenant(Tier::Enterprise).await;
    s.python("s3.py", &t.key, "spawn_sdk", &[]).await;
    let asked = s.mock.requests();
    assert!(
        asked.iter().any(|r| r.path == "/v1/messages"
            && r.body["model"] == "claude-3-5-sonnet"
            && r.body["messages"].to_string().contains("分析数据")),
        "Claude was asked about the task: {asked:?}"
    );
}

/// `openclaw api key generate --name "production"`, run by bash as written against the
/// deployment's database, prints an `oc_api_sk_…` key (the seed's "输出"), and the curl
/// examples work with it.
#[tokio::test]
async fn s3_cli_generated_key_runs_the_curl_examples() {
    let s = seed_app().await;
    let bin = tokio::task::spawn_blocking(openclaw_tests::process::openclaw_bin)
        .await
        .unwrap();
    let bin_dir = bin.parent().unwrap().to_str().unwrap().to_string();
    let key_file = std::env::temp_dir()
        .join(format!("oc-seed-s3-{}", uuid::Uuid::now_v7()))
        .to_str()
        .unwrap()
        .to_string();
    let migrator_url = s.app.database_url.clone();
    let app_url = s.app.app_url.clone();
    let env = [
        ("OPENCLAW_MIGRATOR_URL", migrator_url.clone()),
        ("DATABASE_URL", app_url.clone()),
        ("OPENCLAW_DEV_KEY_FILE", key_file.clone()),
    ];
    // The CLI's key goes to the development tenant, which `make run` creates with dev-setup.
    tokio::task::spawn_blocking(move || {
        openclaw_tests::process::openclaw(
            &["dev-setup"],
            &[
                ("OPENCLAW_MIGRATOR_URL", &migrator_url),
                ("DATABASE_URL", &app_url),
                ("OPENCLAW_DEV_KEY_FILE", &key_file),
            ],
        );
        let _ = std::fs::remove_file(&key_file);
    })
    .await
    .unwrap();
    let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
    let out = tokio::process::Command::new("bash")
        .args(["-c", r#"openclaw api key generate --name "production""#])
        .env("PATH", path)
        .envs(env)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the CLI finishes within 60 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 输出: oc_api_sk_abc123... (the key, among the key object's fields).
    let printed: Value = serde_json::from_str(&stdout).expect("the CLI prints JSON");
    assert_eq!(printed["name"], "production", "{printed}");
    let key = printed["key"].as_str().expect("the key is printed");
    assert!(key.starts_with("oc_api_sk_") && key.len() == 48, "{key}");
    s.python("s3.py", key, "chat", &[]).await;
}

/// The diagram "主Agent接收任务 ├─ 子Agent1: 搜索信息 (spawn) ├─ 子Agent2: 分析数据 (spawn)
/// └─ 子Agent3: 生成报告 (spawn) → 结果汇总 → 返回给用户": a spawned agent spawns three
/// sub-agents, gets their answers, and returns its summary.
#[tokio::test]
async fn s3_main_agent_spawns_three_sub_agents_and_gathers_their_results() {
    let s = seed_app().await;
    let t = s.app.create_tenant(Tier::Enterprise).await;
    let subtasks = ["搜索信息", "分析数据", "生成报告"];
    s.mock.push(Script {
        tool_calls: subtasks
            .iter()
            .enumerate()
            .map(|(i, task)| ToolCall {
                id: format!("call_{i}"),
                name: "spawn_agent".into(),
                arguments: json!({"task": task}),
            })
            .collect(),
        ..Default::default()
    });
    // The sub-agents, then the main agent's summary, get mock-llm's echo of their last user
    // message ("mock: 搜索信息", …).
    let resp = s
        .app
        .post_json(
            "/api/v1/agents/spawn",
            &t.key,
            &json!({"task": "写一份市场分析报告", "model": "gpt-4o"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = s
        .app
        .get_json(&format!("/api/v1/agents/{id}?wait=60"), &t.key)
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        done["result"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("写一份市场分析报告")),
        "{done}"
    );
    let children = done["children"].as_array().expect("children").clone();
    assert_eq!(children.len(), 3, "{done}");
    let mut tasks = Vec::new();
    for child in &children {
        let c = s
            .app
            .get_json(
                &format!("/api/v1/agents/{}", child.as_str().unwrap()),
                &t.key,
            )
            .await;
        assert_eq!(c["status"], "completed", "{c}");
        assert_eq!(c["parent_id"], id.as_str(), "{c}");
        tasks.push(c["task"].as_str().unwrap().to_string());
    }
    tasks.sort();
    let mut want: Vec<String> = subtasks.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(tasks, want);
    // 结果汇总: the main agent's last model call had the three sub-agents' answers.
    let asked = s.mock.requests();
    let summary = asked
        .iter()
        .rev()
        .find(|r| {
            r.body["messages"]
                .to_string()
                .contains("写一份市场分析报告")
        })
        .expect("the main agent's last call");
    let results: Vec<&Value> = summary.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(results.len(), 3, "{}", summary.body);
    for task in subtasks {
        assert!(
            results
                .iter()
                .any(|m| m["content"].to_string().contains(&format!("mock: {task}"))),
            "{task}'s answer reached the main agent: {}",
            summary.body
        );
    }
}
