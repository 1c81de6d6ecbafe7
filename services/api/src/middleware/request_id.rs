//! `x-request-id`: propagated when the client (or a proxy) sent a sane one, generated
//! otherwise, echoed on every response and available to error bodies through `crate::context`.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

pub const HEADER: &str = "x-request-id";

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
    let mut resp = crate::context::with_request_id(id, next.run(req)).await;
    resp.headers_mut().insert(HEADER, value);
    resp
}
