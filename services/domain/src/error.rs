//! The error kinds of the contract (API.md §3). The HTTP layer renders them; everything below
//! it speaks only in these kinds, so a status code is decided in exactly one table.

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Timeout,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    IdempotencyMismatch,
    RateLimited,
    Internal,
    Upstream,
    Unavailable,
    /// The model provider (or another upstream) did not answer in time.
    UpstreamTimeout,
}

impl ErrorKind {
    /// (HTTP status, `code`, `type`) — the table of API.md §3.
    pub fn parts(self) -> (u16, &'static str, &'static str) {
        match self {
            ErrorKind::InvalidRequest => (400, "invalid_request", "invalid_request_error"),
            ErrorKind::Unauthorized => (401, "unauthorized", "authentication_error"),
            ErrorKind::Forbidden => (403, "forbidden", "permission_error"),
            ErrorKind::NotFound => (404, "not_found", "not_found_error"),
            ErrorKind::MethodNotAllowed => (405, "method_not_allowed", "invalid_request_error"),
            ErrorKind::Timeout => (408, "timeout", "timeout_error"),
            ErrorKind::Conflict => (409, "conflict", "invalid_request_error"),
            ErrorKind::PayloadTooLarge => (413, "payload_too_large", "invalid_request_error"),
            ErrorKind::UnsupportedMediaType => {
                (415, "unsupported_media_type", "invalid_request_error")
            }
            ErrorKind::IdempotencyMismatch => {
                (422, "idempotency_mismatch", "invalid_request_error")
            }
            ErrorKind::RateLimited => (429, "rate_limited", "rate_limit_error"),
            ErrorKind::Internal => (500, "internal_error", "api_error"),
            ErrorKind::Upstream => (502, "upstream_error", "api_error"),
            ErrorKind::Unavailable => (503, "service_unavailable", "api_error"),
            ErrorKind::UpstreamTimeout => (504, "upstream_timeout", "api_error"),
        }
    }

    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::InvalidRequest,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::Timeout,
        ErrorKind::Conflict,
        ErrorKind::PayloadTooLarge,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::IdempotencyMismatch,
        ErrorKind::RateLimited,
        ErrorKind::Internal,
        ErrorKind::Upstream,
        ErrorKind::Unavailable,
        ErrorKind::UpstreamTimeout,
    ];

    /// The kind whose `code` this is (a stored error names its code, not its kind).
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.parts().1 == code)
    }

    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::MethodNotAllowed,
            408 => ErrorKind::Timeout,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::PayloadTooLarge,
            415 => ErrorKind::UnsupportedMediaType,
            422 => ErrorKind::IdempotencyMismatch,
            429 => ErrorKind::RateLimited,
            502 => ErrorKind::Upstream,
            503 => ErrorKind::Unavailable,
            504 => ErrorKind::UpstreamTimeout,
            s if (400..500).contains(&s) => ErrorKind::InvalidRequest,
            _ => ErrorKind::Internal,
        }
    }
}

/// An error a client may see: kind, a human message, the offending field, extra details.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub param: Option<String>,
    pub details: Value,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            param: None,
            details: Value::Object(Default::default()),
        }
    }

    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            param: Some(param.into()),
            ..Error::new(ErrorKind::InvalidRequest, message)
        }
    }

    pub fn not_found(what: &str) -> Self {
        Error::new(ErrorKind::NotFound, format!("{what} not found"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Forbidden, message)
    }

    pub fn internal() -> Self {
        Error::new(ErrorKind::Internal, "internal error")
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (status, code, _) = self.kind.parts();
        write!(f, "{status} {code}: {}", self.message)?;
        if let Some(p) = &self.param {
            write!(f, " (param `{p}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn status_and_code_each_name_one_kind() {
        for kind in ErrorKind::ALL {
            let (status, code, _) = kind.parts();
            assert_eq!(ErrorKind::from_status(status), kind, "{status}");
            assert_eq!(ErrorKind::from_code(code), Some(kind), "{code}");
        }
        assert_eq!(ErrorKind::from_code("cancelled"), None);
    }
}
