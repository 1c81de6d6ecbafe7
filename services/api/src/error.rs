//! `ApiError`: the one error type handlers return, rendered in the contract's shape (API.md §3)
//! with the request id. Internal causes are logged here and never sent to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openclaw_domain::{Error, ErrorKind};
use openclaw_store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError(Error::new(kind, message))
    }

    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError(Error::invalid(param, message))
    }

    pub fn not_found(what: &str) -> Self {
        ApiError(Error::not_found(what))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError(Error::internal())
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.0.param = Some(param.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(e.to_error("storage failed"))
    }
}

/// The contract's error body.
pub fn error_body(e: &Error) -> serde_json::Value {
    let (_, code, kind) = e.kind.parts();
    json!({"error": {
        "code": code,
        "message": e.message,
        "type": kind,
        "param": e.param,
        "details": e.details,
        "request_id": crate::context::request_id(),
    }})
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _, _) = self.0.kind.parts();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(error_body(&self.0))).into_response();
        // A 503 says when to come back (API.md §3), as a 429 does.
        if self.0.kind == openclaw_domain::ErrorKind::Unavailable {
            let wait = self.0.details["retry_after"].as_u64().unwrap_or(1).max(1);
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, wait.into());
        }
        // Lets the metrics and logging layers tell an error kind without parsing the body.
        resp.extensions_mut().insert(self.0.kind);
        resp
    }
}
