//! End-to-end: runs across real processes. A replica killed mid-run (SIGKILL) leaves no run
//! `processing`: another replica's sweep ends it failed once its lease lapses, and an SSE reader
//! on that replica receives the end. SIGTERM writes the write-behind batch before exiting.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use openclaw_tests::process::{
    exit_of, free_port, kill, openclaw, openclaw_bin, unthrottled_tenant_key, wait_until_up,
    workspace_bin, Child,
};
use openclaw_tests::{fresh_prefix, services};
use serde_json::json;

/// A mock-llm process, and the environment of replicas that use it.
async fn cluster(extra: &[(&str, &str)]) -> (Child, String, Vec<(String, String)>, String) {
    let svc = services::get().await;
    let db = svc.fresh_database().await;
    let redis = svc.redis_url.clone().expect("Redis for end-to-end tests");
    let mock_port = free_port();
    let mock = Child::spawn(
        Command::new(workspace_bin("openclaw-mock-llm", "mock-llm"))
            .env("MOCK_LLM_PORT", mock_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let mock_base = format!("http://127.0.0.1:{mock_port}");
    wait_until_up(&format!("{mock_base}/v1/models")).await;
    let mut env: Vec<(String, String)> = [
        ("OPENCLAW_MIGRATOR_URL", db.clone()),
        ("DATABASE_URL", svc.app_url(&db)),
        ("REDIS_URL", redis),
        ("OPENCLAW_REDIS_PREFIX", fresh_prefix()),
        ("OPENCLAW_BIND", "127.0.0.1".into()),
        ("OPENAI_BASE_URL", format!("{mock_base}/v1")),
        ("OPENAI_API_KEY", "sk-test".into()),
        ("OPENCLAW_DEFAULT_MODEL", "openai/mock-1".into()),
        // Warnings only: nobody reads a replica's piped logs until it exits.
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let borrowed: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    openclaw(&["migrate"], &borrowed);
    (mock, mock_base, env, db)
}

/// `openclaw serve` with `env`, its logs kept.
async fn replica(env: &[(String, String)]) -> (Child, String) {
    let port = free_port();
    let child = Child::spawn(
        Command::new(openclaw_bin())
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("OPENCLAW_PORT", port.to_string())
            .env("OPENCLAW_METRICS_PORT", free_port().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{base}/health")).await;
    (child, base)
}

fn key_for(env: &[(String, String)]) -> String {
    let borrowed: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    unthrottled_tenant_key(&borrowed, "pro")
}

#[tokio::test]
async fn a_run_on_a_killed_replica_ends_failed_and_a_reader_on_another_hears_the_end() {
    let lease_secs = 2;
    let sweep_secs = 1;
    let (_mock, mock, env, db) = cluster(&[
        ("OPENCLAW_RUN_LEASE_SECS", "2"),
        ("OPENCLAW_RUN_SWEEP_SECS", "1"),
    ])
    .await;
    let key = key_for(&env);
    let (a, base_a) = replica(&env).await;
    let (_b, base_b) = replica(&env).await;
    let client = reqwest::Client::new();
    // The upstream never answers this run: it is mid-run when its replica dies.
    let pushed = client
        .post(format!("{mock}/_mock/scripts"))
        .json(&json!({"hang": true}))
        .send()
        .await
        .unwrap();
    assert!(pushed.status().is_success());
    let started = client
        .post(format!("{base_a}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(
            &json!({"model": "openai/mock-1", "stream": true, "user": "victim",
                      "messages": [{"role": "user", "content": "hello"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    let run = started.headers()["x-openclaw-run-id"]
        .to_str()
        .unwrap()
        .to_string();

    // A reader on B: the run's events from its Redis stream, then the end.
    let events = client
        .get(format!("{base_b}/v1/runs/{run}/events"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut body = events.bytes_stream();
        while let Some(Ok(chunk)) = body.next().await {
            if tx
                .send(String::from_utf8_lossy(&chunk).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    let mut seen = String::new();
    while !seen.contains("event: start") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the reader gets the run's start")
            .expect("the stream stays open");
        seen.push_str(&chunk);
    }

    kill(&a, "-KILL");
    let killed = Instant::now();
    let bound = Duration::from_secs(lease_secs + sweep_secs) + Duration::from_secs(10);
    while !seen.contains("event: error") {
        let left = bound.saturating_sub(killed.elapsed());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(chunk)) => seen.push_str(&chunk),
            Ok(None) => break,
            Err(_) => panic!("no end within {bound:?} of the kill; read:\n{seen}"),
        }
    }
    assert!(
        seen.contains("event: error"),
        "the reader hears the end:\n{seen}"
    );
    assert!(seen.contains("internal_error"), "{seen}");
    println!(
        "run ended {:?} after its replica was killed",
        killed.elapsed()
    );

    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    let id = uuid::Uuid::parse_str(run.trim_start_matches("run_")).unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "failed");
    // The session's turn is free: the next turn in it runs on B at once.
    let next = client
        .post(format!("{base_b}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "openai/mock-1", "user": "victim",
                      "messages": [{"role": "user", "content": "still there?"}]}))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200, "{}", next.text().await.unwrap());
}

#[tokio::test]
async fn sigterm_writes_the_write_behind_batch_before_the_replica_exits() {
    // A window far longer than the test: only the shutdown writes the batch.
    let (_mock, _, env, db) = cluster(&[("OPENCLAW_WRITE_BEHIND_MS", "60000")]).await;
    let key = key_for(&env);
    let (mut server, base) = replica(&env).await;
    let client = reqwest::Client::new();
    let n = 20;
    for i in 0..n {
        let resp = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": "builtin/echo",
                          "messages": [{"role": "user", "content": format!("hello {i}")}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    let runs = || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM runs WHERE session_id IS NULL")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        runs().await,
        0,
        "nothing written before the window or the signal"
    );

    kill(&server, "-TERM");
    let (status, logs) = exit_of(&mut server, Duration::from_secs(20)).await;
    assert!(status.success(), "exit {status:?}; logs:\n{logs}");
    assert_eq!(runs().await, n, "every stateless run recorded at shutdown");
    let requests: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(requests), 0)::bigint FROM usage_daily WHERE model = 'builtin/echo'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(requests, n, "and their usage");
}
