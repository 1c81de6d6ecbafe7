//! What every handler shares: configuration, the store, Redis (when configured), auth and
//! limits, and the task tracker that shutdown drains.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_engine::Runs;
use openclaw_store::redis::{ControlEvent, ControlMessage, Redis};
use openclaw_store::Store;
use tokio_util::task::TaskTracker;

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
}

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
        }))
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

    /// Everything a control message means on this replica: auth caches, runs to abort.
    pub fn on_control(&self, event: ControlEvent) {
        if let ControlEvent::Message(ControlMessage::RunAbort { run_id }) = &event {
            if let Some(id) = openclaw_engine::run::parse_run_id(run_id) {
                self.runs().abort_local(id);
            }
        }
        self.auth().on_control(event);
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
