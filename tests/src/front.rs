//! A front for mock-llm that answers `GET /v1/models` with a listing of the test's choosing and
//! passes every other request on, streamed as it arrives: a deployment refuses a model its
//! upstream does not list, and the seeds name models mock-llm does not (`qwen3.5-plus`,
//! `claude-3-5-sonnet`).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::Value;
use tokio::task::JoinHandle;

#[derive(Clone)]
struct Front {
    upstream: String,
    listing: Value,
}

/// Serves `listing` at `/v1/models` and forwards the rest to `upstream` (a base URL).
pub async fn listing_front(upstream: String, listing: Value) -> (JoinHandle<()>, SocketAddr) {
    async fn models(State(front): State<Front>) -> axum::Json<Value> {
        axum::Json(front.listing)
    }
    async fn forward(State(front): State<Front>, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{path}", front.upstream);
        let mut up = reqwest::Client::new().request(parts.method, url);
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                up = up.header(name, value);
            }
        }
        let resp = up.body(body).send().await.expect("the upstream answers");
        let mut out = Response::builder().status(resp.status());
        for (name, value) in resp.headers() {
            if name != "content-length" && name != "transfer-encoding" {
                out = out.header(name, value);
            }
        }
        // Streamed on as it arrives, so that the gateway sees the mock's SSE as it is sent.
        let chunks = futures::stream::unfold(resp, |mut resp| async move {
            match resp.chunk().await {
                Ok(Some(chunk)) => Some((Ok::<_, reqwest::Error>(chunk), resp)),
                Ok(None) => None,
                Err(e) => Some((Err(e), resp)),
            }
        });
        out.body(Body::from_stream(chunks)).unwrap()
    }
    let router = axum::Router::new()
        .route("/v1/models", axum::routing::get(models))
        .fallback(forward)
        .with_state(Front { upstream, listing });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (task, addr)
}
