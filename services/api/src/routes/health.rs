//! Liveness and readiness, unauthenticated by design (load balancers and probes call them).

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::config::VERSION;
use crate::state::{AppState, Checks};

/// Liveness: the process serves. S2's shape.
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"status": "ok", "version": VERSION, "uptime_seconds": state.uptime().as_secs()}))
}

/// How long a readiness check is reused: probes from every load balancer and kubelet must not
/// each cost a Postgres and a Redis round trip.
const CHECKS_FRESH: Duration = Duration::from_secs(1);

/// The dependencies' state, checked at most once a second (callers meanwhile share the last
/// answer; one refreshes it while the others wait for that).
async fn checks(state: &AppState) -> Checks {
    let mut last = state.readiness().lock().await;
    if let Some(c) = *last {
        if c.at.elapsed() < CHECKS_FRESH {
            return c;
        }
    }
    let pg = tokio::time::timeout(Duration::from_secs(2), state.store().ping()).await;
    let redis = match state.redis() {
        None => "disabled",
        Some(r) if r.ping().await.is_ok() => "ok",
        Some(_) => "down",
    };
    let c = Checks {
        at: Instant::now(),
        postgres: matches!(pg, Ok(Ok(()))),
        redis,
    };
    *last = Some(c);
    c
}

/// Readiness: Postgres must answer (it is the system of record); Redis down only degrades
/// (limits and fan-out fall back to local). A draining replica reports 503 so it leaves the
/// load balancer before it stops.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let Checks {
        postgres, redis, ..
    } = checks(&state).await;
    let (code, status) = if state.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else if !postgres {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    } else if redis == "down" {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "ready")
    };
    let body = json!({
        "status": status,
        "checks": {"postgres": if postgres { "ok" } else { "down" }, "redis": redis},
    });
    (code, Json(body))
}
