//! `make bench` (runs part): the memory a real `openclaw serve` process needs to hold 1 000 open
//! SSE streams whose runs wait on a slow upstream (`mock-llm` with a long time to first token).

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use openclaw_tests::process::{
    free_port, openclaw, openclaw_bin, wait_until_up, workspace_bin, Child,
};
use openclaw_tests::{fresh_prefix, services};
use serde_json::Value;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let streams = env_or("BENCH_STREAMS", 1000);
    let svc = services::get().await;
    let db = svc.fresh_database().await;
    let redis = svc
        .redis_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the bench needs Redis"))?;
    let prefix = fresh_prefix();

    let mock_port = free_port();
    let _mock = Child::spawn(
        Command::new(workspace_bin("openclaw-mock-llm", "mock-llm"))
            .args([
                "--port",
                &mock_port.to_string(),
                "--ttft-ms",
                "120000",
                "--no-record",
            ])
            .stdout(Stdio::null()),
    );
    wait_until_up(&format!("http://127.0.0.1:{mock_port}/v1/models")).await;

    let env = [
        ("DATABASE_URL", db.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("OPENCLAW_REDIS_PREFIX", prefix.as_str()),
    ];
    openclaw(&["migrate"], &env);
    let tenant: Value = serde_json::from_slice(
        &openclaw(
            &[
                "tenant",
                "create",
                "--name",
                "bench",
                "--tier",
                "enterprise",
            ],
            &env,
        )
        .stdout,
    )?;
    let tenant_id = tenant["id"].as_str().unwrap_or_default().to_string();
    let key: Value = serde_json::from_slice(
        &openclaw(&["api", "key", "generate", "--tenant", &tenant_id], &env).stdout,
    )?;
    let key = key["key"].as_str().unwrap_or_default().to_string();
    openclaw(
        &[
            "tenant",
            "update",
            &tenant_id,
            "--requests-per-hour",
            "1000000000",
            "--burst",
            "1000000",
            "--concurrent-requests",
            "1000000",
        ],
        &env,
    );

    let port = free_port();
    let upstream = format!("http://127.0.0.1:{mock_port}/v1");
    let server = Child::spawn(
        Command::new(openclaw_bin())
            .arg("serve")
            .envs(env)
            .env("OPENCLAW_BIND", "127.0.0.1")
            .env("OPENCLAW_PORT", port.to_string())
            .env("OPENCLAW_METRICS_PORT", free_port().to_string())
            .env("OPENAI_BASE_URL", &upstream)
            .env("OPENAI_API_KEY", "sk-bench")
            .env("OPENCLAW_DEFAULT_MODEL", "openai/mock-1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{base}/health")).await;

    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    for _ in 0..50 {
        client
            .get(format!("{base}/v1/status"))
            .bearer_auth(&key)
            .send()
            .await?
            .error_for_status()?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = server.rss_kib().unwrap_or(0);

    // Open the streams in waves so the start of each run (a few queries) does not queue for long.
    let mut open = Vec::with_capacity(streams);
    for wave in (0..streams).collect::<Vec<_>>().chunks(100) {
        let started = futures::future::join_all(wave.iter().map(|i| {
            client
                .post(format!("{base}/v1/agent/run/stream"))
                .bearer_auth(&key)
                .json(&serde_json::json!({"message": format!("stream {i}")}))
                .send()
        }))
        .await;
        for resp in started {
            let resp = resp?;
            anyhow::ensure!(
                resp.status() == 200,
                "stream refused: {}",
                resp.text().await?
            );
            open.push(resp);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = server.rss_kib().unwrap_or(0);
    let mock_rss = _mock.rss_kib().unwrap_or(0);

    println!(
        "make bench — server memory with open SSE streams: a real `openclaw serve` process, each \
         stream a run waiting on mock-llm (time to first token 120 s), loopback"
    );
    println!(
        "server RSS idle:                 {:>8.1} MiB",
        idle as f64 / 1024.0
    );
    println!(
        "server RSS with {streams} streams:    {:>8.1} MiB",
        loaded as f64 / 1024.0
    );
    println!(
        "per open stream (incl. its run and upstream connection): {:.1} KiB",
        loaded.saturating_sub(idle) as f64 / streams as f64
    );
    println!(
        "(mock-llm RSS meanwhile: {:.1} MiB)",
        mock_rss as f64 / 1024.0
    );
    drop(open);
    drop(server);
    Ok(ExitCode::SUCCESS)
}
