//! The background worker (`openclaw worker`, `serve --with-worker`): claims jobs from the
//! Postgres queue (woken by NOTIFY, polling as the fallback), runs a bounded number at once
//! through `openclaw_engine::jobs`, renews their leases, takes back jobs of dead workers, and
//! on shutdown lets running jobs finish for a grace period before handing the rest back.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_engine::jobs::{Jobs, Verdict, COMPACT_TASK};
use openclaw_engine::{Providers, Runs, RunsConfig};
use openclaw_store::jobs::JOBS_CHANNEL;
use openclaw_store::redis::{ControlEvent, ControlMessage, Redis};
use openclaw_store::{JobEnd, JobRecord, Store, StoreError};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often expired sessions are purged. Several workers sweeping at once is harmless.
const SESSION_SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Most jobs claimed in one statement: a backlog drains in batches, while a worker with few
/// free slots still takes only what it can run.
const CLAIM_BATCH: usize = 8;
/// How often queue depth and age are sampled for metrics.
const STATS_EVERY: Duration = Duration::from_secs(5);
/// Ended tasks and agents stay readable this long, then are deleted (in batches, by the
/// session sweep's timer), so a tenant's history of jobs cannot grow without bound.
const JOB_RETENTION_DAYS: i64 = 30;
const JOB_PURGE_BATCH: i64 = 1000;
/// Outbox events are kept a week: the webhooks deliver within minutes, and a redelivery asked
/// for later than that finds nothing to send.
const OUTBOX_RETENTION_DAYS: i64 = 7;
/// Finished runs' records are kept this long (their messages live as long as their session).
const RUN_RETENTION_DAYS: i64 = 30;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this worker on the jobs it holds (unique per process).
    pub id: String,
    /// Jobs executing at once.
    pub concurrency: usize,
    /// How long a claim lasts unless renewed; a dead worker's jobs return after this.
    pub lease: Duration,
    /// Polling, for when a NOTIFY is missed (listener reconnecting).
    pub poll_interval: Duration,
    /// After shutdown begins, how long running jobs may take to finish before they are
    /// stopped and handed back to the queue.
    pub drain_grace: Duration,
    /// How often the worker looks for tenants whose memory is due for compaction (entries
    /// older than `runs.memory.compact_after`) and queues a `memory.compact` task for each.
    pub compact_every: Duration,
    pub runs: RunsConfig,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            id: default_worker_id(),
            concurrency: 16,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            drain_grace: Duration::from_secs(20),
            compact_every: Duration::from_secs(600),
            runs: RunsConfig::default(),
        }
    }
}

/// `HOSTNAME` (the pod's name on Kubernetes), the process id and a random suffix.
pub fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
    // The random bits of a v7 UUID tell two workers in one process (tests) apart.
    let salt = (uuid::Uuid::now_v7().as_u128() & 0xffff) as u16;
    format!("{host}-{}-{salt:04x}", std::process::id())
}

