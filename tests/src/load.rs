//! The load generator behind `make bench`: a fixed number of tasks looping requests over one
//! keep-alive client, exact percentiles from every recorded latency.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, RequestBuilder, Url};

/// Load before each measured window, not recorded: connections open, caches and the script
/// cache in Redis are warm, the allocator has settled.
pub const WARM_UP: Duration = Duration::from_secs(2);
/// Above this share of failed requests the figures do not describe the server.
pub const MAX_ERROR_RATE: f64 = 0.01;
#[derive(Clone)]
pub struct Target {
    pub label: &'static str,
    pub url: Url,
    pub authorization: Option<HeaderValue>,
    /// A JSON body to POST; `None` sends a GET.
    pub body: Option<Vec<u8>>,
    /// Record the time to the first byte of the body (time to first token for a stream) rather
    /// than to its end; the rest is still read before the next request.
    pub first_byte: bool,
}

impl Target {
    pub fn get(label: &'static str, url: Url, authorization: Option<HeaderValue>) -> Target {
        Target {
            label,
            url,
            authorization,
            body: None,
            first_byte: false,
        }
    }

    pub fn request(&self, client: &Client) -> RequestBuilder {
        let req = match &self.body {
            Some(body) => client
                .post(self.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone()),
            None => client.get(self.url.clone()),
        };
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

pub struct Measured {
    /// Successful responses; `rps` and the percentiles are over these.
    pub ok: usize,
    pub errors: u64,
    pub first_error: Option<String>,
    pub rps: f64,
    pub p50: u32,
    pub p90: u32,
    pub p99: u32,
    pub max: u32,
}

pub fn env_or<T: FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow!("{name}={v:?} is not a valid number")),
        Err(_) => Ok(default),
    }
}

/// One request to completion, returning the latency the target measures (to the end of the
/// body, or to its first byte). `Err` carries what a reader needs to see why it failed.
async fn request(client: &Client, target: &Target) -> Result<Duration, String> {
    let sent = Instant::now();
    let mut resp = target
        .request(client)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = resp.status();
    let mut body = Vec::new();
    let mut first = None;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("{status}, body: {e}"))?
    {
        first.get_or_insert_with(|| sent.elapsed());
        if body.len() < 300 {
            body.extend_from_slice(&chunk);
        }
    }
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok(match (target.first_byte, first) {
        (true, Some(ttfb)) => ttfb,
        _ => sent.elapsed(),
    })
}

/// Runs `concurrency` looping tasks over the shared client for the warm-up then `window`,
/// recording requests sent inside the window (those still in flight at its end complete and
/// count, so rps is by send time and the window is never cut short).
pub async fn measure(
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
                        Ok(latency) => w
                            .latencies
                            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX)),
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

pub fn ms(micros: u32) -> String {
    format!("{:.3}ms", f64::from(micros) / 1e3)
}

pub fn print_row(label: &str, m: &Measured) {
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
