//! Flags and environment (clap with `env`, which fits Kubernetes Secrets). Every setting is
//! listed in the README; secrets are hidden from `--help` output and wrapped after parsing.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "openclaw",
    version,
    about = "OpenClaw Cloud: hosted API for AI agents"
)]
pub struct Cli {
    /// `json` for one JSON object per line, `pretty` for people.
    #[arg(long, env = "LOG_FORMAT", default_value = "pretty", global = true)]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct DbArgs {
    /// Postgres URL, e.g. postgres://postgres@127.0.0.1:5432/openclaw
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    #[arg(long, env = "OPENCLAW_DB_MAX_CONNECTIONS", default_value_t = 20)]
    pub db_max_connections: u32,
}

/// How `openclaw migrate` connects: as the migrator, the role that owns the schema and creates
/// the app role (`OPENCLAW_MIGRATOR_URL`; without it, `DATABASE_URL`).
#[derive(Args, Clone)]
pub struct MigratorArgs {
    #[arg(long, env = "OPENCLAW_MIGRATOR_URL", hide_env_values = true)]
    pub migrator_url: Option<String>,
    /// Sets the password of the app role (`openclaw_app`) the services log in as.
    #[arg(long, env = "OPENCLAW_APP_DB_PASSWORD", hide_env_values = true)]
    pub app_db_password: Option<String>,
}

/// Whether `serve` and `worker` may run as a role that row-level security does not bind
/// (a superuser, BYPASSRLS): development only, and warned about at start.
#[derive(Args, Clone, Copy)]
pub struct RlsArgs {
    #[arg(long, env = "OPENCLAW_ALLOW_RLS_BYPASS", default_value_t = false)]
    pub allow_rls_bypass: bool,
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub rls: RlsArgs,
    /// Also run a worker in this process (development).
    #[arg(long)]
    pub with_worker: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[arg(long, env = "OPENCLAW_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,
    #[arg(long, env = "OPENCLAW_PORT", default_value_t = 18789)]
    pub port: u16,
    #[arg(long, env = "OPENCLAW_METRICS_PORT", default_value_t = 9090)]
    pub metrics_port: u16,
    /// Without it: one replica, local limits, in-process fan-out.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel, so deployments can share a Redis.
    #[arg(long, env = "OPENCLAW_REDIS_PREFIX", default_value = "oc:")]
    pub redis_prefix: String,
    #[arg(long, env = "OPENCLAW_REDIS_TIMEOUT_MS", default_value_t = 250)]
    pub redis_timeout_ms: u64,
    /// The operator credential for /admin/v1.
    #[arg(long, env = "OPENCLAW_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// HS256 secret, or `kid:secret,kid:secret` (first signs, all verify) for rotation.
    #[arg(long, env = "OPENCLAW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    #[arg(long, env = "OPENCLAW_JWT_TTL_SECS", default_value_t = 900)]
    pub jwt_ttl_secs: u64,
    #[arg(long, env = "OPENCLAW_JWT_MAX_TTL_SECS", default_value_t = 86_400)]
    pub jwt_max_ttl_secs: u64,
    #[arg(long, env = "OPENCLAW_REQUEST_TIMEOUT_SECS", default_value_t = 300)]
    pub request_timeout_secs: u64,
    #[arg(long, env = "OPENCLAW_BODY_LIMIT_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub body_limit_bytes: usize,
    #[arg(long, env = "OPENCLAW_AUTH_CACHE_TTL_SECS", default_value_t = 30)]
    pub auth_cache_ttl_secs: u64,
    #[arg(long, env = "OPENCLAW_AUTH_FAILURES_PER_MINUTE", default_value_t = 30)]
    pub auth_failures_per_minute: u32,
    /// Read the client address from X-Forwarded-For (only behind a proxy that sets it).
    #[arg(long, env = "OPENCLAW_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// Seconds to keep serving (with /ready at 503) after SIGTERM before closing the listener.
    #[arg(long, env = "OPENCLAW_DRAIN_DELAY_SECS", default_value_t = 0)]
    pub drain_delay_secs: u64,
    #[arg(long, env = "OPENCLAW_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    #[command(flatten)]
    pub ws: WsArgs,
    /// The models each tier may name: comma-separated `provider/model` names or patterns
    /// ending in `*`. Unset: every model the deployment serves.
    #[arg(long, env = "OPENCLAW_MODELS_FREE")]
    pub models_free: Option<String>,
    #[arg(long, env = "OPENCLAW_MODELS_PRO")]
    pub models_pro: Option<String>,
    #[arg(long, env = "OPENCLAW_MODELS_ENTERPRISE")]
    pub models_enterprise: Option<String>,
}

/// How a worker runs jobs (`openclaw worker`, `serve --with-worker`).
#[derive(Args, Clone)]
pub struct WorkerArgs {
    /// Jobs executing at once in this process.
    #[arg(long, env = "OPENCLAW_WORKER_CONCURRENCY", default_value_t = 16)]
    pub worker_concurrency: usize,
    /// Seconds a job's claim lasts unless renewed: a dead worker's jobs run again after this.
    #[arg(long, env = "OPENCLAW_JOB_LEASE_SECS", default_value_t = 30)]
    pub job_lease_secs: u64,
    /// Polling for jobs when a NOTIFY is missed.
    #[arg(long, env = "OPENCLAW_JOB_POLL_MS", default_value_t = 2000)]
    pub job_poll_ms: u64,
    /// On SIGTERM, seconds running jobs may take to finish before being handed back.
    #[arg(long, env = "OPENCLAW_WORKER_DRAIN_SECS", default_value_t = 20)]
    pub worker_drain_secs: u64,
    #[command(flatten)]
    pub memory: MemoryArgs,
    #[command(flatten)]
    pub skills: SkillArgs,
    #[command(flatten)]
    pub runs: RunArgs,
}

/// How runs hold their place and what they leave to be written behind them (API and workers).
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A run's lease (and its session's turn), renewed while it works: a dead replica's runs
    /// end, failed, within this plus the sweep interval.
    #[arg(long, env = "OPENCLAW_RUN_LEASE_SECS", default_value_t = 30)]
    pub run_lease_secs: u64,
    /// How often runs whose lease lapsed are looked for.
    #[arg(long, env = "OPENCLAW_RUN_SWEEP_SECS", default_value_t = 5)]
    pub run_sweep_secs: u64,
    /// The longest a stateless run's record or a run's usage waits to be written.
    #[arg(long, env = "OPENCLAW_WRITE_BEHIND_MS", default_value_t = 100)]
    pub write_behind_ms: u64,
    /// A write-behind batch this large is written at once.
    #[arg(long, env = "OPENCLAW_WRITE_BEHIND_ROWS", default_value_t = 500)]
    pub write_behind_rows: usize,
}

