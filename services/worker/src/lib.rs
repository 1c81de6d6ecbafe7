//! The background job runner (`openclaw worker`, `serve --with-worker`). The job queue and its
//! handlers arrive with the workers issue; until then a worker only holds its place in the
//! process lifecycle: it starts, checks its database, and stops cleanly on shutdown.

use openclaw_store::Store;
use tokio_util::sync::CancellationToken;

pub async fn run(
    store: Store,
    shutdown: CancellationToken,
) -> Result<(), openclaw_store::StoreError> {
    store.ping().await?;
    tracing::info!("worker started (no job types are registered yet)");
    shutdown.cancelled().await;
    tracing::info!("worker stopped");
    Ok(())
}
