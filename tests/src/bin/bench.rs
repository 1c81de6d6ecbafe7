//! `make bench`: requests/s and p50/p90/p99 latency of an authenticated `GET /v1/status` (the full
//! tenant stack: auth, Redis rate limit, concurrency permit) against the same server's `/health`.

use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context};
use openclaw_domain::Tier;
use openclaw_tests::{spawn_with, AppOptions, TestApp};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Client, RequestBuilder, StatusCode, Url};
use serde_json::{json, Value};

/// Load before each measured window, not recorded: connections open, caches and the script
/// cache in Redis are warm, the allocator has settled.
const WARM_UP: Duration = Duration::from_secs(2);
/// Above this share of failed requests the figures do not describe the server.
const MAX_ERROR_RATE: f64 = 0.01;
/// Far above what the bench can send, so no request is ever refused with a 429.
const REQUESTS_PER_HOUR: u32 = 1_000_000_000;

#[derive(Clone)]
struct Target {
    label: &'static str,
    url: Url,
    authorization: Option<HeaderValue>,
}

impl Target {
    fn get(&self, client: &Client) -> RequestBuilder {
        let req = client.get(self.url.clone());
        match &self.authorization {
            Some(value) => req.header(AUTHORIZATION, value.clone()),
            None => req,
        }
    }
}

/// What one load task saw during the measured window.
struct Worker {
    /// Microseconds from send to the body fully read, successful requests only.
    latencies: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

struct Measured {
    /// Successful responses; `rps` and the percentiles are over these.
    ok: usize,
    errors: u64,
    first_error: Option<String>,
    rps: f64,
    p50: u32,
    p90: u32,
    p99: u32,
    max: u32,
}

fn env_or<T: FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow!("{name}={v:?} is not a valid number")),
        Err(_) => Ok(default),
    }
}

/// One request to completion: `Err` carries what a reader needs to see why it failed.
async fn request(client: &Client, target: &Target) -> Result<(), String> {
    let resp = target
        .get(client)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("{status}, body: {e}"))?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))
    }
}

/// Runs `concurrency` looping tasks over the shared client for the warm-up then `window`,
/// recording requests sent inside the window (those still in flight at its end complete and
/// count, so rps is by send time and the window is never cut short).
async fn measure(
    client: &Client,
    target: &Target,
    concurrency: usize,
    window: Duration,
) -> Measured {
    let measure_from = Instant::now() + WARM_UP;
    let end = measure_from + window;
    // Sized for ~50k requests/s in all, so the vectors rarely grow inside the window.
    let per_task = (window.as_secs_f64() * 50_000.0 / concurrency as f64) as usize;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let mut w = Worker {
                    latencies: Vec::with_capacity(per_task),
                    errors: 0,
                    first_error: None,
                };
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break w;
                    }
                    let outcome = request(&client, &target).await;
                    if sent < measure_from {
                        continue;
                    }
                    match outcome {
                        Ok(()) => w
                            .latencies
                            .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX)),
                        Err(e) => {
                            w.errors += 1;
                            w.first_error.get_or_insert(e);
                        }
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for task in futures::future::join_all(tasks).await {
        let w = task.expect("load task panicked");
        latencies.extend_from_slice(&w.latencies);
        errors += w.errors;
        first_error = first_error.or(w.first_error);
    }
    latencies.sort_unstable();
    // Nearest rank: the smallest latency at least `p` of the requests did not exceed.
    let pct = |p: f64| match latencies.len() {
        0 => 0,
        n => latencies[((p * n as f64).ceil() as usize).clamp(1, n) - 1],
    };
    Measured {
        ok: latencies.len(),
        errors,
        first_error,
        rps: latencies.len() as f64 / window.as_secs_f64(),
        p50: pct(0.50),
        p90: pct(0.90),
        p99: pct(0.99),
        max: latencies.last().copied().unwrap_or(0),
    }
}

fn ms(micros: u32) -> String {
    format!("{:.3}ms", f64::from(micros) / 1e3)
}

fn print_row(label: &str, m: &Measured) {
    println!(
        "{label:<30} {:>8.0} {:>9} {:>9} {:>9} {:>9} {:>8}",
        m.rps,
        ms(m.p50),
        ms(m.p90),
        ms(m.p99),
        ms(m.max),
        m.errors
    );
}

/// One authenticated request before measuring: it must pass, carry the raised limit (not a
/// stale cached one) and report the shared Redis limiter as healthy.
async fn check_status(client: &Client, target: &Target) -> anyhow::Result<()> {
    let resp = target
        .get(client)
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
    let health = Target {
        label: "GET /health (no auth)",
        url: base.join("/health")?,
        authorization: None,
    };
    let status = Target {
        label: "GET /v1/status (auth+limit)",
        url: base.join("/v1/status")?,
        authorization: Some(HeaderValue::from_str(&format!("Bearer {}", tenant.key))?),
    };
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
