//! The status pages, one tenant's view of the gateway. Three seeds document the path with
//! different shapes (API.md §1): `/v1/status` is S2's sections; `/api/v1/status` is S0's
//! envelope with S2's sections beside it (a superset: each client finds what it reads); the bare
//! `/status` is S4's. S2's sections are gathered once; S0's are taken from them.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use axum::{Extension, Json};

use crate::auth::Authenticated;
use crate::config::VERSION;
use crate::dialect::{s0, s2, s4, Dialect};
use crate::state::AppState;

/// S2's sections, gathered for the caller's tenant. A database hiccup leaves the counters at
/// zero and the memory section out, not the status.
pub async fn gather(state: &AppState, auth: &Authenticated) -> s2::Status {
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
        .map(|s| s2::StatusMemory {
            wal_entries: s.wal_entries,
            compacted_files: s.compacted_entries,
            total_size_mb: s2::mb(s.wal_bytes + s.compacted_bytes),
            last_compaction: s.last_compaction,
        });
    s2::Status {
        status: "running",
        version: VERSION,
        uptime_seconds: state.uptime().as_secs(),
        gateway: s2::StatusGateway {
            port: state.port(),
            bind: config.bind.to_string(),
            auth_enabled: true,
            rate_limits,
        },
        reasoning: s2::Reasoning {
            primary_provider: primary.provider.clone(),
            primary_model: primary.model.clone(),
            total_requests: counts.requests_total,
            avg_latency_ms: counts.avg_latency_ms.map(|ms| ms.round() as i64),
        },
        memory,
        skills: s2::StatusSkills {
            installed: counts.skills_installed,
            active: counts.skills_enabled,
            container_engine: "none",
            rootless: true,
        },
        channels: s2::StatusChannels::default(),
        models: s2::StatusModels {
            available: providers.models().await.len(),
            default: auth
                .default_model
                .clone()
                .unwrap_or_else(|| primary.to_string()),
        },
        sessions: s2::StatusSessions {
            active: counts.sessions_active,
            total: counts.sessions_total,
        },
        tenant: s2::StatusTenant {
            id: auth.tenant_id.to_string(),
            name: auth.tenant_name.clone(),
            tier: auth.tier.as_str(),
            limits: auth.limits,
        },
    }
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
        Dialect::Gateway => Json(s0::Status::of(s2)).into_response(),
    }
}

/// S2's sections as JSON, for the WebSocket's `system.status`.
pub async fn s2_status(state: &AppState, auth: &Authenticated) -> serde_json::Value {
    serde_json::to_value(gather(state, auth).await).unwrap_or_default()
}

/// `GET /status`: S4's shape, which needs nothing from the database.
pub async fn s4_status(State(state): State<AppState>, _auth: Authenticated) -> Response {
    let config = state.config();
    Json(s4::Status {
        status: "ok",
        version: VERSION,
        uptime: state.uptime().as_secs(),
        gateway: s4::StatusGateway {
            port: state.port(),
            bind: config.bind.to_string(),
            auth: "token",
        },
        channels: Default::default(),
    })
    .into_response()
}

/// `/status` (S2's sections; under `/api/v1` with S0's envelope beside them).
pub fn router() -> Router<AppState> {
    Router::new().route("/status", get(status))
}
