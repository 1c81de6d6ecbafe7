//! Settings of one API replica, already parsed and validated (the binary maps flags and
//! environment onto this; tests build it directly). Secrets are wrapped so `Debug` hides them.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use secrecy::SecretString;

/// One HS256 signing key. The first of `Config::jwt_keys` signs; all of them verify, so keys
/// rotate by prepending a new one and dropping the old one after the longest token lifetime.
#[derive(Clone, Debug)]
pub struct JwtKey {
    pub kid: String,
    pub secret: SecretString,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: IpAddr,
    pub port: u16,
    /// 0 picks a free port (tests).
    pub metrics_port: u16,
    /// The operator credential for `/admin/v1`; without it the operator API refuses everyone.
    pub admin_token: Option<SecretString>,
    pub jwt_keys: Vec<JwtKey>,
    pub jwt_default_ttl: Duration,
    pub jwt_max_ttl: Duration,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    /// How long a key lookup is trusted while the control channel is up (revocations arrive on
    /// it); while it is down, lookups older than one second are refreshed.
    pub auth_cache_ttl: Duration,
    /// Failed authentications an address may make per minute before it is refused outright.
    pub auth_failures_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    pub redis_prefix: String,
    pub redis_timeout: Duration,
    /// How often batched `last_used_at` times are written.
    pub last_used_flush: Duration,
    /// After a shutdown signal, how long to keep serving while `/ready` answers 503, so the load
    /// balancer stops sending traffic before the listener closes.
    pub drain_delay: Duration,
    /// How long a run's hold on its session's turn lasts unless renewed: after a replica dies,
    /// the next run in that session waits at most this long.
    pub run_turn_lease: Duration,
    /// How often runs whose replica died are looked for (and ended, failed).
    pub run_sweep_interval: Duration,
    /// The batch that writes stateless runs and usage behind the requests.
    pub write_behind: openclaw_store::WriteBehindConfig,
    /// Recall into runs, the memory tools, compaction ages.
    pub memory: openclaw_engine::memory::MemoryConfig,
    /// The outbound guard and settings of skills that reach the network.
    pub skills: openclaw_engine::skills::SkillsConfig,
    /// WebSocket limits and timers.
    pub ws: WsConfig,
    /// The models each tier may name (`OPENCLAW_MODELS_FREE`, `_PRO`, `_ENTERPRISE`); a tier
    /// without a list may name every model the deployment serves.
    pub tier_models:
        std::collections::HashMap<openclaw_domain::Tier, openclaw_domain::ModelAllowList>,
}

/// WebSocket limits and timers (API.md §6).
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// The largest message the server reads: a larger one is answered with an error event and
    /// dropped, the connection kept.
    pub max_message_bytes: usize,
    /// Beyond this the protocol layer stops reading and closes (1009): what one connection may
    /// make the server buffer.
    pub hard_max_message_bytes: usize,
    /// How long an unauthenticated socket has to send its `auth` frame.
    pub auth_timeout: Duration,
    /// How often the server pings and sends its `heartbeat` event.
    pub ping_interval: Duration,
    /// A connection from which nothing (not even a pong) arrives this long is closed.
    pub idle_timeout: Duration,
    /// Frames per second a connection may send on average, and at once.
    pub messages_per_second: u32,
    pub message_burst: u32,
    /// Chats one connection may stream at once.
    pub max_runs_per_connection: usize,
    /// Sockets not yet authenticated, per client address and on the replica in all; beyond
    /// either the upgrade is refused (429).
    pub max_unauthenticated_per_address: usize,
    pub max_unauthenticated: usize,
    /// The largest frame read before `auth`: an `auth` frame is small.
    pub max_unauthenticated_message_bytes: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message_bytes: 1024 * 1024,
            hard_max_message_bytes: 4 * 1024 * 1024,
            auth_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(75),
            messages_per_second: 20,
            message_burst: 40,
            max_runs_per_connection: 16,
            max_unauthenticated_per_address: 64,
            max_unauthenticated: 2000,
            max_unauthenticated_message_bytes: 4096,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 18789,
            metrics_port: 9090,
            admin_token: None,
            jwt_keys: Vec::new(),
            jwt_default_ttl: Duration::from_secs(15 * 60),
            jwt_max_ttl: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(300),
            body_limit_bytes: 10 * 1024 * 1024,
            auth_cache_ttl: Duration::from_secs(30),
            auth_failures_per_minute: 30,
            trust_forwarded_for: false,
            redis_prefix: "oc:".into(),
            redis_timeout: Duration::from_millis(250),
            last_used_flush: Duration::from_secs(5),
            drain_delay: Duration::ZERO,
            run_turn_lease: Duration::from_secs(30),
            run_sweep_interval: Duration::from_secs(5),
            write_behind: Default::default(),
            memory: Default::default(),
            skills: Default::default(),
            ws: Default::default(),
            tier_models: Default::default(),
        }
    }
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
