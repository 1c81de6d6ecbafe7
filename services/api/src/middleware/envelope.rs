//! The S0 envelope: under `/api/v1`, routes that only S0 documents answer
//! `{"success":true,"data":…}`; their errors, like every error there, take S2's flat shape
//! (`gateway_errors`). A wrapper over the ordinary JSON response, so the handlers stay
//! dialect-free.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Value};

/// Larger JSON bodies than this are passed through unwrapped rather than buffered twice.
const MAX_WRAPPED: usize = 16 * 1024 * 1024;

/// Set on a response by a handler whose route serves several seeds (`/api/v1/message`: S0's
/// `text` and S2's `message`) when it answered as S0.
#[derive(Debug, Clone, Copy)]
pub struct Enveloped;

/// For routes only S0 documents: every JSON answer is wrapped.
pub async fn layer(req: Request, next: Next) -> Response {
    wrap(next.run(req).await).await
}

/// For routes several seeds share: wraps only answers marked `Enveloped`.
pub async fn when_marked(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.extensions().get::<Enveloped>().is_some() {
        wrap(resp).await
    } else {
        resp
    }
}

async fn wrap(resp: Response) -> Response {
    // SSE and friends are not enveloped, nor is a body too large to buffer (it passes through
    // as it is); errors are `gateway_errors`' to shape.
    if !super::is_json(&resp) || !resp.status().is_success() || !super::fits(&resp, MAX_WRAPPED) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_WRAPPED).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let wrapped = json!({"success": true, "data": value});
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(wrapped.to_string()))
}
