//! A tenant's own API keys: `POST/GET /v1/api-keys`, `GET/DELETE /v1/api-keys/{id}`, managed
//! with an API key (never a token) that has the `keys` scope. Issuing and revoking are shared
//! with the operator API, which calls `issue` and `revoke` for any tenant.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use chrono::{DateTime, Utc};
use openclaw_domain::{ApiKeyId, Scope, Scopes, TenantId};
use openclaw_store::redis::ControlMessage;
use openclaw_store::{Actor, NewApiKey};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_id, requested_scopes, valid_name};
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::views::{list, KeyView};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// Omitted: every tenant scope.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default, alias = "expiresAt")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Validates and issues a key for `tenant`. `grantable` bounds the scopes: a key can never be
/// used to make a more powerful one.
pub async fn issue(
    state: &AppState,
    actor: Actor,
    tenant: TenantId,
    req: NewKeyRequest,
    grantable: Scopes,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    let name = valid_name("name", req.name.as_deref().unwrap_or("default"))?;
    let scopes = req.scopes.as_deref().map(requested_scopes).transpose()?;
    let wanted = scopes.unwrap_or_else(Scopes::all_tenant);
    if !wanted.is_subset_of(grantable) {
        let missing: Vec<_> = wanted
            .iter()
            .filter(|s| !grantable.contains(*s))
            .map(Scope::as_str)
            .collect();
        return Err(ApiError::invalid(
            "scopes",
            format!(
                "cannot grant scopes this credential lacks: {}",
                missing.join(", ")
            ),
        ));
    }
    if req.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::invalid(
            "expires_at",
            "`expires_at` must be in the future",
        ));
    }
    let (key, secret) = state
        .store()
        .create_key(
            actor,
            NewApiKey {
                tenant,
                name: &name,
                scopes,
                expires_at: req.expires_at,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(KeyView::created(&key, &secret))))
}

/// Revokes and tells every replica. 404 when `tenant` has no such key.
pub async fn revoke(
    state: &AppState,
    actor: Actor,
    tenant: TenantId,
    raw_id: &str,
) -> ApiResult<Json<Value>> {
    let id: ApiKeyId = parse_id(raw_id, "API key")?;
    let key = state
        .store()
        .revoke_key(actor, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    state.announce(ControlMessage::KeyRevoked {
        key_id: key.id,
        key_hash: hex::encode(key.key_hash.0),
    });
    Ok(Json(
        json!({"id": key.id, "object": "api_key", "revoked": true, "revoked_at": key.revoked_at}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub include_revoked: bool,
}

pub async fn list_for(state: &AppState, tenant: TenantId, q: ListQuery) -> ApiResult<Json<Value>> {
    let keys = state.store().list_keys(tenant, q.include_revoked).await?;
    let views: Vec<KeyView> = keys.iter().map(KeyView::of).collect();
    Ok(Json(list(views, json!({"has_more": false}))))
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewKeyRequest>,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    auth.require_key("creating an API key")?;
    auth.require(Scope::Keys)?;
    issue(
        &state,
        Actor::Key(auth.key_id),
        auth.tenant_id,
        req,
        auth.scopes,
    )
    .await
}

pub async fn list_own(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    auth.require_key("listing API keys")?;
    auth.require(Scope::Keys)?;
    list_for(&state, auth.tenant_id, q).await
}

pub async fn get_own(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw_id): Path<String>,
) -> ApiResult<Json<KeyView>> {
    auth.require_key("reading an API key")?;
    auth.require(Scope::Keys)?;
    let id: ApiKeyId = parse_id(&raw_id, "API key")?;
    let key = state.store().get_key(auth.tenant_id, id).await?;
    key.map(|k| Json(KeyView::of(&k)))
        .ok_or_else(|| ApiError::not_found("API key"))
}

pub async fn revoke_own(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(raw_id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require_key("revoking an API key")?;
    auth.require(Scope::Keys)?;
    revoke(&state, Actor::Key(auth.key_id), auth.tenant_id, &raw_id).await
}

/// The tenant's own API keys.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-keys", post(create).get(list_own))
        .route("/api-keys/{id}", get(get_own).delete(revoke_own))
}
