//! The Redis side of the platform: GCRA rate-limit cells (one atomic script, one round trip)
//! and the control channel (key revoked, tenant changed) that every replica listens to.
//!
//! Redis is loss-tolerant by design: every call has a short timeout, and a failure opens a
//! breaker for a moment so that callers fall back to local state without paying the timeout on
//! every request. `is_degraded` and the `openclaw_redis_fallback` gauge say when that happens.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use openclaw_domain::{ApiKeyId, TenantId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// How long the breaker stays open after a failure before Redis is tried again.
const BREAKER_OPEN: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
#[error("redis unavailable")]
pub struct Unavailable;

/// A message on the control channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ControlMessage {
    /// `key_hash` is hex, so replicas can drop the cache entry without a database hit.
    KeyRevoked { key_id: ApiKeyId, key_hash: String },
    /// Tier, limits, status or name changed: cached principals of the tenant are stale.
    TenantChanged { tenant_id: TenantId },
    /// Stop this run, wherever it executes.
    RunAbort { run_id: String },
    /// Stop this job (task or agent), wherever a worker runs it.
    JobCancel { job_id: uuid::Uuid },
    /// A job ended: replicas wake the clients long-polling it.
    JobEnded { job_id: uuid::Uuid },
}

/// What the control subscriber reports to its owner.
#[derive(Debug, Clone)]
pub enum ControlEvent {
    /// (Re)subscribed. Messages may have been missed while down: drop everything cached.
    Connected,
    Disconnected,
    Message(ControlMessage),
}

/// The verdict of one GCRA cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraOutcome {
    pub allowed: bool,
    /// Requests that could be made immediately after this one.
    pub remaining: u32,
    /// Denied: wait this long before the next request can pass.
    pub retry_after: Duration,
    /// Until the cell is full again (all of the burst available).
    pub reset_after: Duration,
    /// What the counter named with the cell holds (the tenant's tokens of the day).
    pub tokens: u64,
}

/// Generic cell rate algorithm with Redis's own clock, so replicas with skewed clocks agree.
/// Lua numbers are doubles: microsecond timestamps fit exactly (< 2^53), and `%.0f` keeps them
/// exact when stored (tostring would round to 14 digits).
const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
-- The tenant's tokens of the day ride along, so quotas and their headers cost no extra call.
local tokens = tonumber(redis.call('GET', KEYS[2]) or 0)
if now < allow_at then
  return {0, 0, allow_at - now, tat - now, tokens}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now, tokens}
"#;

/// One WebSocket connection's slot in its tenant's set (a sorted set of connection ids scored by
/// expiry, on Redis's clock): expired slots — of a replica that died — are dropped first; the
/// slot is taken (or renewed) if the tenant holds fewer than the cap. 1: held, 0: at the cap.
const WS_SLOT_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= cap then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"#;

pub struct Redis {
    client: redis::Client,
    prefix: String,
    op_timeout: Duration,
    conn: RwLock<Option<ConnectionManager>>,
    connecting: tokio::sync::Mutex<()>,
    gcra: Script,
    ws_slot: Script,
    epoch: Instant,
    breaker_until_ms: AtomicU64,
    degraded: AtomicBool,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Does not connect: the first use does, so a replica starts even while Redis is down.
    pub fn new(url: &str, prefix: &str, op_timeout: Duration) -> redis::RedisResult<Arc<Redis>> {
        Ok(Arc::new(Redis {
            client: redis::Client::open(url)?,
            prefix: prefix.to_string(),
            op_timeout,
            conn: RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
            gcra: Script::new(GCRA_LUA),
            ws_slot: Script::new(WS_SLOT_LUA),
            epoch: Instant::now(),
            breaker_until_ms: AtomicU64::new(0),
            degraded: AtomicBool::new(false),
        }))
    }

