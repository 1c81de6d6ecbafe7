//! `POST /v1/auth/tokens`: short-lived JWTs for browsers and WebSocket clients, minted from an
//! API key and never wider than it.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use axum::Router;
use openclaw_domain::Error;
use serde::Deserialize;
use serde_json::{json, Value};

use super::requested_scopes;
use crate::auth::{Authenticated, CredentialKind};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(
        default,
        alias = "ttlSeconds",
        alias = "expires_in",
        alias = "expiresIn"
    )]
    ttl_seconds: Option<u64>,
    /// Limits the token to one session.
    #[serde(
        default,
        alias = "sessionKey",
        alias = "session_key",
        alias = "sessionId"
    )]
    session_id: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if auth.via == CredentialKind::Jwt {
        return Err(ApiError(Error::forbidden(
            "tokens are minted with an API key, not with another token",
        )));
    }
    let config = state.config();
    let scopes = match req.scopes.as_deref().map(requested_scopes).transpose()? {
        None => auth.scopes,
        Some(set) if set.is_subset_of(auth.scopes) => set,
        Some(_) => {
            return Err(ApiError::invalid(
                "scopes",
                "scopes must be a subset of the key's scopes",
            ));
        }
    };
    let ttl = Duration::from_secs(req.ttl_seconds.unwrap_or(config.jwt_default_ttl.as_secs()));
    if ttl.is_zero() || ttl > config.jwt_max_ttl {
        return Err(ApiError::invalid(
            "ttl_seconds",
            format!(
                "`ttl_seconds` must be between 1 and {}",
                config.jwt_max_ttl.as_secs()
            ),
        ));
    }
    if let Some(s) = &req.session_id {
        if s.is_empty() || s.len() > 200 {
            return Err(ApiError::invalid(
                "session_id",
                "`session_id` must be 1 to 200 characters",
            ));
        }
    }
    let (token, expires_at) = state.auth().jwt().mint(
        auth.tenant_id,
        auth.key_id,
        scopes,
        req.session_id.clone(),
        ttl,
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": token,
            "token_type": "Bearer",
            "expires_at": expires_at,
            "expires_in": ttl.as_secs(),
            "scopes": scopes,
            "session_id": req.session_id,
        })),
    ))
}

/// Short-lived tokens minted from a key.
pub fn router() -> Router<AppState> {
    Router::new().route("/auth/tokens", post(create))
}
