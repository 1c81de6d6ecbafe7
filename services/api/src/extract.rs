//! Extractors whose rejections speak the contract: bad JSON, unknown fields (never
//! mass-assignable), wrong content type and oversize bodies all become `ApiError`s naming the
//! offending field where there is one.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use openclaw_domain::ErrorKind;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// JSON body. An empty body reads as `{}` so that POSTs whose fields are all optional work
/// without one (curl -X POST).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_json_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if mime == "application/json" || mime.ends_with("+json") {
                    Some(true)
                } else if mime == "application/x-www-form-urlencoded" {
                    // What `curl -d '{…}'` sends when no Content-Type is given, as in S3's
                    // spawn example: JSON if it looks like JSON.
                    None
                } else {
                    Some(false)
                }
            })
            // No Content-Type at all: read it as JSON, and say what is wrong with it if not.
            .unwrap_or(Some(true));
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::new(ErrorKind::PayloadTooLarge, "request body is too large")
            }
            other => ApiError::new(ErrorKind::InvalidRequest, other.body_text()),
        })?;
        let looks_like_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let refused = match has_json_type {
            Some(json) => !json,
            None => !looks_like_json,
        };
        if !bytes.is_empty() && refused {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                "request bodies must be JSON: send `Content-Type: application/json`",
            ));
        }
        let body: &[u8] = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => b"{}",
            Some(b'{') => &bytes,
            // serde would fill a struct from an array by position, around the unknown-field
            // check: every request body of this API is an object.
            Some(_) => {
                return Err(ApiError::new(
                    ErrorKind::InvalidRequest,
                    "request body must be a JSON object",
                ));
            }
        };
        parse_json(body).map(ApiJson)
    }
}

/// Parses JSON, turning serde's message into a contract error with `param` set.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::new(
                    ErrorKind::InvalidRequest,
                    format!("request body is not valid JSON: {inner}"),
                )
            }
            _ => invalid_at(&path, inner.to_string()),
        }
    })
}

/// A 400 naming the field at `path` (serde_path_to_error's rendering; `.` is the top level,
/// where serde's own message names any unknown field).
fn invalid_at(path: &str, message: String) -> ApiError {
    let param = if path != "." && !path.is_empty() {
        path.to_string()
    } else if message.starts_with("unknown field") {
        message.split('`').nth(1).unwrap_or_default().to_string()
    } else {
        String::new()
    };
    if param.is_empty() {
        ApiError::new(ErrorKind::InvalidRequest, message)
    } else {
        ApiError::invalid(param, message)
    }
}

/// Query string, with unknown or malformed parameters as 400s.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                invalid_at(&path, format!("invalid query string: {}", err.into_inner()))
            })
    }
}
