//! S2's status sections (`/v1/status`, beside S0's envelope under `/api/v1`, and the WebSocket's
//! `system.status`).

use serde::Serialize;

#[derive(Serialize)]
pub struct Status {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub gateway: StatusGateway,
    pub reasoning: Reasoning,
    pub memory: Option<StatusMemory>,
    pub skills: StatusSkills,
    pub channels: StatusChannels,
    /// S0's two sections that do not collide with S2's, so `/v1` clients see them too.
    pub models: StatusModels,
    pub sessions: StatusSessions,
    pub tenant: StatusTenant,
}

#[derive(Serialize)]
pub struct StatusGateway {
    pub port: u16,
    pub bind: String,
    pub auth_enabled: bool,
    pub rate_limits: &'static str,
}

#[derive(Serialize)]
pub struct Reasoning {
    pub primary_provider: String,
    pub primary_model: String,
    pub total_requests: i64,
    pub avg_latency_ms: Option<i64>,
}

#[derive(Serialize)]
pub struct StatusMemory {
    pub wal_entries: i64,
    pub compacted_files: i64,
    pub total_size_mb: f64,
    pub last_compaction: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize)]
pub struct StatusSkills {
    pub installed: i64,
    pub active: i64,
    /// Skills are built in or called over HTTP: no container engine runs them.
    pub container_engine: &'static str,
    pub rootless: bool,
}

/// Channel types by state; empty until the tenant connects channels.
#[derive(Serialize, Default)]
pub struct StatusChannels {
    pub connected: Vec<String>,
    pub disconnected: Vec<String>,
}

#[derive(Serialize, Clone)]
pub struct StatusModels {
    pub available: usize,
    pub default: String,
}

#[derive(Serialize, Clone)]
pub struct StatusSessions {
    pub active: i64,
    pub total: i64,
}

#[derive(Serialize)]
pub struct StatusTenant {
    pub id: String,
    pub name: String,
    pub tier: &'static str,
    pub limits: openclaw_domain::Limits,
}
