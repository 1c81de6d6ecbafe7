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

pub use upgrade::upgrade;

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
