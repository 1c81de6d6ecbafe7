//! `make bench` (WebSocket part), against real processes — `openclaw serve` in front of the
//! `mock-llm` binary: the server memory one idle authenticated WebSocket connection costs (with
//! 10 000 open), and the latency of `chat.delta` events — from mock-llm sending a chunk to the
//! client reading the delta that carries it — with 1 000 chats streaming at once.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use openclaw_tests::load::{env_or, print_row, Measured, MAX_ERROR_RATE};
use openclaw_tests::process::{openclaw, spawn_gateway, spawn_mock_llm, unthrottled_tenant_key};
use openclaw_tests::{fresh_prefix, services};
use reqwest::Url;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Handshakes in flight at once: enough to open 10 000 connections in seconds, few enough that
/// the server's accept queue never overflows (a dropped SYN is retried a second later, which
/// would show as setup time that is not the server's).
const CONNECT_CONCURRENCY: usize = 200;
/// mock-llm's pause between chunks: 20 tokens a second, a usual pace for a hosted model.
const TOKEN_DELAY_MS: u64 = 50;
/// Chunks per reply. At `TOKEN_DELAY_MS` a chat streams for 2 s, longer than starting all the
/// runs takes, so the chats overlap rather than run in turn.
const REPLY_CHUNKS: usize = 40;
/// The longest wait for any one frame before the request it belongs to counts as failed.
const FRAME_DEADLINE: Duration = Duration::from_secs(30);
/// The operator token of the gateways started here (the operator API raises the connection cap).
const ADMIN_TOKEN: &str = "bench-operator-token";

/// A key of a tenant that none of the request rate, concurrent requests and WebSocket
/// connection cap hold back: `unthrottled_tenant_key` lifts the first two, and the operator API
/// the cap, which the CLI has no flag for.
async fn unthrottled_ws_key(
    client: &reqwest::Client,
    env: &[(&str, &str)],
    base: &str,
    connections: usize,
) -> anyhow::Result<String> {
    let key = unthrottled_tenant_key(env, "enterprise");
    let id = tenant_of(client, base, &key).await?["id"]
        .as_str()
        .context("no tenant id in /v1/status")?
        .to_string();
    let resp = client
        .patch(format!("{base}/admin/v1/tenants/{id}"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"limits": {"ws_connections": connections}}))
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "raising the connection cap: {}",
        resp.text().await?
    );
    // The limits the server now authenticates the key with, not merely those stored.
    let cap = tenant_of(client, base, &key).await?["limits"]["ws_connections"].as_u64();
    anyhow::ensure!(
        cap >= Some(connections as u64),
        "the connection cap is still {cap:?}"
    );
    Ok(key)
}

/// The tenant of `key` as `/v1/status` shows it: its id and the limits in force.
async fn tenant_of(client: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<Value> {
    let status: Value = client
        .get(format!("{base}/v1/status"))
        .bearer_auth(key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(status["tenant"].clone())
}

/// Opens an authenticated connection and reads its first frame, which must say `connected`.
async fn connect(url: &str) -> Result<(Ws, Duration), String> {
    let began = Instant::now();
    // A small read buffer (the default is 128 KiB): the bench's own 10 000 connections would
    // otherwise hold over a gigabyte of the machine the server is measured on.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| match e {
            tungstenite::Error::Http(resp) => format!(
                "upgrade refused: {} {}",
                resp.status(),
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default())
            ),
            e => format!("connect: {e}"),
        })?;
    match tokio::time::timeout(FRAME_DEADLINE, ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => {
            let hello: Value = serde_json::from_str(&t).map_err(|e| format!("{e}: {t}"))?;
            if hello["type"] == "connected" && hello["data"]["authenticated"] == true {
                Ok((ws, began.elapsed()))
            } else {
                Err(format!("first frame: {t}"))
            }
        }
        Ok(other) => Err(format!("first frame: {other:?}")),
        Err(_) => Err(format!("no first frame within {FRAME_DEADLINE:?}")),
    }
}

/// What opening connections took: the time of each to its `connected` frame (microseconds),
/// the failures, and the whole.
struct Opened {
    setup: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    took: Duration,
}

