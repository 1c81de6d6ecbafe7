//! Applies the tenant's rate limit and concurrency cap, and puts the limit headers of API.md §4
//! (`X-RateLimit-*`, IETF `RateLimit-Policy`/`RateLimit`, `Retry-After` on 429) on every
//! authenticated response.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use openclaw_domain::{Error, ErrorKind};
use serde_json::json;

use crate::auth::{Authenticated, PermitSlot, TierTag};
use crate::error::ApiError;
use crate::limits::Decision;
use crate::state::AppState;

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn set_headers(headers: &mut HeaderMap, d: &Decision) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // On a 429 the useful moment is when the next request passes, not when the burst refills.
    let until = if d.allowed {
        d.reset_after
    } else {
        d.retry_after
    };
    let reset_unix = ceil_secs(now + until);
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("x-ratelimit-limit", d.limit_per_hour.to_string());
    put("x-ratelimit-remaining", d.remaining.to_string());
    put("x-ratelimit-reset", reset_unix.to_string());
    put(
        "ratelimit-policy",
        format!("\"hourly\";q={};w=3600;burst={}", d.limit_per_hour, d.burst),
    );
    put(
        "ratelimit",
        format!("\"hourly\";r={};t={}", d.remaining, ceil_secs(until)),
    );
    if !d.allowed {
        put("retry-after", ceil_secs(d.retry_after).max(1).to_string());
    }
}

/// The 429 of a request over the tenant's rate (HTTP, and WebSocket requests, which count the
/// same): when to retry, in the message and in `details`.
pub fn rate_exceeded(decision: &Decision) -> Error {
    let wait = ceil_secs(decision.retry_after).max(1);
    let reset_at: DateTime<Utc> =
        Utc::now() + chrono::Duration::from_std(decision.retry_after).unwrap_or_default();
    Error::new(
        ErrorKind::RateLimited,
        format!(
            "Rate limit exceeded. Try again in {wait} second{}.",
            if wait == 1 { "" } else { "s" }
        ),
    )
    .with_details(json!({
        "limit": decision.limit_per_hour,
        "remaining": 0,
        "reset_at": reset_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "retry_after": wait,
    }))
}

/// The 429 of a request over the tenant's concurrent requests (`cap`).
pub fn too_many_concurrent(cap: u32) -> Error {
    Error::new(
        ErrorKind::RateLimited,
        format!("Too many concurrent requests: at most {cap} at a time. Retry when one finishes."),
    )
    .with_details(json!({"concurrent_limit": cap}))
}

pub async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(auth) = req.extensions().get::<Authenticated>().cloned() else {
        return ApiError::internal("rate limit layer ran before auth").into_response();
    };
    let decision = state.limiter().check(auth.tenant_id, &auth.limits).await;
    if let Some(used) = decision.tokens_used {
        state.runs().quota().observe(auth.tenant_id, used);
    }
    if !decision.allowed {
        metrics::counter!("openclaw_rate_limited_total", "tier" => auth.tier.as_str(), "kind" => "rate")
            .increment(1);
        let mut resp = ApiError(rate_exceeded(&decision)).into_response();
        set_headers(resp.headers_mut(), &decision);
        resp.extensions_mut().insert(TierTag(auth.tier));
        return resp;
    }
    // Stopping a run frees a slot: a tenant at its cap must still be able to.
    let stops_a_run = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str().ends_with("/runs/{id}/abort"));
    let permit = match state
        .limiter()
        .try_acquire(auth.tenant_id, auth.limits.concurrent_requests)
    {
        Some(permit) => Some(permit),
        None if stops_a_run => None,
        None => {
            metrics::counter!("openclaw_rate_limited_total", "tier" => auth.tier.as_str(), "kind" => "concurrency")
                .increment(1);
            let err = too_many_concurrent(auth.limits.concurrent_requests);
            let mut resp = ApiError(err).into_response();
            set_headers(resp.headers_mut(), &decision);
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            resp.extensions_mut().insert(TierTag(auth.tier));
            return resp;
        }
    };
    // Handlers that report limits in their own dialect (OpenAI's `x-ratelimit-*-requests`)
    // read this request's verdict rather than checking again.
    req.extensions_mut().insert(decision);
    // A run the handler starts takes the permit over and holds it until it ends, so a stream,
    // or a run that goes on after its request answered 408, still counts.
    let slot = permit
        .map(|p| PermitSlot::holding(std::sync::Arc::new(p)))
        .unwrap_or_default();
    if let Some(a) = req.extensions_mut().get_mut::<Authenticated>() {
        a.permit = slot.clone();
    }
    let mut resp = next.run(req).await;
    drop(slot.take());
    set_headers(resp.headers_mut(), &decision);
    resp
}
