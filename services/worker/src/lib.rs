//! The background job runner (`openclaw worker`, `serve --with-worker`). The job queue and its
//! handlers arrive with the workers issue; today a worker sweeps expired sessions away (they are
//! already invisible to clients; this reclaims their rows) and stops cleanly on shutdown.

use std::time::Duration;

use openclaw_store::Store;
use tokio_util::sync::CancellationToken;

/// How often expired sessions are purged. Several workers sweeping at once is harmless.
const SESSION_SWEEP_EVERY: Duration = Duration::from_secs(60);

pub async fn run(
    store: Store,
    shutdown: CancellationToken,
) -> Result<(), openclaw_store::StoreError> {
    store.ping().await?;
    tracing::info!("worker started");
    let mut sweep = tokio::time::interval(SESSION_SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = sweep.tick() => match store.purge_expired_sessions(chrono::Duration::zero()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "purged expired sessions"),
                Err(e) => tracing::warn!(error = %e, "session sweep failed; will retry"),
            },
        }
    }
    tracing::info!("worker stopped");
    Ok(())
}