/// Opens `n` connections to `url`, `CONNECT_CONCURRENCY` at a time, handing each to `on_open`
/// as soon as it is up.
async fn open_all(url: &str, n: usize, mut on_open: impl FnMut(Ws)) -> Opened {
    let began = Instant::now();
    let mut opened = Opened {
        setup: Vec::with_capacity(n),
        errors: 0,
        first_error: None,
        took: Duration::ZERO,
    };
    let mut attempts = futures::stream::iter(0..n)
        .map(|_| connect(url))
        .buffer_unordered(CONNECT_CONCURRENCY);
    while let Some(attempt) = attempts.next().await {
        match attempt {
            Ok((ws, setup)) => {
                opened.setup.push(micros(setup));
                on_open(ws);
            }
            Err(e) => {
                opened.errors += 1;
                opened.first_error.get_or_insert(e);
            }
        }
    }
    opened.took = began.elapsed();
    opened
}

/// Keeps an idle connection open until the server ends it, which it counts in `ended`. Reading
/// is what answers the server's pings (tungstenite queues the pong and flushes it on the next
/// read): unanswered, the server would close the connection as idle.
async fn hold(mut ws: Ws, ended: Arc<AtomicUsize>) {
    while let Some(Ok(frame)) = ws.next().await {
        if let Message::Close(_) = frame {
            break;
        }
    }
    ended.fetch_add(1, Ordering::Relaxed);
}

/// Chats streaming now and the most seen at once, across connections.
#[derive(Default)]
struct Streaming {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Streaming {
    fn start(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn end(&self, chats: usize) {
        self.now.fetch_sub(chats, Ordering::Relaxed);
    }
}

/// One chat of a connection, from its request to its end.
struct Chat {
    sent: Instant,
    started: bool,
    deltas: usize,
    last_delta: Option<Instant>,
    finished: bool,
}

/// What one connection's chats saw; latencies in microseconds.
#[derive(Default)]
struct ChatsSeen {
    /// From sending `chat.run` to reading `chat.started`.
    started: Vec<u32>,
    /// From mock-llm sending a chunk to reading the `chat.delta` carrying it.
    deltas: Vec<u32>,
    /// From reading a chat's last `chat.delta` to reading its `chat.done`.
    done_after: Vec<u32>,
    done: usize,
    errors: u64,
    first_error: Option<String>,
}

impl ChatsSeen {
    /// `chats` more failed, for `why` (0: a fault whose chat is counted when it ends, short of
    /// deltas or timed out).
    fn fail(&mut self, chats: usize, why: String) {
        self.errors += chats as u64;
        self.first_error.get_or_insert(why);
    }
}

/// Waits for `go`, sends `chats` `chat.run` requests at once on `ws` (ids 0…), and reads their
/// events until every chat is done or failed.
async fn run_chats(
    mut ws: Ws,
    chats: usize,
    message: Arc<str>,
    mut go: watch::Receiver<bool>,
    streaming: Arc<Streaming>,
) -> ChatsSeen {
    let mut seen = ChatsSeen::default();
    if go.wait_for(|go| *go).await.is_err() {
        return seen;
    }
    let mut state = Vec::with_capacity(chats);
    for id in 0..chats {
        let request = json!({"method": "chat.run", "params": {"message": &*message}, "id": id});
        state.push(Chat {
            sent: Instant::now(),
            started: false,
            deltas: 0,
            last_delta: None,
            finished: false,
        });
        if let Err(e) = ws.send(Message::Text(request.to_string().into())).await {
            seen.fail(chats - id, format!("send: {e}"));
            return seen;
        }
    }
    let mut pending = chats;
    let cut = loop {
        if pending == 0 {
            break None;
        }
        let frame = match tokio::time::timeout(FRAME_DEADLINE, ws.next()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(e))) => break Some(format!("connection: {e}")),
            Ok(None) => break Some("connection ended".into()),
            Err(_) => break Some(format!("no frame within {FRAME_DEADLINE:?}")),
        };
        // Before parsing: the client's own work is not the server's latency.
        let (received, arrived) = (SystemTime::now(), Instant::now());
        let Message::Text(text) = frame else { continue };
        let event: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                seen.fail(0, format!("{e}: {text}"));
                continue;
            }
        };
        let chat = event["id"]
            .as_u64()
            .and_then(|id| state.get_mut(id as usize))
            .filter(|c| !c.finished);
        match (event["type"].as_str(), chat) {
            (Some("chat.started"), Some(chat)) => {
                chat.started = true;
                seen.started.push(micros(arrived - chat.sent));
                streaming.start();
            }
            (Some("chat.delta"), Some(chat)) => {
                // mock-llm's chunks are "<unix µs> "; were the server to join several in one delta,
                // each would still count.
                let delta = event["data"]["delta"].as_str().unwrap_or_default();
                for stamp in delta.split_whitespace() {
                    match stamp.parse::<u64>() {
                        Ok(sent) => {
                            let sent = UNIX_EPOCH + Duration::from_micros(sent);
                            let latency = received.duration_since(sent).unwrap_or_default();
                            seen.deltas.push(micros(latency));
                            chat.deltas += 1;
                            chat.last_delta = Some(arrived);
                        }
                        Err(_) => seen.fail(0, format!("a delta without a timestamp: {delta:?}")),
                    }
                }
            }
            (Some(kind @ ("chat.done" | "error")), Some(chat)) => {
                chat.finished = true;
                pending -= 1;
                if chat.started {
                    streaming.end(1);
                }
                if kind == "error" {
                    seen.fail(1, event["data"].to_string());
                } else if chat.deltas == REPLY_CHUNKS {
                    seen.done += 1;
                    if let Some(last) = chat.last_delta {
                        seen.done_after.push(micros(arrived - last));
                    }
                } else {
                    seen.fail(1, format!("{} deltas of {REPLY_CHUNKS}", chat.deltas));
                }
            }
            // An error naming no request of ours (a dropped frame): its chat will time out.
            (Some("error"), None) => seen.fail(0, event.to_string()),
            _ => {}
        }
    };
    // The chats the connection or the deadline cut short.
    if let Some(why) = cut {
        streaming.end(state.iter().filter(|c| c.started && !c.finished).count());
        seen.fail(pending, why);
    }
    seen
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Exact nearest-rank percentiles of `latencies` (microseconds), `rps` their number over
/// `window`: the figures the other benches print.
fn summarize(
    mut latencies: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    window: Duration,
) -> Measured {
    latencies.sort_unstable();
    let pct = |p: f64| match latencies.len() {
        0 => 0,
        n => latencies[((p * n as f64).ceil() as usize).clamp(1, n) - 1],
    };
    Measured {
        ok: latencies.len(),
        errors,
        first_error,
        rps: latencies.len() as f64 / window.as_secs_f64().max(f64::MIN_POSITIVE),
        p50: pct(0.50),
        p90: pct(0.90),
        p99: pct(0.99),
        max: latencies.last().copied().unwrap_or(0),
    }
}

