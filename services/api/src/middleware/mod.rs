//! The request pipeline, outermost first: request id → metrics and logs → `/api/v1`'s flat
//! errors → error normaliser →
//! timeout → (tenant routes) auth → rate limit and concurrency permit → handler.

pub mod auth;
pub mod envelope;
pub mod gateway_errors;
pub mod normalise;
pub mod rate_limit;
pub mod request_id;
pub mod telemetry;
pub mod timeout;

use axum::body::HttpBody;
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;

/// Whether a response's body is JSON (the layers that reshape bodies leave the rest alone).
pub(crate) fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// Whether a response's whole body is known to be at most `max` bytes, so that buffering it to
/// reshape it can neither fail half-way nor hold a stream: anything else passes through as is.
pub(crate) fn fits(resp: &Response, max: usize) -> bool {
    resp.body()
        .size_hint()
        .upper()
        .is_some_and(|n| n <= max as u64)
}
