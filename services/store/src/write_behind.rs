//! The write-behind batch: what runs leave for the record that no client waits for — the rows
//! of stateless runs and the usage of every run — gathered in memory and written in one
//! statement per window (at most `window` apart, or sooner once `max_rows` are waiting).
//!
//! So a stateless completion makes no Postgres round trip on its request path, and usage is
//! folded per tenant, day and model instead of updating one hot row inside every run's
//! transaction. The price, written in docs/architecture.md: a process that dies loses what it
//! had not written yet (at most one window, plus what failed to write while Postgres was down).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use openclaw_domain::TenantId;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::{FinishedRun, Store, UsageDelta, UsageKey};

#[derive(Debug, Clone)]
pub struct WriteBehindConfig {
    /// The longest a row waits to be written.
    pub window: Duration,
    /// A batch this big is written at once.
    pub max_rows: usize,
    /// Rows held at most (while Postgres is down); past it new ones are dropped and counted.
    pub capacity: usize,
}

impl Default for WriteBehindConfig {
    fn default() -> Self {
        WriteBehindConfig {
            window: Duration::from_millis(100),
            max_rows: 500,
            capacity: 50_000,
        }
    }
}

#[derive(Default)]
struct Pending {
    runs: Vec<FinishedRun>,
    usage: HashMap<UsageKey, UsageDelta>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.usage.is_empty()
    }
}

struct Inner {
    store: Store,
    config: WriteBehindConfig,
    pending: Mutex<Pending>,
    /// Wakes the writer early: a full batch, or closing.
    wake: Notify,
    closing: std::sync::atomic::AtomicBool,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// One write at a time: a `flush` returns only once what was waiting when it was called is
    /// written, even when the writer had just taken it.
    writing: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
pub struct WriteBehind {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WriteBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBehind")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl WriteBehind {
    /// Starts the writer. It is a task of its own rather than one on a run tracker, because it
    /// must outlive every run: `close` writes what the last runs left.
    pub fn start(store: Store, config: WriteBehindConfig) -> WriteBehind {
        let wb = WriteBehind {
            inner: Arc::new(Inner {
                store,
                config,
                pending: Mutex::new(Pending::default()),
                wake: Notify::new(),
                closing: false.into(),
                writer: Mutex::new(None),
                writing: tokio::sync::Mutex::new(()),
            }),
        };
        let writer = tokio::spawn(wb.clone().write_loop());
        *wb.inner.writer.lock().expect("writer") = Some(writer);
        wb
    }

    /// Queues a stateless run's record. Dropped (and counted) when the batch is at capacity.
    pub fn push_run(&self, run: FinishedRun) {
        let mut pending = self.inner.pending.lock().expect("pending");
        if pending.runs.len() >= self.inner.config.capacity {
            drop(pending);
            metrics::counter!("openclaw_write_behind_dropped_total", "kind" => "run").increment(1);
            return;
        }
        pending.runs.push(run);
        let full = pending.runs.len() >= self.inner.config.max_rows;
        metrics::gauge!("openclaw_write_behind_pending").set(pending.runs.len() as f64);
        drop(pending);
        if full {
            self.inner.wake.notify_one();
        }
    }

    /// Adds one model request's usage to the tenant's day and model.
    pub fn add_usage(&self, tenant: TenantId, model: &str, input_tokens: u64, output_tokens: u64) {
        let key = UsageKey {
            tenant,
            day: Utc::now().date_naive(),
            model: model.to_string(),
        };
        let mut pending = self.inner.pending.lock().expect("pending");
        let d = pending.usage.entry(key).or_default();
        d.requests += 1;
        d.input_tokens += input_tokens as i64;
        d.output_tokens += output_tokens as i64;
    }

    /// Writes what is waiting now, in one statement. On failure the rows go back to wait for the
    /// next window (within capacity).
    pub async fn flush(&self) -> crate::Result<usize> {
        let _writing = self.inner.writing.lock().await;
        let batch = std::mem::take(&mut *self.inner.pending.lock().expect("pending"));
        if batch.is_empty() {
            return Ok(0);
        }
        let usage: Vec<(UsageKey, UsageDelta)> = batch.usage.into_iter().collect();
        let started = Instant::now();
        let result = self.inner.store.write_behind(&batch.runs, &usage).await;
        metrics::histogram!("openclaw_write_behind_flush_seconds")
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                metrics::counter!("openclaw_write_behind_rows_total", "kind" => "run")
                    .increment(batch.runs.len() as u64);
                metrics::counter!("openclaw_write_behind_rows_total", "kind" => "usage")
                    .increment(usage.len() as u64);
                let pending = self.inner.pending.lock().expect("pending");
                metrics::gauge!("openclaw_write_behind_pending").set(pending.runs.len() as f64);
                Ok(batch.runs.len() + usage.len())
            }
            Err(e) => {
                metrics::counter!("openclaw_write_behind_failures_total").increment(1);
                let mut pending = self.inner.pending.lock().expect("pending");
                for (key, d) in usage {
                    let sum = pending.usage.entry(key).or_default();
                    sum.requests += d.requests;
                    sum.input_tokens += d.input_tokens;
                    sum.output_tokens += d.output_tokens;
                }
                let room = self
                    .inner
                    .config
                    .capacity
                    .saturating_sub(pending.runs.len());
                let lost = batch.runs.len().saturating_sub(room);
                let mut runs = batch.runs;
                runs.truncate(room);
                runs.append(&mut pending.runs);
                pending.runs = runs;
                if lost > 0 {
                    metrics::counter!("openclaw_write_behind_dropped_total", "kind" => "run")
                        .increment(lost as u64);
                }
                Err(e)
            }
        }
    }

    async fn write_loop(self) {
        let inner = &self.inner;
        loop {
            let closing = inner.closing.load(std::sync::atomic::Ordering::SeqCst);
            if !closing {
                tokio::select! {
                    _ = tokio::time::sleep(inner.config.window) => {}
                    _ = inner.wake.notified() => {}
                }
            }
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %e, "write-behind batch not written; retrying");
                if closing {
                    return;
                }
                tokio::time::sleep(inner.config.window).await;
            }
            if closing {
                return;
            }
        }
    }

    /// Writes everything still waiting and stops the writer (at shutdown, after the last run).
    pub async fn close(&self) {
        self.inner
            .closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.wake.notify_one();
        let writer = self.inner.writer.lock().expect("writer").take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
        // A run that ended while the writer was finishing.
        if let Err(e) = self.flush().await {
            tracing::error!(error = %e, "write-behind batch lost at shutdown");
        }
    }
}
