//! The load generator behind `make bench`: a fixed number of tasks looping requests, each over a
//! keep-alive connection, exact percentiles from every recorded latency.

use std::io::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use axum::body::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, RequestBuilder, Url};

/// Load before each measured window, not recorded: connections open, caches and the script
/// cache in Redis are warm, the allocator has settled.
pub const WARM_UP: Duration = Duration::from_secs(2);
/// Above this share of failed requests the figures do not describe the server.
pub const MAX_ERROR_RATE: f64 = 0.01;
/// A request of a load task that takes longer counts as failed (the task goes on), so a stuck
/// server ends the measurement rather than hanging it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The numbers `{n}` in a [`Body::numbered`] takes: process-wide, so no two requests of a
/// bench (across its measurements and warm-ups) carry the same one.
static NEXT_N: AtomicU64 = AtomicU64::new(0);

/// A JSON body to POST, built once. A fixed one goes out as the same bytes every time (no
/// copy); a numbered one has its `{n}` replaced on each request by a number no other request
/// of this process had (a fresh session key per request, say).
#[derive(Clone)]
pub struct Body {
    head: Bytes,
    /// What follows `{n}`, for a numbered body.
    tail: Option<Bytes>,
}

impl Body {
    pub const PLACEHOLDER: &'static str = "{n}";

    pub fn fixed(bytes: impl Into<Vec<u8>>) -> Body {
        Body {
            head: Bytes::from(bytes.into()),
            tail: None,
        }
    }

    /// `bytes` with `{n}` (its first occurrence) replaced per request; `None` without one.
    pub fn numbered(bytes: impl Into<Vec<u8>>) -> Option<Body> {
        let all = Bytes::from(bytes.into());
        let p = Self::PLACEHOLDER.as_bytes();
        let at = all.windows(p.len()).position(|w| w == p)?;
        Some(Body {
            head: all.slice(..at),
            tail: Some(all.slice(at + p.len()..)),
        })
    }

    /// The bytes of the next request.
    fn next(&self) -> reqwest::Body {
        match &self.tail {
            None => self.head.clone().into(),
            Some(tail) => {
                let n = NEXT_N.fetch_add(1, Ordering::Relaxed);
                let mut buf = Vec::with_capacity(self.head.len() + 20 + tail.len());
                buf.extend_from_slice(&self.head);
                write!(buf, "{n}").expect("writing to a Vec cannot fail");
                buf.extend_from_slice(tail);
                buf.into()
            }
        }
    }
}

#[derive(Clone)]
pub struct Target {
    pub label: &'static str,
    pub url: Url,
    pub authorization: Option<HeaderValue>,
    /// A JSON body to POST; `None` sends a GET.
    pub body: Option<Body>,
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

    pub fn post(
        label: &'static str,
        url: Url,
        authorization: Option<HeaderValue>,
        body: Body,
    ) -> Target {
        Target {
            body: Some(body),
            ..Target::get(label, url, authorization)
        }
    }

    pub fn request(&self, client: &Client) -> RequestBuilder {
        let req = match &self.body {
            Some(body) => client
                .post(self.url.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.next()),
            None => client.get(self.url.clone()),
        };
        match &self.authorization {
            Some(value) => req.header(AUTHORIZATION, value.clone()),
            None => req,
        }
    }
}

/// The client of one load task ([`measure_own_clients`]): HTTP/1.1 over a single keep-alive
/// connection (the task has one request in flight at a time) with Nagle off, no proxy lookup,
/// and no pool shared with other tasks.
pub fn task_client() -> reqwest::Result<Client> {
    Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(None)
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
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

impl Measured {
    /// Share of the requests that failed (0 when none were sent).
    pub fn error_rate(&self) -> f64 {
        let total = self.ok as f64 + self.errors as f64;
        if total > 0.0 {
            self.errors as f64 / total
        } else {
            0.0
        }
    }

    /// Whether the figures describe the server: some requests passed, few failed.
    pub fn valid(&self) -> bool {
        self.ok > 0 && self.error_rate() <= MAX_ERROR_RATE
    }
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
    // Kept only to explain a failure: a successful body is read and dropped chunk by chunk.
    let mut failed_body = Vec::new();
    let mut first = None;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("{status}, body: {e}"))?
    {
        first.get_or_insert_with(|| sent.elapsed());
        if !status.is_success() && failed_body.len() < 300 {
            failed_body.extend_from_slice(&chunk);
        }
    }
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&failed_body[..failed_body.len().min(300)])
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
    run(vec![client.clone(); concurrency], target, window).await
}

/// As [`measure`], but each task has a [`task_client`] of its own, so its own connection and no
/// pool to contend for: the client side stays out of the way of a fast server.
pub async fn measure_own_clients(
    target: &Target,
    concurrency: usize,
    window: Duration,
) -> anyhow::Result<Measured> {
    let clients = (0..concurrency)
        .map(|_| task_client())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(run(clients, target, window).await)
}

/// One looping task per client in `clients`.
async fn run(clients: Vec<Client>, target: &Target, window: Duration) -> Measured {
    let measure_from = Instant::now() + WARM_UP;
    let end = measure_from + window;
    // Sized for ~50k requests/s in all, so the vectors rarely grow inside the window.
    let per_task = (window.as_secs_f64() * 50_000.0 / clients.len().max(1) as f64) as usize;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
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