    /// Every key and channel of this deployment (or test) starts with the prefix.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.prefix, suffix)
    }

    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn trip(&self, why: &str) {
        self.breaker_until_ms.store(
            self.now_ms() + BREAKER_OPEN.as_millis() as u64,
            Ordering::Relaxed,
        );
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                reason = why,
                "redis unavailable: falling back to local limits and fan-out"
            );
            metrics::gauge!("openclaw_redis_fallback").set(1.0);
        }
    }

    fn healthy(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("redis reachable again: shared limits and fan-out restored");
            metrics::gauge!("openclaw_redis_fallback").set(0.0);
        }
    }

    async fn connection(&self) -> Result<ConnectionManager, Unavailable> {
        if let Some(c) = self.conn.read().expect("lock").as_ref() {
            return Ok(c.clone());
        }
        let _guard = self.connecting.lock().await;
        if let Some(c) = self.conn.read().expect("lock").as_ref() {
            return Ok(c.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.op_timeout))
            .set_response_timeout(Some(self.op_timeout))
            .set_number_of_retries(1);
        let made = tokio::time::timeout(
            self.op_timeout * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        match made {
            Ok(Ok(c)) => {
                *self.conn.write().expect("lock") = Some(c.clone());
                Ok(c)
            }
            Ok(Err(e)) => {
                self.trip(&e.to_string());
                Err(Unavailable)
            }
            Err(_) => {
                self.trip("connect timed out");
                Err(Unavailable)
            }
        }
    }

    /// Runs one operation under the breaker and the timeout.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if self.now_ms() < self.breaker_until_ms.load(Ordering::Relaxed) {
            return Err(Unavailable);
        }
        self.attempt(op).await
    }

    /// Runs one operation under the timeout only, whatever the breaker says.
    async fn attempt<T, F, Fut>(&self, op: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(self.op_timeout, op(conn)).await {
            Ok(Ok(v)) => {
                self.healthy();
                Ok(v)
            }
            Ok(Err(e)) => {
                self.trip(&e.to_string());
                Err(Unavailable)
            }
            Err(_) => {
                self.trip("operation timed out");
                Err(Unavailable)
            }
        }
    }

    /// One GCRA step for `cell`: `interval` between requests at the sustained rate, `burst`
    /// requests allowed at once; `tokens` names a counter (see `add_tokens`) read in the same
    /// call.
    pub async fn gcra(
        &self,
        cell: &str,
        tokens: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<GcraOutcome, Unavailable> {
        let key = self.key(cell);
        let tokens_key = self.key(tokens);
        let interval_us = interval.as_micros().max(1) as u64;
        let script = &self.gcra;
        let raw: Vec<i64> = self
            .run(|mut c| async move {
                script
                    .key(key)
                    .key(tokens_key)
                    .arg(interval_us)
                    .arg(burst.max(1))
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        let [allowed, remaining, retry_us, reset_us, tokens] = raw[..] else {
            self.trip("unexpected GCRA reply");
            return Err(Unavailable);
        };
        Ok(GcraOutcome {
            allowed: allowed == 1,
            remaining: remaining.clamp(0, i64::from(u32::MAX)) as u32,
            retry_after: Duration::from_micros(retry_us.max(0) as u64),
            reset_after: Duration::from_micros(reset_us.max(0) as u64),
            tokens: tokens.max(0) as u64,
        })
    }

    /// Adds `n` to counter `name` (kept for `ttl`) and returns its new value: a tenant's tokens
    /// of the day, shared by every replica.
    pub async fn add_tokens(&self, name: &str, n: u64, ttl: Duration) -> Result<u64, Unavailable> {
        let key = self.key(name);
        let mut pipe = redis::pipe();
        pipe.cmd("INCRBY").arg(&key).arg(n);
        pipe.cmd("PEXPIRE")
            .arg(&key)
            .arg(ttl.as_millis() as u64)
            .ignore();
        let (total,): (i64,) = self
            .run(|mut c| async move { pipe.query_async(&mut c).await })
            .await?;
        Ok(total.max(0) as u64)
    }

    /// Takes or renews WebSocket connection `conn`'s slot among `tenant`'s (at most `cap`), for
    /// `ttl` unless renewed. `false`: the tenant is at its cap.
    pub async fn ws_slot(
        &self,
        tenant: &str,
        conn: &str,
        cap: u32,
        ttl: Duration,
    ) -> Result<bool, Unavailable> {
        let key = self.key(&format!("ws:{tenant}"));
        let script = &self.ws_slot;
        let conn = conn.to_string();
        let held: i64 = self
            .run(|mut c| async move {
                script
                    .key(key)
                    .arg(conn)
                    .arg(cap)
                    .arg(ttl.as_millis().max(1) as u64)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(held == 1)
    }

    /// Gives back connection `conn`'s slot among `tenant`'s.
    pub async fn ws_release(&self, tenant: &str, conn: &str) -> Result<(), Unavailable> {
        let key = self.key(&format!("ws:{tenant}"));
        let conn = conn.to_string();
        self.run(|mut c| async move {
            redis::cmd("ZREM")
                .arg(key)
                .arg(conn)
                .query_async::<i64>(&mut c)
                .await
        })
        .await?;
        Ok(())
    }

    /// Appends events to one run's stream (see `append_runs_events`).
    pub async fn append_run_events(
        &self,
        run: &str,
        events: &[(u64, String)],
        max_len: usize,
        ttl: Duration,
    ) -> Result<(), Unavailable> {
        self.append_runs_events(&[(run, events)], max_len, ttl)
            .await
    }

    /// Appends events to several runs' streams in one pipelined round trip: each event under
    /// the id `seq-1`, so `Last-Event-ID` is our sequence number; each stream capped at about
    /// `max_len` and expiring `ttl` after its last event.
    pub async fn append_runs_events(
        &self,
        runs: &[(&str, &[(u64, String)])],
        max_len: usize,
        ttl: Duration,
    ) -> Result<(), Unavailable> {
        let mut pipe = redis::pipe();
        for (run, events) in runs {
            let key = self.key(&format!("run:{run}"));
            for (seq, payload) in *events {
                pipe.cmd("XADD")
                    .arg(&key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(max_len)
                    .arg(format!("{seq}-1"))
                    .arg("e")
                    .arg(payload)
                    .ignore();
            }
            pipe.cmd("PEXPIRE")
                .arg(&key)
                .arg(ttl.as_millis() as u64)
                .ignore();
        }
        self.run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }

    /// The sequence number of the last event in a run's stream (0 when it has none).
    pub async fn last_run_event(&self, run: &str) -> Result<u64, Unavailable> {
        let key = self.key(&format!("run:{run}"));
        let raw: Vec<(String, Vec<(String, String)>)> = self
            .run(|mut c| async move {
                redis::cmd("XREVRANGE")
                    .arg(key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(raw
            .first()
            .and_then(|(id, _)| id.split('-').next()?.parse().ok())
            .unwrap_or(0))
    }

    /// Drops a run's stream: a run resumed by another worker after a crash numbers its events
    /// from 1 again, and a stream only accepts increasing ids.
    pub async fn delete_run_events(&self, run: &str) -> Result<(), Unavailable> {
        let key = self.key(&format!("run:{run}"));
        self.run(|mut c| async move { c.del::<_, i64>(key).await })
            .await
            .map(|_| ())
    }

    /// Up to `count` events of a run after event `after` (exclusive), oldest first.
    pub async fn run_events_after(
        &self,
        run: &str,
        after: u64,
        count: usize,
    ) -> Result<Vec<(u64, String)>, Unavailable> {
        let key = self.key(&format!("run:{run}"));
        let raw: Vec<(String, Vec<(String, String)>)> = self
            .run(|mut c| async move {
                redis::cmd("XRANGE")
                    .arg(key)
                    .arg(format!("({after}-1"))
                    .arg("+")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(raw
            .into_iter()
            .filter_map(|(id, fields)| {
                let seq = id.split('-').next()?.parse().ok()?;
                let payload = fields.into_iter().find(|(f, _)| f == "e")?.1;
                Some((seq, payload))
            })
            .collect())
    }

    pub async fn ping(&self) -> Result<(), Unavailable> {
        // Readiness wants the truth, not the breaker's memory of it.
        self.attempt(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }

    pub async fn publish_control(&self, msg: &ControlMessage) -> Result<(), Unavailable> {
        let channel = self.key("control");
        let payload = serde_json::to_string(msg).expect("control messages serialise");
        // Revocations are rare and urgent: try even while the breaker spares the hot path.
        self.attempt(|mut c| async move { c.publish::<_, _, i64>(channel, payload).await })
            .await
            .map(|_| ())
    }

    /// Listens on the control channel until `shutdown`, reconnecting after failures, and
    /// reports every message and every (dis)connection to `on_event`.
    pub async fn run_control_subscriber<F>(
        self: Arc<Self>,
        on_event: F,
        shutdown: CancellationToken,
    ) where
        F: Fn(ControlEvent) + Send + Sync,
    {
        let channel = self.key("control");
        while !shutdown.is_cancelled() {
            let subscribed = async {
                let mut pubsub =
                    tokio::time::timeout(self.op_timeout * 2, self.client.get_async_pubsub())
                        .await
                        .map_err(|_| "connect timed out".to_string())?
                        .map_err(|e| e.to_string())?;
                pubsub
                    .subscribe(&channel)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(pubsub)
            };
            let pubsub = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = subscribed => r,
            };
            match pubsub {
                Ok(pubsub) => {
                    on_event(ControlEvent::Connected);
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let msg = tokio::select! {
                            _ = shutdown.cancelled() => return,
                            m = messages.next() => m,
                        };
                        let Some(msg) = msg else { break };
                        let payload: String = match msg.get_payload() {
                            Ok(p) => p,
                            Err(_) => continue,
                        };
                        match serde_json::from_str::<ControlMessage>(&payload) {
                            Ok(m) => on_event(ControlEvent::Message(m)),
                            Err(e) => {
                                tracing::warn!(error = %e, "ignoring malformed control message")
                            }
                        }
                    }
                    on_event(ControlEvent::Disconnected);
                    tracing::warn!("control channel lost; resubscribing");
                }
                Err(e) => {
                    on_event(ControlEvent::Disconnected);
                    tracing::debug!(error = %e, "control channel unavailable");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
}
