//! What every handler shares: configuration, the store, Redis (when configured), auth and
//! limits, and the task tracker that shutdown drains.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use openclaw_domain::TenantId;
use openclaw_engine::Runs;
use openclaw_store::redis::{ControlEvent, ControlMessage, Redis};
use openclaw_store::{JobKind, JobRecord, Store, StoreError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::auth::AuthService;
use crate::config::Config;
use crate::limits::TenantLimiter;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    store: Store,
    redis: Option<Arc<Redis>>,
    auth: AuthService,
    limiter: TenantLimiter,
    runs: Runs,
    started: Instant,
    draining: AtomicBool,
    tracker: TaskTracker,
    /// Clients long-polling a job (`?wait=`), woken by `JobEnded` from the workers.
    job_waiters: DashMap<Uuid, Arc<Notify>>,
    /// Cancelled when the replica starts draining: WebSocket connections close on it.
    closing: CancellationToken,
    ws: crate::limits::Connections,
    unauthenticated: Arc<crate::limits::Unauthenticated>,
    readiness: tokio::sync::Mutex<Option<Checks>>,
    /// The port `serve` listens on (the configured one may be 0: any free port).
    port: std::sync::OnceLock<u16>,
}

/// How often a long-poll re-reads its job when no `JobEnded` arrives (Redis down, or absent).
const JOB_POLL_FALLBACK: Duration = Duration::from_secs(1);

impl AppState {
    pub fn new(
        config: Config,
        store: Store,
        redis: Option<Arc<Redis>>,
        auth: AuthService,
        runs: Runs,
        tracker: TaskTracker,
    ) -> AppState {
        AppState(Arc::new(Inner {
            limiter: TenantLimiter::new(redis.clone()),
            runs,
            config,
            store,
            redis,
            auth,
            started: Instant::now(),
            draining: AtomicBool::new(false),
            tracker,
            job_waiters: DashMap::new(),
            closing: CancellationToken::new(),
            ws: crate::limits::Connections::default(),
            unauthenticated: Default::default(),
            readiness: Default::default(),
            port: std::sync::OnceLock::new(),
        }))
    }

    /// The port this replica serves on, as the status routes report it.
    pub fn port(&self) -> u16 {
        self.0.port.get().copied().unwrap_or(self.0.config.port)
    }

    pub(crate) fn set_port(&self, port: u16) {
        let _ = self.0.port.set(port);
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn redis(&self) -> Option<&Arc<Redis>> {
        self.0.redis.as_ref()
    }

    pub fn auth(&self) -> &AuthService {
        &self.0.auth
    }

    pub fn limiter(&self) -> &TenantLimiter {
        &self.0.limiter
    }

    pub fn runs(&self) -> &Runs {
        &self.0.runs
    }

    /// Everything a control message means on this replica: auth caches, runs to abort, and
    /// long-polls to wake.
    pub fn on_control(&self, event: ControlEvent) {
        if let ControlEvent::Message(ControlMessage::JobEnded { job_id }) = &event {
            if let Some((_, waiters)) = self.0.job_waiters.remove(job_id) {
                waiters.notify_waiters();
            }
        }
        if let ControlEvent::Message(ControlMessage::RunAbort { run_id }) = &event {
            if let Some(id) = openclaw_engine::run::parse_run_id(run_id) {
                self.runs().abort_local(id);
            }
        }
        self.auth().on_control(event);
    }

    /// The job once it has ended, or as it stands when `wait` runs out (`None`: no such job).
    /// Woken by the workers' `JobEnded`, with a slow re-read as the fallback.
    pub async fn wait_for_job(
        &self,
        tenant: TenantId,
        kind: JobKind,
        id: Uuid,
        wait: Duration,
    ) -> Result<Option<JobRecord>, StoreError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let waiters = self
                .0
                .job_waiters
                .entry(id)
                .or_insert_with(|| Arc::new(Notify::new()))
                .clone();
            // Registered before the read, so an end announced in between is not missed.
            let ended = waiters.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let job = self.store().get_job(tenant, kind, id).await?;
            let now = tokio::time::Instant::now();
            match job {
                Some(j) if !j.is_terminal() && now < deadline => {}
                other => {
                    // Without Redis no `JobEnded` would ever drop the entry.
                    if other.as_ref().is_none_or(JobRecord::is_terminal) {
                        self.0.job_waiters.remove(&id);
                    }
                    return Ok(other);
                }
            }
            let nap = (deadline - now).min(JOB_POLL_FALLBACK);
            let _ = tokio::time::timeout(nap, ended).await;
        }
    }

    pub fn uptime(&self) -> Duration {
        self.0.started.elapsed()
    }

    pub fn tracker(&self) -> &TaskTracker {
        &self.0.tracker
    }

    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
        self.0.closing.cancel();
    }

    /// Fires when the replica starts draining.
    pub fn closing(&self) -> &CancellationToken {
        &self.0.closing
    }

    /// This replica's WebSocket connections.
    /// The last readiness check (`/ready`).
    pub fn readiness(&self) -> &tokio::sync::Mutex<Option<Checks>> {
        &self.0.readiness
    }

    /// WebSocket sockets here still waiting for `auth`.
    pub fn unauthenticated(&self) -> &Arc<crate::limits::Unauthenticated> {
        &self.0.unauthenticated
    }

    pub fn ws(&self) -> &crate::limits::Connections {
        &self.0.ws
    }

    /// Applies a control message here at once, then tells the other replicas. A failed publish
    /// is retried for a few seconds in the background; replicas whose channel is down meanwhile
    /// distrust their caches after one second anyway.
    pub fn announce(&self, msg: ControlMessage) {
        self.on_control(ControlEvent::Message(msg.clone()));
        let Some(redis) = self.redis().cloned() else {
            return;
        };
        self.tracker().spawn(async move {
            for attempt in 0..10u32 {
                if redis.publish_control(&msg).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt + 1))).await;
            }
            tracing::error!(
                ?msg,
                "could not announce a control message to other replicas"
            );
        });
    }
}

/// What `/ready` last found of the dependencies, and when.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    pub at: std::time::Instant,
    pub postgres: bool,
    pub redis: &'static str,
}