/// Runs a worker until `shutdown`, then drains. Returns once every job it held has ended or
/// been handed back.
pub async fn run(
    store: Store,
    redis: Option<Arc<Redis>>,
    providers: Arc<Providers>,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> Result<(), StoreError> {
    store.ping().await?;
    describe_metrics();
    let run_tracker = TaskTracker::new();
    let runs = Runs::new(
        store.clone(),
        redis.clone(),
        providers,
        run_tracker.clone(),
        config.runs.clone(),
    );
    let memory = runs.memory().clone();
    let all_runs = runs.clone();
    let jobs = Jobs::new(store.clone(), runs, config.id.clone());
    let wake = Arc::new(Notify::new());
    // Housekeeping stops at once on shutdown; the heartbeat keeps going until jobs are done.
    let housekeeping = CancellationToken::new();
    let background = TaskTracker::new();
    background.spawn(listen(store.clone(), wake.clone(), housekeeping.clone()));
    background.spawn(all_runs.clone().sweep_until(housekeeping.clone()));
    background.spawn(heartbeat(
        store.clone(),
        jobs.clone(),
        config.lease,
        housekeeping.clone(),
    ));
    background.spawn(sweep(store.clone(), config.clone(), housekeeping.clone()));
    if memory.embeds() {
        background.spawn(embed_memories(memory, housekeeping.clone()));
    }
    if let Some(redis) = redis.clone() {
        let j = jobs.clone();
        background.spawn(redis.run_control_subscriber(
            move |event| match event {
                ControlEvent::Message(ControlMessage::JobCancel { job_id }) => {
                    j.cancel(job_id);
                }
                ControlEvent::Message(ControlMessage::RunAbort { run_id }) => {
                    if let Some(id) = openclaw_engine::run::parse_run_id(&run_id) {
                        j.runs().abort_local(id);
                    }
                }
                _ => {}
            },
            housekeeping.clone(),
        ));
    }
    tracing::info!(worker = %config.id, concurrency = config.concurrency, "worker started");

    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let job_tracker = TaskTracker::new();
    let handing_back = Arc::new(AtomicBool::new(false));
    let ctx = Arc::new(Ctx {
        store: store.clone(),
        redis,
        jobs: jobs.clone(),
        wake: wake.clone(),
        handing_back: handing_back.clone(),
    });
    let mut failures = 0u32;
    'claiming: loop {
        while !shutdown.is_cancelled() {
            let free = slots.available_permits();
            if free == 0 {
                break;
            }
            let want = free.min(CLAIM_BATCH);
            match store
                .claim_jobs(&config.id, chrono_duration(config.lease), want as i64)
                .await
            {
                Ok(claimed) => {
                    failures = 0;
                    let got = claimed.len();
                    for job in claimed {
                        // Only this loop takes permits, so the `free` counted above are there.
                        let permit = slots
                            .clone()
                            .try_acquire_owned()
                            .expect("a permit counted as free");
                        let ctx = ctx.clone();
                        job_tracker.spawn(async move {
                            ctx.execute(job).await;
                            drop(permit);
                            ctx.wake.notify_one();
                        });
                    }
                    if got < want {
                        break;
                    }
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "cannot claim jobs; retrying");
                    let pause = Duration::from_millis(100 * u64::from(failures.min(50)));
                    tokio::select! {
                        _ = shutdown.cancelled() => break 'claiming,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    break;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.poll_interval) => {}
        }
    }

    // Drain: no more claims; running jobs get the grace period, then are stopped and handed
    // back so another worker takes them at once instead of after their lease.
    job_tracker.close();
    let held = jobs.held().len();
    tracing::info!(jobs = held, "worker draining");
    if tokio::time::timeout(config.drain_grace, job_tracker.wait())
        .await
        .is_err()
    {
        handing_back.store(true, Ordering::SeqCst);
        for h in jobs.held() {
            jobs.cancel(h.id);
        }
        if tokio::time::timeout(Duration::from_secs(10), job_tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("jobs did not stop within 10 s of being handed back");
        }
    }
    housekeeping.cancel();
    run_tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(10), run_tracker.wait()).await;
    all_runs.close().await;
    background.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), background.wait()).await;
    tracing::info!(worker = %config.id, "worker stopped");
    Ok(())
}

struct Ctx {
    store: Store,
    redis: Option<Arc<Redis>>,
    jobs: Jobs,
    wake: Arc<Notify>,
    handing_back: Arc<AtomicBool>,
}

impl Ctx {
    /// One attempt: execute, then record how it ended (fenced by the attempt number).
    async fn execute(&self, job: JobRecord) {
        let kind = kind_label(&job.kind);
        metrics::counter!("openclaw_jobs_started_total", "kind" => kind).increment(1);
        if job.attempts == 1 {
            let waited = (chrono::Utc::now() - job.created_at)
                .to_std()
                .unwrap_or_default();
            metrics::histogram!("openclaw_job_wait_duration_seconds", "kind" => kind)
                .record(waited.as_secs_f64());
        }
        let started = Instant::now();
        let verdict = self.jobs.execute(&job, CancellationToken::new()).await;
        let (outcome, end) = match verdict {
            Verdict::Cancelled if self.handing_back.load(Ordering::SeqCst) => {
                ("handed_back", Some(JobEnd::HandBack))
            }
            Verdict::Cancelled => ("cancelled", None),
            v => {
                let outcome = match &v {
                    Verdict::Completed(_) => "completed",
                    Verdict::Retry(_) if job.attempts < job.max_attempts => "retried",
                    _ => "failed",
                };
                (outcome, v.into_end(job.attempts))
            }
        };
        metrics::histogram!("openclaw_job_duration_seconds", "kind" => kind, "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        match outcome {
            "failed" => {
                metrics::counter!("openclaw_jobs_failed_total", "kind" => kind).increment(1)
            }
            "retried" => {
                metrics::counter!("openclaw_jobs_retried_total", "kind" => kind).increment(1)
            }
            _ => {}
        }
        let Some(end) = end else {
            return;
        };
        // The end must be recorded, or the job would wait for its lease to lapse and run again.
        let mut pause = Duration::from_millis(50);
        for _ in 0..8 {
            match self
                .store
                .end_job(
                    job.tenant(),
                    job.id,
                    self.jobs.worker(),
                    job.attempts,
                    end.clone(),
                )
                .await
            {
                Ok(Some(ended)) => {
                    if ended.is_terminal() {
                        self.announce_end(&ended).await;
                    }
                    return;
                }
                // Cancelled meanwhile, or taken over after a lapsed lease: theirs to record.
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, job = %job.id, "cannot record a job's end; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
        tracing::error!(job = %job.id, "gave up recording a job's end; its lease will lapse and it will run again");
    }

    /// Wakes clients long-polling the job on any replica.
    async fn announce_end(&self, job: &JobRecord) {
        if let Some(redis) = &self.redis {
            let _ = redis
                .publish_control(&ControlMessage::JobEnded { job_id: job.id })
                .await;
        }
    }
}

/// Bounded label values for metrics.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "task" => "task",
        "agent" => "agent",
        "message" => "message",
        _ => "other",
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(30))
}

