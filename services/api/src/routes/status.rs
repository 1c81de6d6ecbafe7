//! `GET /v1/status` (also `/status`, `/api/v1/status`): S2's sections as seen by one tenant.
//! Sections owned by later features (reasoning, skills, channels) join as they land.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Authenticated;
use crate::config::VERSION;
use crate::state::AppState;

pub async fn status(State(state): State<AppState>, auth: Authenticated) -> Json<Value> {
    let config = state.config();
    let redis = match state.redis() {
        None => "disabled",
        Some(r) if r.is_degraded() => "degraded",
        Some(_) => "ok",
    };
    // S2's summary of the memory system; a database hiccup leaves it out, not the status.
    let memory = match state.store().memory_stats(auth.tenant_id).await {
        Ok(s) => json!({
            "wal_entries": s.wal_entries,
            "compacted_files": s.compacted_entries,
            "total_size_mb": crate::routes::memory::mb(s.wal_bytes + s.compacted_bytes),
            "last_compaction": s.last_compaction,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "memory stats unavailable for the status");
            Value::Null
        }
    };
    Json(json!({
        "status": "running",
        "version": VERSION,
        "uptime_seconds": state.uptime().as_secs(),
        "gateway": {
            "port": config.port,
            "bind": config.bind.to_string(),
            "auth_enabled": true,
            "rate_limits": redis,
        },
        "memory": memory,
        "tenant": {
            "id": auth.tenant_id,
            "name": auth.tenant_name,
            "tier": auth.tier,
            "limits": auth.limits,
        },
    }))
}
