//! `make bench` (runs part), against real processes — `openclaw serve` in front of the
//! `mock-llm` binary: the gateway's overhead on `/v1/chat/completions` compared with calling
//! mock-llm directly (non-streaming, and time to first token streaming), and the memory a server
//! needs to hold 1 000 open SSE streams whose runs wait on a slow upstream.

use std::process::ExitCode;
use std::time::Duration;

use openclaw_tests::load::{env_or, measure, print_row, Measured, Target, MAX_ERROR_RATE};
use openclaw_tests::process::{openclaw, spawn_gateway, spawn_mock_llm, unthrottled_tenant_key};
use openclaw_tests::{fresh_prefix, services};
use reqwest::header::HeaderValue;
use reqwest::Url;
use serde_json::json;

fn chat_target(
    label: &'static str,
    base: &str,
    model: &str,
    stream: bool,
    key: Option<&str>,
) -> anyhow::Result<Target> {
    let body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "hello there, how are you today"}],
        "stream": stream,
    });
    Ok(Target {
        label,
        url: Url::parse(&format!("{base}/v1/chat/completions"))?,
        authorization: key
            .map(|k| HeaderValue::from_str(&format!("Bearer {k}")))
            .transpose()?,
        body: Some(serde_json::to_vec(&body)?),
        first_byte: stream,
    })
}

fn overhead(label: &str, direct: &Measured, through: &Measured) {
    println!(
        "{label}: added p50 {:+.3} ms, p99 {:+.3} ms; throughput {:.2}x of direct",
        (f64::from(through.p50) - f64::from(direct.p50)) / 1e3,
        (f64::from(through.p99) - f64::from(direct.p99)) / 1e3,
        through.rps / direct.rps.max(f64::MIN_POSITIVE),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 16)?;
    let seconds: f64 = env_or("BENCH_SECONDS", 5.0)?;
    let streams: usize = env_or("BENCH_STREAMS", 1000)?;
    let svc = services::get().await;
    let db = svc.fresh_database().await;
    let redis = svc
        .redis_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the bench needs Redis"))?;
    let prefix = fresh_prefix();
    let env = [
        ("DATABASE_URL", db.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("OPENCLAW_REDIS_PREFIX", prefix.as_str()),
    ];

    openclaw(&["migrate"], &env);
    let key = unthrottled_tenant_key(&env, "enterprise");
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(concurrency)
        .build()?;

    // 1. Overhead: the same request to mock-llm directly and through the gateway.
    let (mock, upstream) = spawn_mock_llm(&[]).await;
    let (server, base) = spawn_gateway(&env, Some(&upstream)).await;
    let window = Duration::from_secs_f64(seconds);
    println!(
        "make bench — /v1/chat/completions through `openclaw serve` vs mock-llm directly, concurrency \
         {concurrency}, {seconds} s per target, loopback, real processes sharing the machine's cores"
    );
    println!(
        "{:<30} {:>8} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "target", "rps", "p50", "p90", "p99", "max", "errors"
    );
    let targets = [
        chat_target("direct, non-streaming", &upstream, "mock-1", false, None)?,
        chat_target(
            "gateway, non-streaming",
            &base,
            "openai/mock-1",
            false,
            Some(&key),
        )?,
        chat_target("direct, stream (TTFT)", &upstream, "mock-1", true, None)?,
        chat_target(
            "gateway, stream (TTFT)",
            &base,
            "openai/mock-1",
            true,
            Some(&key),
        )?,
    ];
    let mut results = Vec::new();
    for t in &targets {
        let m = measure(&client, t, concurrency, window).await;
        print_row(t.label, &m);
        results.push(m);
    }
    overhead("non-streaming", &results[0], &results[1]);
    overhead("streaming, time to first token", &results[2], &results[3]);
    drop(server);
    drop(mock);

    // 2. Memory: open streams whose runs wait on an upstream that takes 120 s to answer.
    let (slow, upstream) = spawn_mock_llm(&["--ttft-ms", "120000"]).await;
    let (server, base) = spawn_gateway(&env, Some(&upstream)).await;
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
    // In waves, so the start of each run (a few queries) does not queue for long.
    let mut open = Vec::with_capacity(streams);
    for wave in (0..streams).collect::<Vec<_>>().chunks(100) {
        let started = futures::future::join_all(wave.iter().map(|i| {
            client
                .post(format!("{base}/v1/agent/run/stream"))
                .bearer_auth(&key)
                .json(&json!({"message": format!("stream {i}")}))
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
    println!();
    println!("make bench — server memory holding {streams} open SSE streams (each a run waiting on the upstream)");
    println!("server RSS idle {:.1} MiB, with {streams} streams {:.1} MiB: {:.1} KiB per stream (its run and upstream connection included)",
        idle as f64 / 1024.0, loaded as f64 / 1024.0, loaded.saturating_sub(idle) as f64 / streams as f64);
    drop(open);
    drop(server);
    drop(slow);

    let failed: Vec<_> = targets
        .iter()
        .zip(&results)
        .filter(|(_, m)| m.errors as f64 > MAX_ERROR_RATE * (m.ok as f64 + m.errors as f64))
        .map(|(t, m)| {
            format!(
                "{}: {} errors, first: {}",
                t.label,
                m.errors,
                m.first_error.as_deref().unwrap_or("?")
            )
        })
        .collect();
    for f in &failed {
        println!("!! {f}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