/// Wakes the claim loop on every NOTIFY. The listener reconnects by itself; polling covers the
/// gaps.
async fn listen(store: Store, wake: Arc<Notify>, stop: CancellationToken) {
    loop {
        let connected = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(store.pool()).await?;
            listener.listen(JOBS_CHANNEL).await?;
            loop {
                listener.recv().await?;
                wake.notify_one();
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            r = connected => if let Err(e) = r {
                tracing::debug!(error = %e, "job listener lost its connection; polling meanwhile");
            },
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Renews the leases of the jobs held here and saves their progress; stops any attempt that
/// is no longer ours (cancelled by the client, or taken over after a lapsed lease). Often
/// enough that a cancellation reaches a job within seconds even without Redis.
async fn heartbeat(store: Store, jobs: Jobs, lease: Duration, stop: CancellationToken) {
    let every = (lease / 3).min(Duration::from_secs(2));
    let lease = chrono_duration(lease);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let held = jobs.held();
        if held.is_empty() {
            continue;
        }
        match store.heartbeat_jobs(jobs.worker(), &held, lease).await {
            Ok(still) => {
                let still: HashSet<_> = still.into_iter().collect();
                for h in held.iter().filter(|h| !still.contains(&h.id)) {
                    if jobs.cancel(h.id) {
                        tracing::info!(job = %h.id, "job is no longer this worker's (cancelled or taken over); stopping it");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew job leases; retrying"),
        }
    }
}

/// Takes back jobs whose worker died, samples the queue for metrics, purges expired sessions,
/// short-term memories and long-ended jobs, and schedules memory compactions.
async fn sweep(store: Store, config: WorkerConfig, stop: CancellationToken) {
    let lease = config.lease;
    let mut reap = tokio::time::interval((lease / 2).max(Duration::from_millis(500)));
    let mut stats = tokio::time::interval(STATS_EVERY);
    let mut sessions = tokio::time::interval(SESSION_SWEEP_EVERY);
    let mut compactions =
        tokio::time::interval(config.compact_every.max(Duration::from_millis(100)));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = reap.tick() => match store.reap_jobs().await {
                Ok(lost) if lost.is_empty() => {}
                Ok(lost) => {
                    metrics::counter!("openclaw_jobs_reclaimed_total").increment(lost.len() as u64);
                    tracing::warn!(jobs = lost.len(), "took back jobs of a worker that stopped renewing its lease");
                }
                Err(e) => tracing::warn!(error = %e, "cannot reap lapsed jobs; will retry"),
            },
            _ = stats.tick() => match store.queue_stats().await {
                Ok(s) => {
                    metrics::gauge!("openclaw_jobs_queued").set(s.queued as f64);
                    metrics::gauge!("openclaw_jobs_running").set(s.running as f64);
                    metrics::gauge!("openclaw_jobs_oldest_queued_seconds").set(s.oldest_queued_secs);
                }
                Err(e) => tracing::debug!(error = %e, "cannot sample the job queue"),
            },
            _ = sessions.tick() => {
                match store.purge_expired_sessions(chrono::Duration::zero()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sessions = n, "purged expired sessions"),
                    Err(e) => tracing::warn!(error = %e, "session sweep failed; will retry"),
                }
                let before = chrono::Utc::now() - chrono::Duration::days(JOB_RETENTION_DAYS);
                match store.purge_finished_jobs(before, JOB_PURGE_BATCH).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "purged jobs that ended over {JOB_RETENTION_DAYS} days ago"),
                    Err(e) => tracing::warn!(error = %e, "job purge failed; will retry"),
                }
                let before = chrono::Utc::now() - chrono::Duration::days(OUTBOX_RETENTION_DAYS);
                match store.purge_outbox(before, JOB_PURGE_BATCH).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(events = n, "purged outbox events over {OUTBOX_RETENTION_DAYS} days old"),
                    Err(e) => tracing::warn!(error = %e, "outbox purge failed; will retry"),
                }
                let before = chrono::Utc::now() - chrono::Duration::days(RUN_RETENTION_DAYS);
                match store.purge_finished_runs(before, JOB_PURGE_BATCH).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(runs = n, "purged runs that finished over {RUN_RETENTION_DAYS} days ago"),
                    Err(e) => tracing::warn!(error = %e, "run purge failed; will retry"),
                }
                match store.purge_expired_memories(JOB_PURGE_BATCH).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(memories = n, "purged expired short-term memories"),
                    Err(e) => tracing::warn!(error = %e, "memory purge failed; will retry"),
                }
            }
            _ = compactions.tick() => schedule_compactions(&store, &config.runs.memory).await,
        }
    }
}

