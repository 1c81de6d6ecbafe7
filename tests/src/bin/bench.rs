//! `make bench`: requests/s and p50/p90/p99 latency of an authenticated `GET /v1/status` (the full
//! tenant stack: auth, Redis rate limit, concurrency permit) against the same server's `/health`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{ensure, Context};
use openclaw_domain::Tier;
use openclaw_tests::load::{env_or, measure, print_row, Target, MAX_ERROR_RATE, WARM_UP};
use openclaw_tests::{spawn_with, AppOptions, TestApp};
use reqwest::header::HeaderValue;
use reqwest::{Client, StatusCode, Url};
use serde_json::{json, Value};

/// Far above what the bench can send, so no request is ever refused with a 429.
const REQUESTS_PER_HOUR: u32 = 1_000_000_000;

/// One authenticated request before measuring: it must pass, carry the raised limit (not a
/// stale cached one) and report the shared Redis limiter as healthy.
async fn check_status(client: &Client, target: &Target) -> anyhow::Result<()> {
    let resp = target
        .request(client)
        .send()
        .await
        .context("first GET /v1/status")?;
    let status = resp.status();
    let limit = resp
        .headers()
        .get("x-ratelimit-limit")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = resp.json().await.context("GET /v1/status body")?;
    ensure!(
        status == StatusCode::OK,
        "GET /v1/status answered {status}: {body}"
    );
    ensure!(
        limit.as_deref() == Some(REQUESTS_PER_HOUR.to_string().as_str()),
        "the raised limit is not in effect: x-ratelimit-limit is {limit:?}"
    );
    let limiter = &body["gateway"]["rate_limits"];
    ensure!(
        limiter == "ok",
        "the rate limit is not going through Redis: gateway.rate_limits is {limiter}"
    );
    Ok(())
}

/// Rate-limit decisions the server made locally because Redis failed: any makes the status
/// figures describe the fallback, not the shared limiter.
async fn redis_fallbacks(app: &TestApp) -> u64 {
    app.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("openclaw_rate_limit_fallback_total"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 32)?;
    let seconds: f64 = env_or("BENCH_SECONDS", 10.0)?;
    ensure!(concurrency >= 1, "BENCH_CONCURRENCY must be at least 1");
    ensure!(
        seconds > 0.0 && seconds.is_finite(),
        "BENCH_SECONDS must be positive"
    );
    let window = Duration::from_secs_f64(seconds);

    let app = spawn_with(AppOptions::default()).await;
    let tenant = app.create_tenant(Tier::Enterprise).await;
    app.set_limits(
        &tenant.id,
        json!({
            "requests_per_hour": REQUESTS_PER_HOUR,
            "burst": 1_000_000,
            "concurrent_requests": 100_000,
        }),
    )
    .await;

    // HTTP/1.1 with keep-alive: one connection per task once warm, as a fleet of clients would.
    let client = Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(10))
        .build()?;
    let base = Url::parse(&app.base)?;
    let health = Target::get("GET /health (no auth)", base.join("/health")?, None);
    let status = Target::get(
        "GET /v1/status (auth+limit)",
        base.join("/v1/status")?,
        Some(HeaderValue::from_str(&format!("Bearer {}", tenant.key))?),
    );
    check_status(&client, &status).await?;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "make bench — concurrency {concurrency} (one keep-alive connection each), {seconds} s \
         per target after {} s warm-up, loopback, in-process server ({cores} cores shared by \
         client and server)",
        WARM_UP.as_secs()
    );
    println!(
        "{:<30} {:>8} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "target", "rps", "p50", "p90", "p99", "max", "errors"
    );
    let h = measure(&client, &health, concurrency, window).await;
    print_row(health.label, &h);
    let s = measure(&client, &status, concurrency, window).await;
    print_row(status.label, &s);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    println!(
        "ratio status/health: throughput {:.2}x, p50 {:.2}x, p99 {:.2}x",
        ratio(s.rps, h.rps),
        ratio(f64::from(s.p50), f64::from(h.p50)),
        ratio(f64::from(s.p99), f64::from(h.p99)),
    );
    println!(
        "added by auth + rate limit: p50 {:+.3} ms, p99 {:+.3} ms",
        (f64::from(s.p50) - f64::from(h.p50)) / 1e3,
        (f64::from(s.p99) - f64::from(h.p99)) / 1e3,
    );

    let fallbacks = redis_fallbacks(&app).await;
    app.stop().await;

    let mut failed = false;
    for (target, m) in [(&health, &h), (&status, &s)] {
        if m.errors == 0 {
            continue;
        }
        let total = m.ok as u64 + m.errors;
        let rate = m.errors as f64 / total as f64;
        println!(
            "!! {}: {} of {total} requests FAILED ({:.2}%), first: {}",
            target.label,
            m.errors,
            rate * 100.0,
            m.first_error.as_deref().unwrap_or("?")
        );
        failed |= rate > MAX_ERROR_RATE;
    }
    if fallbacks > 0 {
        println!(
            "!! {fallbacks} rate-limit decisions fell back to the local limiter: \
             Redis was not on the path"
        );
    }
    if failed || fallbacks > 0 {
        println!("!! the run is not a valid measurement");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