fn header() {
    println!(
        "{:<30} {:>8} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "target", "rps", "p50", "p90", "p99", "max", "errors"
    );
}

/// `ws://…/ws?token=KEY` of the gateway at `base`.
fn ws_url(base: &str, key: &str) -> anyhow::Result<String> {
    let mut url = Url::parse_with_params(&format!("{base}/ws"), [("token", key)])?;
    url.set_scheme("ws")
        .map_err(|()| anyhow::anyhow!("no ws:// form of {base}"))?;
    Ok(url.into())
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let connections: usize = env_or("BENCH_WS_CONNECTIONS", 10_000)?;
    let chats: usize = env_or("BENCH_WS_CHATS", 1_000)?;
    let per_connection: usize = env_or("BENCH_WS_CHATS_PER_CONNECTION", 1)?;
    anyhow::ensure!(
        (1..=16).contains(&per_connection),
        "BENCH_WS_CHATS_PER_CONNECTION must be 1 to 16 (the server's cap per connection)"
    );
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
        ("OPENCLAW_ADMIN_TOKEN", ADMIN_TOKEN),
        // Far above what a connection sends here, so the per-connection frame limit is never
        // what drops a request when the server falls behind.
        ("OPENCLAW_WS_MESSAGES_PER_SECOND", "1000"),
    ];
    openclaw(&["migrate"], &env);
    let client = reqwest::Client::new();
    let token_delay = TOKEN_DELAY_MS.to_string();
    let (_mock, upstream) =
        spawn_mock_llm(&["--timestamp-chunks", "--token-delay-ms", &token_delay]).await;
    let mut failed = Vec::new();

    // 1. Memory: idle authenticated connections, each read by a task of its own.
    let (server, base) = spawn_gateway(&env, Some(&upstream)).await;
    let key = unthrottled_ws_key(&client, &env, &base, connections.max(chats)).await?;
    let url = ws_url(&base, &key)?;
    // Warm-up, not measured: one wave of handshakes opened and closed, so the baseline already
    // has the pools, caches and worker threads a wave of upgrades brings up.
    let warm = open_all(&url, CONNECT_CONCURRENCY, drop).await;
    anyhow::ensure!(
        warm.errors == 0,
        "warm-up: {}",
        warm.first_error.unwrap_or_default()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.rss_kib().unwrap_or(0);
    let ended = Arc::new(AtomicUsize::new(0));
    let mut holders = Vec::with_capacity(connections);
    let opened = open_all(&url, connections, |ws| {
        holders.push(tokio::spawn(hold(ws, ended.clone())));
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = server.rss_kib().unwrap_or(0);
    let open = holders.len() - ended.load(Ordering::Relaxed);
    println!(
        "make bench — WebSocket: server memory per idle authenticated connection, {connections} \
         connections ({CONNECT_CONCURRENCY} handshakes at a time), loopback, real processes sharing \
         the machine's cores"
    );
    header();
    let setup = summarize(opened.setup, opened.errors, opened.first_error, opened.took);
    print_row("connect to `connected` frame", &setup);
    println!(
        "server RSS idle {:.1} MiB, with {open} connections open {:.1} MiB: {:.1} KiB per \
         connection ({} refused, {} closed before the reading)",
        idle as f64 / 1024.0,
        loaded as f64 / 1024.0,
        loaded.saturating_sub(idle) as f64 / open.max(1) as f64,
        setup.errors,
        holders.len() - open,
    );
    let lost = connections - open;
    if lost as f64 > MAX_ERROR_RATE * connections as f64 {
        failed.push(format!(
            "{lost} of {connections} idle connections not open, first error: {}",
            setup
                .first_error
                .as_deref()
                .unwrap_or("closed by the server")
        ));
    }
    for h in &holders {
        h.abort();
    }
    drop(server);

    // 2. Delta latency: a fresh server, so the 10 000 connections closing do not weigh on it, with
    // a Redis prefix of its own: the killed server's connection slots there only expire with
    // their TTL, and would count against the tenant's cap meanwhile.
    let chat_prefix = fresh_prefix();
    let mut chat_env = env;
    chat_env[2] = ("OPENCLAW_REDIS_PREFIX", chat_prefix.as_str());
    let (server, base) = spawn_gateway(&chat_env, Some(&upstream)).await;
    let url = ws_url(&base, &key)?;
    // "mock: " and these words: one chunk per word.
    let message: Arc<str> = (1..REPLY_CHUNKS)
        .map(|w| format!("word{w}"))
        .collect::<Vec<_>>()
        .join(" ")
        .into();
    let sockets = chats.div_ceil(per_connection);
    let (go, ready) = watch::channel(false);
    let streaming = Arc::new(Streaming::default());
    let mut tasks = Vec::with_capacity(sockets);
    let opened = open_all(&url, sockets, |ws| {
        let n = per_connection.min(chats - tasks.len() * per_connection);
        let task = run_chats(ws, n, message.clone(), ready.clone(), streaming.clone());
        tasks.push(tokio::spawn(task));
    })
    .await;
    anyhow::ensure!(
        opened.errors == 0,
        "chat connections: {} failed, first: {}",
        opened.errors,
        opened.first_error.unwrap_or_default()
    );
    let began = Instant::now();
    go.send(true)?;
    let mut seen = ChatsSeen::default();
    for task in futures::future::join_all(tasks).await {
        let s = task.context("chat task panicked")?;
        seen.started.extend_from_slice(&s.started);
        seen.deltas.extend_from_slice(&s.deltas);
        seen.done_after.extend_from_slice(&s.done_after);
        seen.done += s.done;
        seen.errors += s.errors;
        seen.first_error = seen.first_error.or(s.first_error);
    }
    let took = began.elapsed();
    drop(server);
    println!();
    println!(
        "make bench — WebSocket: chat.delta latency (mock-llm sending a chunk to the client reading \
         it) with {chats} concurrent streaming chats on {sockets} connections, {REPLY_CHUNKS} chunks \
         per reply {TOKEN_DELAY_MS} ms apart; rps is per second of the whole run"
    );
    header();
    let started = summarize(seen.started, 0, None, took);
    print_row("chat.run to chat.started", &started);
    let deltas = summarize(seen.deltas, seen.errors, seen.first_error, took);
    print_row("chat.delta (mock-llm to client)", &deltas);
    let done = summarize(seen.done_after, 0, None, took);
    print_row("last chat.delta to chat.done", &done);
    println!(
        "{} chats done, {} failed, at most {} streaming at once, {:.1} s in all",
        seen.done,
        seen.errors,
        streaming.peak.load(Ordering::Relaxed),
        took.as_secs_f64()
    );
    if seen.errors as f64 > MAX_ERROR_RATE * chats as f64 {
        failed.push(format!(
            "chats: {} errors, first: {}",
            seen.errors,
            deltas.first_error.as_deref().unwrap_or("?")
        ));
    }

    for f in &failed {
        println!("!! {f}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