/// Fills in the vectors of memories written while the embedding model was unavailable. Every
/// worker does this; two doing the same batch only write the same vectors twice.
async fn embed_memories(memory: openclaw_engine::memory::Memory, stop: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => match memory.embed_pending(64).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(memories = n, "embedded memories that had no vector"),
                Err(e) => tracing::warn!(error = %e.message, "cannot embed memories; will retry"),
            },
        }
    }
}

/// Queues a `memory.compact` task for each tenant with entries old enough to fold. Every worker
/// does this; the queue keeps one unfinished compaction per tenant, so they cannot pile up.
async fn schedule_compactions(store: &Store, memory: &openclaw_engine::memory::MemoryConfig) {
    let before = chrono::Utc::now() - memory.compact_after;
    let due = match store.tenants_due_for_compaction(before, 100).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for memory to compact; will retry");
            return;
        }
    };
    for tenant in due {
        use openclaw_engine::MemoryAccess;
        let job = openclaw_store::NewJob {
            id: uuid::Uuid::now_v7(),
            kind: openclaw_store::JobKind::Task,
            name: COMPACT_TASK.into(),
            job_type: COMPACT_TASK.into(),
            parameters: serde_json::json!({"scheduled": true}),
            // Housekeeping: the tenant's own work goes first.
            priority: -10,
            timeout_ms: 600_000,
            max_attempts: 3,
            run_id: None,
            session_key: None,
            memory_access: MemoryAccess::Tenant,
        };
        match store.enqueue_job_once(tenant, job).await {
            Ok(Ok(_)) => tracing::info!(%tenant, "memory compaction scheduled"),
            Ok(Err(_)) => {}
            Err(e) => tracing::warn!(error = %e, %tenant, "cannot schedule a memory compaction"),
        }
    }
}

fn describe_metrics() {
    metrics::describe_gauge!("openclaw_jobs_queued", "Jobs waiting in the queue");
    metrics::describe_gauge!("openclaw_jobs_running", "Jobs held by workers");
    metrics::describe_gauge!(
        "openclaw_jobs_oldest_queued_seconds",
        "Age of the oldest job that could run now"
    );
    metrics::describe_counter!(
        "openclaw_jobs_started_total",
        "Job attempts started, by kind"
    );
    metrics::describe_counter!(
        "openclaw_jobs_failed_total",
        "Jobs that failed for good, by kind"
    );
    metrics::describe_counter!(
        "openclaw_jobs_retried_total",
        "Job attempts that failed and were queued again, by kind"
    );
    metrics::describe_counter!(
        "openclaw_jobs_reclaimed_total",
        "Jobs taken back from workers that stopped renewing their lease"
    );
    metrics::describe_histogram!(
        "openclaw_job_duration_seconds",
        "Job attempt duration by kind and outcome"
    );
    metrics::describe_histogram!(
        "openclaw_job_wait_duration_seconds",
        "Time from enqueue to the first attempt's start, by kind"
    );
}
