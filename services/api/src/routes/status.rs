//! The status pages, one tenant's view of the gateway. Three seeds document the path with
//! different shapes (API.md §1): `/v1/status` is S2's sections; `/api/v1/status` is S0's
//! envelope with S2's sections beside it (a superset: each client finds what it reads); the bare
//! `/status` is S4's. S2's sections are gathered once; S0's are taken from them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use axum::{Extension, Json};
use serde::Serialize;

use crate::auth::Authenticated;
use crate::config::VERSION;
use crate::dialect::Dialect;
use crate::state::AppState;

/// S2's sections, gathered for the caller's tenant. A database hiccup leaves the counters at
/// zero and the memory section out, not the status.
async fn gather(state: &AppState, auth: &Authenticated) -> S2Status {
    let config = state.config();
    let rate_limits = match state.redis() {
        None => "disabled",
        Some(r) if r.is_degraded() => "degraded",
        Some(_) => "ok",
    };
    let providers = state.runs().providers();
    let primary = providers.default_model();
    let store = state.store();
    let (counts, memory) = tokio::join!(
        store.status_counts(auth.tenant_id),
        store.memory_stats(auth.tenant_id)
    );
    let counts = counts.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "status counters unavailable");
        Default::default()
    });
    let memory = memory
        .map_err(|e| tracing::warn!(error = %e, "memory stats unavailable for the status"))
        .ok()
        .map(|s| Memory {
            wal_entries: s.wal_entries,
            compacted_files: s.compacted_entries,
            total_size_mb: crate::dialect::s2::mb(s.wal_bytes + s.compacted_bytes),
            last_compaction: s.last_compaction,
        });
    S2Status {
        status: "running",
        version: VERSION,
        uptime_seconds: state.uptime().as_secs(),
        gateway: S2Gateway {
            port: state.port(),
            bind: config.bind.to_string(),
            auth_enabled: true,
            rate_limits,
        },
        reasoning: Reasoning {
            primary_provider: primary.provider.clone(),
            primary_model: primary.model.clone(),
            total_requests: counts.requests_total,
            avg_latency_ms: counts.avg_latency_ms.map(|ms| ms.round() as i64),
        },
        memory,
        skills: Skills {
            installed: counts.skills_installed,
            active: counts.skills_enabled,
            container_engine: "none",
            rootless: true,
        },
        channels: Channels::default(),
        models: Models {
            available: providers.models().await.len(),
            default: auth
                .default_model
                .clone()
                .unwrap_or_else(|| primary.to_string()),
        },
        sessions: Sessions {
            active: counts.sessions_active,
            total: counts.sessions_total,
        },
        tenant: Tenant {
            id: auth.tenant_id.to_string(),
            name: auth.tenant_name.clone(),
            tier: auth.tier.as_str(),
            limits: auth.limits,
        },
    }
}

// S2's sections.

#[derive(Serialize)]
struct S2Status {
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    gateway: S2Gateway,
    reasoning: Reasoning,
    memory: Option<Memory>,
    skills: Skills,
    channels: Channels,
    /// S0's two sections that do not collide with S2's, so `/v1` clients see them too.
    models: Models,
    sessions: Sessions,
    tenant: Tenant,
}

#[derive(Serialize)]
struct S2Gateway {
    port: u16,
    bind: String,
    auth_enabled: bool,
    rate_limits: &'static str,
}

#[derive(Serialize)]
struct Reasoning {
    primary_provider: String,
    primary_model: String,
    total_requests: i64,
    avg_latency_ms: Option<i64>,
}

#[derive(Serialize)]
struct Memory {
    wal_entries: i64,
    compacted_files: i64,
    total_size_mb: f64,
    last_compaction: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize)]
struct Skills {
    installed: i64,
    active: i64,
    /// Skills are built in or called over HTTP: no container engine runs them.
    container_engine: &'static str,
    rootless: bool,
}

/// Channel types by state; empty until the tenant connects channels.
#[derive(Serialize, Default)]
struct Channels {
    connected: Vec<String>,
    disconnected: Vec<String>,
}

#[derive(Serialize, Clone)]
struct Models {
    available: usize,
    default: String,
}

#[derive(Serialize, Clone)]
struct Sessions {
    active: i64,
    total: i64,
}

#[derive(Serialize)]
struct Tenant {
    id: String,
    name: String,
    tier: &'static str,
    limits: openclaw_domain::Limits,
}

// S0's envelope around its three sections, S2's sections beside it.

#[derive(Serialize)]
struct GatewayStatus {
    success: bool,
    data: S0Data,
    #[serde(flatten)]
    s2: S2Status,
}

#[derive(Serialize)]
struct S0Data {
    gateway: S0Gateway,
    models: Models,
    sessions: Sessions,
}

#[derive(Serialize)]
struct S0Gateway {
    status: &'static str,
    version: &'static str,
    uptime: u64,
}

// S4's shape.

#[derive(Serialize)]
struct S4Status {
    status: &'static str,
    version: &'static str,
    uptime: u64,
    gateway: S4Gateway,
    /// `{<type>: <state>}`; empty until the tenant connects channels.
    channels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct S4Gateway {
    port: u16,
    bind: String,
    auth: &'static str,
}

/// `GET /v1/status` (S2's sections) and `GET /api/v1/status` (S0's envelope beside them, its
/// sections taken from S2's).
pub async fn status(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
) -> Response {
    let s2 = gather(&state, &auth).await;
    match dialect {
        Dialect::Hosted => Json(s2).into_response(),
        Dialect::Gateway => Json(GatewayStatus {
            success: true,
            data: S0Data {
                gateway: S0Gateway {
                    status: s2.status,
                    version: s2.version,
                    uptime: s2.uptime_seconds,
                },
                models: s2.models.clone(),
                sessions: s2.sessions.clone(),
            },
            s2,
        })
        .into_response(),
    }
}

/// S2's sections as JSON, for the WebSocket's `system.status`.
pub async fn s2_status(state: &AppState, auth: &Authenticated) -> serde_json::Value {
    serde_json::to_value(gather(state, auth).await).unwrap_or_default()
}

/// `GET /status`: S4's shape, which needs nothing from the database.
pub async fn s4_status(State(state): State<AppState>, _auth: Authenticated) -> Response {
    let config = state.config();
    Json(S4Status {
        status: "ok",
        version: VERSION,
        uptime: state.uptime().as_secs(),
        gateway: S4Gateway {
            port: state.port(),
            bind: config.bind.to_string(),
            auth: "token",
        },
        channels: BTreeMap::new(),
    })
    .into_response()
}

/// `/status` (S2's sections; under `/api/v1` with S0's envelope beside them).
pub fn router() -> Router<AppState> {
    Router::new().route("/status", get(status))
}