impl RunArgs {
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.run_lease_secs.max(1))
    }

    pub fn sweep_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.run_sweep_secs.max(1))
    }

    pub fn write_behind(&self) -> openclaw_store::WriteBehindConfig {
        openclaw_store::WriteBehindConfig {
            window: std::time::Duration::from_millis(self.write_behind_ms.clamp(1, 60_000)),
            max_rows: self.write_behind_rows.max(1),
            ..Default::default()
        }
    }
}

/// Skills that reach the network (API.md §5.5, §7); read by `serve` and `worker`.
#[derive(Args, Clone)]
pub struct SkillArgs {
    /// Comma-separated hosts (or host:port) that skills may reach even at private or local
    /// addresses.
    #[arg(long, env = "OPENCLAW_OUTBOUND_ALLOW_HOSTS", default_value = "")]
    pub outbound_allow_hosts: String,
    /// The `weather` skill's forecast API (Open-Meteo's or a compatible one).
    #[arg(
        long,
        env = "OPENCLAW_WEATHER_BASE_URL",
        default_value = "https://api.open-meteo.com"
    )]
    pub weather_base_url: String,
    /// The `weather` skill's geocoding API.
    #[arg(
        long,
        env = "OPENCLAW_WEATHER_GEOCODING_URL",
        default_value = "https://geocoding-api.open-meteo.com"
    )]
    pub weather_geocoding_url: String,
}

