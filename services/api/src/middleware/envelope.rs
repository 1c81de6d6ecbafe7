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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::CONTENT_TYPE;
    use axum::response::IntoResponse;

    async fn body_of(resp: Response) -> String {
        String::from_utf8(
            to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn small_json_is_wrapped() {
        let resp = wrap(axum::Json(json!({"text": "hi"})).into_response()).await;
        let wrapped: Value = serde_json::from_str(&body_of(resp).await).unwrap();
        assert_eq!(wrapped, json!({"success": true, "data": {"text": "hi"}}));
    }

    #[tokio::test]
    async fn a_body_too_large_or_of_unknown_size_passes_through_whole() {
        let big = format!("{{\"text\":\"{}\"}}", "x".repeat(MAX_WRAPPED));
        let mut resp = Response::new(Body::from(big.clone()));
        resp.headers_mut()
            .insert(CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(body_of(wrap(resp).await).await.len(), big.len());

        let chunks = futures::stream::iter([Ok::<_, std::io::Error>("{\"a\":"), Ok("1}")]);
        let mut resp = Response::new(Body::from_stream(chunks));
        resp.headers_mut()
            .insert(CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(body_of(wrap(resp).await).await, r#"{"a":1}"#);
    }
}
