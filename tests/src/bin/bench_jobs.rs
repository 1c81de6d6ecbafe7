//! `make bench` (jobs part), against real processes — one `openclaw serve` and two
//! `openclaw worker`s on one Postgres and Redis: how many no-op tasks per second the queue
//! drains, and how long a task waits from its creation to its start when the queue keeps up.

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use openclaw_tests::load::env_or;
use openclaw_tests::process::{
    free_port, openclaw, openclaw_bin, unthrottled_tenant_key, wait_until_up, Child,
};
use openclaw_tests::{fresh_prefix, services};
use serde_json::json;

fn spawn(args: &[&str], env: &[(&str, &str)], port: Option<u16>) -> Child {
    let mut cmd = Command::new(openclaw_bin());
    cmd.args(args)
        .envs(env.iter().copied())
        .env("OPENCLAW_BIND", "127.0.0.1")
        .env("OPENCLAW_METRICS_PORT", free_port().to_string())
        .env("OPENCLAW_WORKER_METRICS_PORT", free_port().to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    if let Some(port) = port {
        cmd.env("OPENCLAW_PORT", port.to_string());
    }
    Child::spawn(&mut cmd)
}

fn signal(child: &Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.pid().to_string()])
        .status();
}

/// Creates `n` no-op tasks named `{prefix} i`, `concurrency` requests at a time, at most
/// `per_sec` per second (0: as fast as possible).
async fn submit(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    prefix: &str,
    n: usize,
    concurrency: usize,
    per_sec: f64,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = (0..concurrency).map(|_| async {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i >= n {
                return Ok::<_, anyhow::Error>(());
            }
            if per_sec > 0.0 {
                let due = started + Duration::from_secs_f64(i as f64 / per_sec);
                tokio::time::sleep_until(due.into()).await;
            }
            let resp = client
                .post(format!("{base}/v1/tasks"))
                .bearer_auth(key)
                .json(&json!({"name": format!("{prefix} {i}"), "type": "noop"}))
                .send()
                .await?;
            anyhow::ensure!(resp.status() == 201, "task refused: {}", resp.text().await?);
        }
    });
    for r in futures::future::join_all(workers).await {
        r?;
    }
    Ok(started.elapsed())
}

async fn wait_done(db: &sqlx::PgPool, prefix: &str, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE name LIKE $1 || ' %' AND status = 'completed'",
        )
        .bind(prefix)
        .fetch_one(db)
        .await?;
        if done as usize >= n {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {done} of {n} jobs completed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Enqueue-to-start latency percentiles (ms) and the drain rate (jobs/s between the first
/// start and the last finish), from the queue's own timestamps.
async fn stats(db: &sqlx::PgPool, prefix: &str) -> anyhow::Result<(f64, f64, f64, f64)> {
    let row: (f64, f64, f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY wait), \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY wait), \
                max(wait), count(*) / greatest(EXTRACT(EPOCH FROM max(finished_at) - min(started_at))::float8, 0.001) \
         FROM (SELECT EXTRACT(EPOCH FROM started_at - created_at)::float8 * 1000 AS wait, started_at, finished_at \
               FROM jobs WHERE name LIKE $1 || ' %') j",
    )
    .bind(prefix)
    .fetch_one(db)
    .await?;
    Ok(row)
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    // At most 1000: a tenant may have 1000 unfinished jobs (API.md §5.8).
    let burst: usize = env_or("BENCH_JOBS", 1000)?;
    let paced_rate: f64 = env_or("BENCH_JOBS_RATE", 100.0)?;
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 16)?;
    let svc = services::get().await;
    let db_url = svc.fresh_database().await;
    let redis = svc
        .redis_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the bench needs Redis"))?;
    let prefix = fresh_prefix();
    let app_db = svc.app_url(&db_url);
    let env = [
        ("OPENCLAW_MIGRATOR_URL", db_url.as_str()),
        ("DATABASE_URL", app_db.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("OPENCLAW_REDIS_PREFIX", prefix.as_str()),
        ("OPENCLAW_WORKER_CONCURRENCY", "16"),
    ];
    openclaw(&["migrate"], &env);
    let key = unthrottled_tenant_key(&env, "enterprise");
    let port = free_port();
    let _server = spawn(&["serve"], &env, Some(port));
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{base}/health")).await;
    let w1 = spawn(&["worker"], &env, None);
    let w2 = spawn(&["worker"], &env, None);
    let db = sqlx::PgPool::connect(&db_url).await?;
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(concurrency)
        .build()?;
    // Warm-up: connections, prepared statements, the workers' listeners.
    submit(&client, &base, &key, "warm", 50, 4, 0.0).await?;
    wait_done(&db, "warm", 50).await?;

    println!(
        "make bench — no-op tasks through `openclaw serve` and two `openclaw worker`s \
         (16 jobs each), real processes sharing the machine's cores"
    );
    // Both workers paused while the burst is created, so the drain measures the queue and
    // the workers alone rather than how fast HTTP can fill the queue.
    signal(&w1, "-STOP");
    signal(&w2, "-STOP");
    let submitted = submit(&client, &base, &key, "burst", burst, concurrency, 0.0).await?;
    signal(&w1, "-CONT");
    signal(&w2, "-CONT");
    wait_done(&db, "burst", burst).await?;
    let (_, _, _, rate) = stats(&db, "burst").await?;
    println!(
        "burst of {burst} created at {:.0}/s over HTTP ({concurrency} clients) with the workers paused, \
         then drained at {rate:.0} jobs/s (first start to last finish)",
        burst as f64 / submitted.as_secs_f64()
    );
    let paced = (paced_rate * 5.0) as usize;
    submit(
        &client,
        &base,
        &key,
        "paced",
        paced,
        concurrency,
        paced_rate,
    )
    .await?;
    wait_done(&db, "paced", paced).await?;
    let (p50, p99, max, _) = stats(&db, "paced").await?;
    println!(
        "paced at {paced_rate:.0}/s for 5 s ({paced} tasks): enqueue-to-start p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
    );
    Ok(ExitCode::SUCCESS)
}
