//! The request timeout (API.md §4: 300 s by default → 408 in the error shape). It bounds the
//! time to produce a response; a streaming body, once started, is not cut by it.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openclaw_domain::ErrorKind;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config().request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            ErrorKind::Timeout,
            format!("request did not complete within {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}
