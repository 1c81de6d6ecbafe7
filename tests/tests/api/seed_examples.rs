//! The seeds' own task and agent examples (S1's Python `requests` snippet, S1's status check,
//! S3's curl spawn and `wait_for_completion()`), run by Python against the app with a worker.

use std::time::Duration;

use openclaw_domain::Tier;
use openclaw_mock_llm::MockLlm;
use openclaw_tests::{mock_providers, spawn_with, AppOptions};

#[tokio::test]
async fn the_seeds_task_and_agent_examples_work_unchanged() {
    let mock = MockLlm::start().await;
    let app = spawn_with(AppOptions {
        providers: Some(mock_providers(&mock)),
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/run.sh");
    let run = tokio::process::Command::new("bash")
        .arg(script)
        .arg(&app.base)
        .arg(&t.key)
        .env("OPENCLAW_PY_SCRIPT", "seed_examples.py")
        .kill_on_drop(true)
        .output();
    // The first run installs the venv.
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the seed examples finish within 300 s")
        .expect("bash runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains("seeds: ok"),
        "seed examples failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains("任务创建成功: task_"), "{stdout}");
}
