//! `make bench` (runs part), against real processes — `openclaw serve` in front of the
//! `mock-llm` binary, and mock-llm called directly with the same requests, in one table: the
//! gateway's overhead on stateless `/v1/chat/completions` (non-streaming, and time to first
//! token streaming) and on the stateful S4 `/v1/agent/run` (a new session each request), at
//! concurrency 1 and 32, each against its target; then the memory a server needs to hold 1 000
//! open SSE streams whose runs wait on a slow upstream.
//!
//! A missed target is printed (MISS), not an error: the exit code fails only when a
//! measurement's error rate is above `MAX_ERROR_RATE` (or the setup fails).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{ensure, Context};
use openclaw_tests::load::{
    env_or, measure_own_clients, ms, Body, Measured, Target, MAX_ERROR_RATE, WARM_UP,
};
use openclaw_tests::process::{openclaw, spawn_gateway, spawn_mock_llm, unthrottled_tenant_key};
use openclaw_tests::{fresh_prefix, services};
use reqwest::header::HeaderValue;
use reqwest::{Client, Url};
use serde_json::{json, Value};

/// The targets, at the low (`c=1`) and high (`c=32`) concurrency.
const STATELESS_MIN_RPS: f64 = 5_000.0;
const STATELESS_MAX_ADDED_P50_MS: f64 = 0.5;
const TTFT_MAX_ADDED_P50_MS: f64 = 0.5;
const STATEFUL_MIN_RPS: f64 = 1_500.0;
const STATEFUL_MAX_ADDED_P50_MS: f64 = 1.5;

#[derive(Clone, Copy)]
enum Goal {
    /// The gateway's requests per second at least this.
    MinRps(f64),
    /// The gateway's p50 at most this many milliseconds above the direct p50.
    MaxAddedP50Ms(f64),
}

impl Goal {
    fn met(self, direct: &Measured, gateway: &Measured) -> bool {
        direct.valid()
            && gateway.valid()
            && match self {
                Goal::MinRps(min) => gateway.rps >= min,
                Goal::MaxAddedP50Ms(max) => added_p50_ms(direct, gateway) <= max,
            }
    }

    fn describe(self) -> String {
        match self {
            Goal::MinRps(min) => format!("rps >= {min:.0}"),
            Goal::MaxAddedP50Ms(max) => format!("added p50 <= {max} ms"),
        }
    }
}

/// One kind of request, a row of the table per concurrency.
struct Section {
    name: &'static str,
    /// `None`: the direct figures are the non-streaming ones at the same concurrency.
    direct: Option<Target>,
    gateway: Target,
    at_low: Option<Goal>,
    at_high: Option<Goal>,
}

fn added_p50_ms(direct: &Measured, gateway: &Measured) -> f64 {
    (f64::from(gateway.p50) - f64::from(direct.p50)) / 1e3
}

fn bearer(key: Option<&str>) -> anyhow::Result<Option<HeaderValue>> {
    Ok(key
        .map(|k| HeaderValue::from_str(&format!("Bearer {k}")))
        .transpose()?)
}

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
        first_byte: stream,
        ..Target::post(
            label,
            Url::parse(&format!("{base}/v1/chat/completions"))?,
            bearer(key)?,
            Body::fixed(serde_json::to_vec(&body)?),
        )
    })
}

/// S4's `POST /v1/agent/run`, each request in a session of its own (`{n}` is numbered per
/// request, `prefix` keeps the keys apart from any other run's).
fn agent_run_target(base: &str, key: &str, prefix: &str) -> anyhow::Result<Target> {
    let body = json!({"message": "hello there", "sessionKey": format!("bench-{prefix}{}", Body::PLACEHOLDER)});
    Ok(Target::post(
        "gateway, /v1/agent/run",
        Url::parse(&format!("{base}/v1/agent/run"))?,
        bearer(Some(key))?,
        Body::numbered(serde_json::to_vec(&body)?).context("the body has a placeholder")?,
    ))
}

/// One request before measuring, so a refused route fails the bench with its answer rather
/// than with a window of errors; returns the body.
async fn preflight(client: &Client, target: &Target) -> anyhow::Result<String> {
    let resp = target
        .request(client)
        .send()
        .await
        .with_context(|| format!("first request to {}", target.label))?;
    let status = resp.status();
    let body = resp.text().await?;
    ensure!(
        status.is_success(),
        "{}: {status}: {}",
        target.label,
        &body[..body.len().min(500)]
    );
    Ok(body)
}

