//! A connection's slot among its tenant's (shared through Redis, else this replica's `limits::Connections`) and
//! the permit a chat holds while it streams; both given back when dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openclaw_domain::{Error, ErrorKind, TenantId};
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;

use crate::auth::{Authenticated, PermitSlot};
use crate::state::AppState;

/// A connection's place among its tenant's (at most `limits.ws_connections` across replicas):
/// given back when dropped.
pub(super) struct Slot {
    state: AppState,
    tenant: TenantId,
    conn: String,
    shared: bool,
}

impl Slot {
    /// How long a slot lives unless renewed: a replica that dies frees its slots this late.
    fn ttl(state: &AppState) -> Duration {
        state.config().ws.ping_interval * 3
    }

    pub(super) async fn take(
        state: &AppState,
        auth: &Authenticated,
        conn: &str,
    ) -> Result<Slot, Error> {
        let cap = auth.limits.ws_connections;
        let refused = || {
            metrics::counter!("openclaw_ws_refused_total", "reason" => "connections").increment(1);
            Error::new(
                ErrorKind::RateLimited,
                format!(
                    "Too many WebSocket connections: this tenant may hold {cap} at once. Close one \
                     and try again."
                ),
            )
            .with_details(json!({"ws_connections": cap}))
        };
        let tenant = auth.tenant_id.to_string();
        let shared = match state.redis() {
            Some(redis) => redis
                .ws_slot(&tenant, conn, cap, Self::ttl(state))
                .await
                .ok(),
            None => None,
        };
        match shared {
            Some(false) => return Err(refused()),
            Some(true) => {
                state.ws().admit(auth.tenant_id, None);
            }
            // Redis absent or down: this replica's count is the cap.
            None => {
                if !state.ws().admit(auth.tenant_id, Some(cap)) {
                    return Err(refused());
                }
            }
        }
        Ok(Slot {
            state: state.clone(),
            tenant: auth.tenant_id,
            conn: conn.to_string(),
            shared: shared.is_some(),
        })
    }

    /// Keeps the shared slot alive (and takes one if Redis lost it).
    pub(super) async fn renew(&self, cap: u32) {
        if let Some(redis) = self.state.redis() {
            let tenant = self.tenant.to_string();
            let _ = redis
                .ws_slot(&tenant, &self.conn, cap, Self::ttl(&self.state))
                .await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.state.ws().leave(self.tenant);
        if let (true, Some(redis)) = (self.shared, self.state.redis().cloned()) {
            let (tenant, conn) = (self.tenant.to_string(), self.conn.clone());
            self.state.tracker().spawn(async move {
                let _ = redis.ws_release(&tenant, &conn).await;
            });
        }
    }
}

/// Held while a chat streams: one of the connection's chats and one of the tenant's
/// concurrent requests.
pub(super) struct ChatPermit {
    pub(super) chats: Arc<AtomicUsize>,
    pub(super) tenant: Arc<OwnedSemaphorePermit>,
}

impl ChatPermit {
    /// The caller as the chat's run sees it: the run holds the tenant's permit too, until it
    /// ends (it may outlive the stream on this socket).
    pub(super) fn caller(&self, auth: &Authenticated) -> Authenticated {
        Authenticated {
            permit: PermitSlot::holding(self.tenant.clone()),
            ..auth.clone()
        }
    }
}

impl Drop for ChatPermit {
    fn drop(&mut self) {
        self.chats.fetch_sub(1, Ordering::SeqCst);
    }
}
