//! Errors produced below our handlers (axum's 405, tower-http's 413, a panic's 500, …) come
//! with plain-text or empty bodies; this rewrites any non-JSON error into the contract's shape.

use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openclaw_domain::{Error, ErrorKind};

use crate::error::ApiError;

pub async fn layer(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    if super::is_json(&resp) {
        return resp;
    }
    let kind = ErrorKind::from_status(status.as_u16());
    let message = match kind {
        ErrorKind::MethodNotAllowed => "method not allowed on this route".to_string(),
        ErrorKind::PayloadTooLarge => "request body is too large".to_string(),
        ErrorKind::NotFound => "no such route".to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (mut parts, _) = resp.into_parts();
    let mut fresh = ApiError(Error::new(kind, message)).into_response();
    // Keep what the inner layer said besides the body (Allow on a 405, rate-limit headers).
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    for (name, value) in parts.headers.iter() {
        fresh.headers_mut().insert(name, value.clone());
    }
    *fresh.status_mut() = status;
    fresh.extensions_mut().extend(parts.extensions);
    fresh
}