impl SkillArgs {
    pub fn config(&self) -> openclaw_engine::skills::SkillsConfig {
        openclaw_engine::skills::SkillsConfig {
            outbound: openclaw_engine::outbound::OutboundConfig::default()
                .with_allow_list(&self.outbound_allow_hosts),
            weather: openclaw_engine::skills::WeatherConfig {
                forecast_url: self.weather_base_url.clone(),
                geocoding_url: self.weather_geocoding_url.clone(),
            },
        }
    }
}

/// Agent memory (API.md §5.4); read by `serve` (recall, tools) and `worker` (compaction).
#[derive(Args, Clone)]
pub struct MemoryArgs {
    /// Runs recall the tenant's relevant memories into the model's context.
    #[arg(long, env = "OPENCLAW_MEMORY_RECALL", default_value_t = true, action = clap::ArgAction::Set)]
    pub memory_recall: bool,
    /// Runs offer the model the memory_search and memory_add tools.
    #[arg(long, env = "OPENCLAW_MEMORY_TOOLS", default_value_t = true, action = clap::ArgAction::Set)]
    pub memory_tools: bool,
    /// Tokens of context recalled memories may take per run.
    #[arg(long, env = "OPENCLAW_MEMORY_RECALL_TOKENS", default_value_t = 800)]
    pub memory_recall_tokens: usize,
    /// `wal` entries older than this are folded by the scheduled compaction.
    #[arg(
        long,
        env = "OPENCLAW_MEMORY_COMPACT_AFTER_SECS",
        default_value_t = 86_400
    )]
    pub memory_compact_after_secs: i64,
    /// How often workers look for memory due for compaction.
    #[arg(
        long,
        env = "OPENCLAW_MEMORY_COMPACT_EVERY_SECS",
        default_value_t = 600
    )]
    pub memory_compact_every_secs: u64,
}

impl MemoryArgs {
    pub fn config(&self) -> openclaw_engine::memory::MemoryConfig {
        openclaw_engine::memory::MemoryConfig {
            recall: self.memory_recall,
            tools: self.memory_tools,
            recall_budget_tokens: self.memory_recall_tokens,
            compact_after: chrono::Duration::seconds(self.memory_compact_after_secs.max(0)),
            ..Default::default()
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the API (REST, SSE, WebSocket) and metrics.
    Serve(Box<ServeArgs>),
    /// Run a background worker: tasks, spawned agents, async messages, housekeeping.
    Worker {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        rls: RlsArgs,
        #[command(flatten)]
        worker: WorkerArgs,
        /// Without it, cancellations reach jobs through the heartbeat (seconds) instead of at once.
        #[arg(long, env = "REDIS_URL", hide_env_values = true)]
        redis_url: Option<String>,
        #[arg(long, env = "OPENCLAW_REDIS_PREFIX", default_value = "oc:")]
        redis_prefix: String,
        #[arg(long, env = "OPENCLAW_BIND", default_value = "0.0.0.0")]
        bind: IpAddr,
        /// Prometheus metrics of the worker (queue depth, job durations, failures, retries).
        #[arg(long, env = "OPENCLAW_WORKER_METRICS_PORT", default_value_t = 9091)]
        metrics_port: u16,
    },
    /// Create the database if missing and apply migrations (idempotent).
    Migrate {
        #[command(flatten)]
        migrator: MigratorArgs,
    },
    /// Migrate, create or reuse the development tenant and key, print them.
    DevSetup {
        #[command(flatten)]
        migrator: MigratorArgs,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        dev: DevArgs,
        #[arg(long, env = "OPENCLAW_PORT", default_value_t = 18789)]
        port: u16,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API keys: `openclaw api key generate --name production`.
    #[command(subcommand)]
    Api(ApiCommand),
    /// Tokens: `openclaw auth generate-token`.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Read configuration: `openclaw config get gateway.auth.token`.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Args, Clone)]
pub struct DevArgs {
    /// Where the development key is kept between runs (it cannot be read back from the hash).
    #[arg(
        long,
        env = "OPENCLAW_DEV_KEY_FILE",
        default_value = ".openclaw/dev-api-key"
    )]
    pub key_file: std::path::PathBuf,
}

#[derive(Subcommand)]
pub enum TenantCommand {
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "free")]
        tier: String,
    },
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Change tier, status or limit overrides.
    Update {
        #[command(flatten)]
        db: DbArgs,
        id: String,
        #[arg(long)]
        tier: Option<String>,
        /// active | suspended
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        requests_per_hour: Option<u32>,
        #[arg(long)]
        burst: Option<u32>,
        #[arg(long)]
        concurrent_requests: Option<u32>,
    },
}

