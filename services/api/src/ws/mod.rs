//! WebSocket (API.md §6): `GET /ws`, `/v1/ws`, `/api/v1/ws` and `/` (S4 dials the bare gateway
//! address). Authenticates by header, `?token=` / `?password=`, or S2's first `auth` frame;
//! speaks S4's requests and events and S2's message/response over ordinary runs; enforces the
//! message size, a per-connection frame rate, the tenant's connection cap (across replicas,
//! through Redis) and request rate, an idle timeout with pings, and closes gracefully on drain.

mod conn;
mod frames;
mod s2;
mod s4;
mod slots;
mod upgrade;

use std::time::Duration;

use dashmap::DashMap;
use openclaw_domain::TenantId;

pub use upgrade::upgrade;

/// The paths that accept a WebSocket upgrade (and so `?token=` in the query).
pub fn is_ws_path(path: &str) -> bool {
    matches!(path, "/" | "/ws" | "/v1/ws" | "/api/v1/ws")
}

/// Frames queued for one connection's writer: a slow reader holds up its chats' forwarding
/// (their runs go on and stay readable elsewhere), never the server's memory.
const OUTBOX: usize = 256;
/// Bytes read from a socket at a time.
const READ_BUFFER_BYTES: usize = 8 * 1024;
/// How long a draining replica lets a connection's chats finish before it closes.
const DRAIN_GRACE: Duration = Duration::from_secs(20);

// Close codes (RFC 6455 §7.4.1).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;

/// This replica's WebSocket connections per tenant: the cap while Redis is absent or down.
#[derive(Default)]
pub struct Hub {
    local: DashMap<TenantId, u32>,
}

impl Hub {
    /// Counts a connection of `tenant` here if it has fewer than `cap` (`cap`: `None` counts
    /// it whatever the number, the shared count having admitted it).
    fn admit(&self, tenant: TenantId, cap: Option<u32>) -> bool {
        let mut n = self.local.entry(tenant).or_insert(0);
        if cap.is_some_and(|cap| *n >= cap) {
            return false;
        }
        *n += 1;
        true
    }

    fn leave(&self, tenant: TenantId) {
        if let Some(mut n) = self.local.get_mut(&tenant) {
            *n = n.saturating_sub(1);
        }
        self.local.remove_if(&tenant, |_, n| *n == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_caps_local_connections_and_forgets_empty_tenants() {
        let hub = Hub::default();
        let t = TenantId::new();
        assert!(hub.admit(t, Some(2)));
        assert!(hub.admit(t, Some(2)));
        assert!(!hub.admit(t, Some(2)));
        assert!(hub.admit(t, None), "admitted by the shared count");
        assert_eq!(hub.local.get(&t).map(|n| *n), Some(3));
        for _ in 0..3 {
            hub.leave(t);
        }
        assert!(hub.local.is_empty());
    }

    #[test]
    fn ws_paths() {
        for p in ["/", "/ws", "/v1/ws", "/api/v1/ws"] {
            assert!(is_ws_path(p), "{p}");
        }
        assert!(!is_ws_path("/v1/message"));
    }
}
