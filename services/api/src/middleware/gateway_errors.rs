//! Errors under `/api/v1` in S2's flat shape (API.md §3): `error` is the code as a string, with
//! `code`, `message`, `status`, `type`, `param`, `details`, `request_id` and S0's `success`
//! beside it. `/v1` keeps the nested shape that S1, S4 and the OpenAI SDKs read.
//!
//! A layer over the finished response, outside the error normaliser, so every error of the
//! prefix is covered (a handler's, auth's, the rate limiter's, an unknown route's, a 413's).

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Map, Value};

/// Error bodies are small; anything larger is not one of ours and passes through.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn layer(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let gateway = path == "/api/v1" || path.starts_with("/api/v1/");
    let resp = next.run(req).await;
    let status = resp.status();
    if !gateway || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    if !super::is_json(&resp) || !super::fits(&resp, MAX_ERROR_BODY) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Some(flat) = flatten(&bytes, status.as_u16()) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(flat))
}

/// `{"error":{code,message,type,param,details,request_id}}` → the flat shape; `None` for a body
/// that is not the nested error shape.
fn flatten(bytes: &[u8], status: u16) -> Option<String> {
    let Value::Object(mut body) = serde_json::from_slice::<Value>(bytes).ok()? else {
        return None;
    };
    let Some(Value::Object(nested)) = body.remove("error") else {
        return None;
    };
    let mut flat = Map::with_capacity(nested.len() + 3);
    flat.insert("success".into(), Value::Bool(false));
    flat.insert("error".into(), nested.get("code").cloned()?);
    flat.insert("status".into(), status.into());
    flat.extend(nested);
    Some(Value::Object(flat).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_nested_error_becomes_s2s_flat_shape() {
        let nested = json!({"error": {"code": "rate_limited", "message": "slow down",
            "type": "rate_limit_error", "param": null,
            "details": {"limit": 60, "remaining": 0, "reset_at": "2026-03-20T15:31:00Z"},
            "request_id": "req_1"}});
        let flat: Value =
            serde_json::from_str(&flatten(nested.to_string().as_bytes(), 429).unwrap()).unwrap();
        assert_eq!(
            flat,
            json!({"success": false, "error": "rate_limited", "code": "rate_limited",
                "status": 429, "message": "slow down", "type": "rate_limit_error",
                "param": null,
                "details": {"limit": 60, "remaining": 0, "reset_at": "2026-03-20T15:31:00Z"},
                "request_id": "req_1"})
        );
    }

    #[test]
    fn bodies_that_are_not_the_nested_shape_pass_through() {
        assert!(flatten(br#"{"error":"already_flat"}"#, 400).is_none());
        assert!(flatten(b"[1,2]", 400).is_none());
        assert!(flatten(b"not json", 400).is_none());
    }
}