fn print_header() {
    println!(
        "{:<31} {:>3} | {:^27} | {:^27} | {:^16} | {:>7} | target",
        "", "", "direct (mock-llm)", "gateway", "gateway - direct", "errors"
    );
    println!(
        "{:<31} {:>3} | {:>7} {:>9} {:>9} | {:>7} {:>9} {:>9} | {:>9} {:>6} | {:>7} |",
        "row", "c", "rps", "p50", "p99", "rps", "p50", "p99", "added p50", "thrpt", "d/g"
    );
}

fn print_table_row(name: &str, c: usize, d: &Measured, g: &Measured, goals: &[(Goal, bool)]) {
    let verdicts: Vec<String> = goals
        .iter()
        .map(|(goal, met)| format!("{} {}", if *met { "PASS" } else { "MISS" }, goal.describe()))
        .collect();
    println!(
        "{name:<31} {c:>3} | {:>7.0} {:>9} {:>9} | {:>7.0} {:>9} {:>9} | {:>+7.3}ms {:>5.2}x | {:>7} | {}",
        d.rps,
        ms(d.p50),
        ms(d.p99),
        g.rps,
        ms(g.p50),
        ms(g.p99),
        added_p50_ms(d, g),
        g.rps / d.rps.max(f64::MIN_POSITIVE),
        format!("{}/{}", d.errors, g.errors),
        if verdicts.is_empty() {
            "-".to_string()
        } else {
            verdicts.join("; ")
        },
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let low: usize = env_or("BENCH_CONCURRENCY_LOW", 1)?;
    let high: usize = env_or("BENCH_CONCURRENCY", 32)?;
    let seconds: f64 = env_or("BENCH_SECONDS", 5.0)?;
    let streams: usize = env_or("BENCH_STREAMS", 1000)?;
    ensure!(
        low >= 1 && high >= 1,
        "BENCH_CONCURRENCY_LOW and BENCH_CONCURRENCY must be at least 1"
    );
    ensure!(
        seconds > 0.0 && seconds.is_finite(),
        "BENCH_SECONDS must be positive"
    );
    let levels: Vec<usize> = if low == high {
        vec![low]
    } else {
        vec![low, high]
    };
    let window = Duration::from_secs_f64(seconds);

    let svc = services::get().await;
    let db = svc.fresh_database().await;
    let redis = svc
        .redis_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the bench needs Redis"))?;
    let prefix = fresh_prefix();
    let app_db = svc.app_url(&db);
    let env = [
        ("OPENCLAW_MIGRATOR_URL", db.as_str()),
        ("DATABASE_URL", app_db.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("OPENCLAW_REDIS_PREFIX", prefix.as_str()),
    ];

    openclaw(&["migrate"], &env);
    let key = unthrottled_tenant_key(&env, "enterprise");
    // For the checks and the streams of part 2; the load tasks have clients of their own.
    let client = Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(high)
        .build()?;

    // 1. Overhead: the same requests to mock-llm directly and through the gateway.
    let (mock, upstream) = spawn_mock_llm(&[]).await;
    let (server, base) = spawn_gateway(&env, Some(&upstream)).await;
    let sections = [
        Section {
            name: "chat/completions, non-stream",
            direct: Some(chat_target(
                "direct, non-streaming",
                &upstream,
                "mock-1",
                false,
                None,
            )?),
            gateway: chat_target(
                "gateway, non-streaming",
                &base,
                "openai/mock-1",
                false,
                Some(&key),
            )?,
            at_low: Some(Goal::MaxAddedP50Ms(STATELESS_MAX_ADDED_P50_MS)),
            at_high: Some(Goal::MinRps(STATELESS_MIN_RPS)),
        },
        Section {
            name: "chat/completions, stream TTFT",
            direct: Some(chat_target(
                "direct, stream (TTFT)",
                &upstream,
                "mock-1",
                true,
                None,
            )?),
            gateway: chat_target(
                "gateway, stream (TTFT)",
                &base,
                "openai/mock-1",
                true,
                Some(&key),
            )?,
            at_low: Some(Goal::MaxAddedP50Ms(TTFT_MAX_ADDED_P50_MS)),
            at_high: None,
        },
        Section {
            name: "agent/run (S4), new session *",
            direct: None,
            gateway: agent_run_target(&base, &key, &prefix)?,
            at_low: Some(Goal::MaxAddedP50Ms(STATEFUL_MAX_ADDED_P50_MS)),
            at_high: Some(Goal::MinRps(STATEFUL_MIN_RPS)),
        },
    ];
    for s in &sections {
        for t in s.direct.iter().chain([&s.gateway]) {
            let body = preflight(&client, t).await?;
            if s.direct.is_none() {
                let v: Value = serde_json::from_str(&body)
                    .with_context(|| format!("{} answered {body}", t.label))?;
                ensure!(
                    v["response"].is_string() && v["runId"].is_string(),
                    "{} answered without a response or runId: {body}",
                    t.label
                );
            }
        }
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "make bench — `openclaw serve` vs mock-llm directly, the same requests; {seconds} s per \
         figure after {} s warm-up; c load tasks, each one keep-alive HTTP/1.1 connection; \
         loopback, real processes sharing {cores} cores",
        WARM_UP.as_secs()
    );
    if (low, high) != (1, 32) {
        println!("(the targets are set for c=1 and c=32; judged here at c={low} and c={high})");
    }
    print_header();
    // Every measurement, for the error check; and the direct non-streaming one per level (the
    // first section's), the baseline of the stateful rows.
    let mut all: Vec<(String, Measured)> = Vec::new();
    let mut direct_plain: Vec<usize> = Vec::new();
    let mut verdicts: Vec<(String, bool)> = Vec::new();
    for (si, s) in sections.iter().enumerate() {
        for (i, &c) in levels.iter().enumerate() {
            let d = match &s.direct {
                Some(t) => {
                    let m = measure_own_clients(t, c, window).await?;
                    all.push((format!("{}, c={c}", t.label), m));
                    if si == 0 {
                        direct_plain.push(all.len() - 1);
                    }
                    all.len() - 1
                }
                None => direct_plain[i],
            };
            let m = measure_own_clients(&s.gateway, c, window).await?;
            all.push((format!("{} ({}), c={c}", s.gateway.label, s.name), m));
            let (d, g) = (&all[d].1, &all[all.len() - 1].1);
            let goals: Vec<(Goal, bool)> = [(c == low, s.at_low), (c == high, s.at_high)]
                .into_iter()
                .filter_map(|(here, goal)| goal.filter(|_| here))
                .map(|goal| (goal, goal.met(d, g)))
                .collect();
            for (goal, met) in &goals {
                verdicts.push((
                    format!(
                        "{} c={c}: {}",
                        s.name.trim_end_matches(" *"),
                        goal.describe()
                    ),
                    *met,
                ));
            }
            print_table_row(s.name, c, d, g, &goals);
        }
    }
    println!(
        "* its direct figures are mock-llm's /v1/chat/completions non-streaming at the same c \
         (the first rows); sessionKey fresh per request"
    );
    let passed = verdicts.iter().filter(|(_, met)| *met).count();
    println!(
        "targets: {passed} of {} PASS{}",
        verdicts.len(),
        verdicts
            .iter()
            .filter(|(_, met)| !*met)
            .map(|(what, _)| format!("; MISS {what}"))
            .collect::<String>()
    );
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

    let failed: Vec<_> = all
        .iter()
        .filter(|(_, m)| m.errors > 0)
        .map(|(label, m)| {
            (
                m.error_rate() > MAX_ERROR_RATE,
                format!(
                    "{label}: {} of {} requests failed ({:.2}%), first: {}",
                    m.errors,
                    m.ok as u64 + m.errors,
                    m.error_rate() * 100.0,
                    m.first_error.as_deref().unwrap_or("?")
                ),
            )
        })
        .collect();
    for (_, f) in &failed {
        println!("!! {f}");
    }
    if failed.iter().any(|(fatal, _)| *fatal) {
        println!(
            "!! error rate above {:.0}%: the run is not a valid measurement",
            MAX_ERROR_RATE * 100.0
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
