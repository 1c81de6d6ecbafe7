//! `x-request-id`: propagated when the client (or a proxy) sent a sane one, generated
//! otherwise, echoed on every response and available to error bodies through a task-local.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, if called inside one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub fn generate() -> String {
    format!("req_{}", Uuid::now_v7().simple())
}

pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(generate);
    let value = HeaderValue::from_str(&id).expect("checked or generated ids are header-safe");
    req.headers_mut().insert(HEADER, value.clone());
    let mut resp = REQUEST_ID.scope(id, next.run(req)).await;
    resp.headers_mut().insert(HEADER, value);
    resp
}