#[derive(Subcommand)]
pub enum ApiCommand {
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Issue a key and print it (shown once).
    Generate {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, default_value = "default")]
        name: String,
        /// Tenant id; the development tenant when omitted.
        #[arg(long)]
        tenant: Option<String>,
        /// Comma-separated scopes; all tenant scopes when omitted.
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
    },
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        tenant: Option<String>,
    },
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        key_id: String,
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AuthCommand {
    /// Mint a short-lived JWT from a tenant's key (needs the servers' OPENCLAW_JWT_SECRET).
    GenerateToken {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        tenant: Option<String>,
        /// Key id to bind the token to; the tenant's newest active key when omitted.
        #[arg(long)]
        key: Option<String>,
        #[arg(long, default_value_t = 900)]
        ttl_secs: u64,
        #[arg(long, env = "OPENCLAW_JWT_SECRET", hide_env_values = true)]
        jwt_secret: String,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// gateway.auth.token (the development key), gateway.port, gateway.bind
    Get {
        path: String,
        #[command(flatten)]
        dev: DevArgs,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        #[arg(long, env = "OPENCLAW_PORT", default_value_t = 18789)]
        port: u16,
        #[arg(long, env = "OPENCLAW_BIND", default_value = "0.0.0.0")]
        bind: IpAddr,
    },
}

/// WebSocket limits and timers.
#[derive(Debug, Clone, Args)]
pub struct WsArgs {
    /// Largest WebSocket message read; a larger one gets an error event, the connection stays.
    #[arg(long, env = "OPENCLAW_WS_MAX_MESSAGE_BYTES", default_value_t = 1024 * 1024)]
    pub ws_max_message_bytes: usize,
    /// Seconds an unauthenticated socket has to send its `auth` frame.
    #[arg(long, env = "OPENCLAW_WS_AUTH_TIMEOUT_SECS", default_value_t = 10)]
    pub ws_auth_timeout_secs: u64,
    /// Seconds between server pings and `heartbeat` events.
    #[arg(long, env = "OPENCLAW_WS_PING_SECS", default_value_t = 25)]
    pub ws_ping_secs: u64,
    /// Seconds without any frame (pongs included) before a connection is closed.
    #[arg(long, env = "OPENCLAW_WS_IDLE_TIMEOUT_SECS", default_value_t = 75)]
    pub ws_idle_timeout_secs: u64,
    /// WebSocket sockets not yet authenticated, per client address and on the replica in all.
    #[arg(
        long,
        env = "OPENCLAW_WS_MAX_UNAUTHENTICATED_PER_ADDRESS",
        default_value_t = 64
    )]
    pub ws_max_unauthenticated_per_address: usize,
    #[arg(long, env = "OPENCLAW_WS_MAX_UNAUTHENTICATED", default_value_t = 2000)]
    pub ws_max_unauthenticated: usize,
    /// Frames per second one connection may send (sustained; bursts of twice that).
    #[arg(long, env = "OPENCLAW_WS_MESSAGES_PER_SECOND", default_value_t = 20)]
    pub ws_messages_per_second: u32,
}

impl WsArgs {
    pub fn config(&self) -> openclaw_api::config::WsConfig {
        let max = self.ws_max_message_bytes.max(1024);
        openclaw_api::config::WsConfig {
            max_message_bytes: max,
            hard_max_message_bytes: max.saturating_mul(4),
            auth_timeout: std::time::Duration::from_secs(self.ws_auth_timeout_secs.max(1)),
            ping_interval: std::time::Duration::from_secs(self.ws_ping_secs.max(1)),
            idle_timeout: std::time::Duration::from_secs(self.ws_idle_timeout_secs.max(2)),
            messages_per_second: self.ws_messages_per_second.max(1),
            message_burst: self.ws_messages_per_second.max(1).saturating_mul(2),
            max_unauthenticated_per_address: self.ws_max_unauthenticated_per_address.max(1),
            max_unauthenticated: self.ws_max_unauthenticated.max(1),
            ..Default::default()
        }
    }
}
