//! The operator API, `/admin/v1/tenants…` (API.md §7): create and list tenants, change tier,
//! limit overrides and status, issue and revoke any tenant's keys, read its audit log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use openclaw_domain::{LimitOverrides, ModelAllowList, Scopes, TenantId, TenantStatus, Tier};
use openclaw_store::redis::ControlMessage;
use openclaw_store::{Actor, TenantPatch, TenantRecord};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::keys::{self, ListQuery, NewKeyRequest};
use super::{parse_id, valid_name};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::views::{list, KeyView, TenantView};

fn parse_tier(raw: &str) -> ApiResult<Tier> {
    Tier::parse(raw)
        .ok_or_else(|| ApiError::invalid("tier", "`tier` must be one of free, pro, enterprise"))
}

async fn tenant(state: &AppState, raw_id: &str) -> ApiResult<TenantRecord> {
    let id: TenantId = parse_id(raw_id, "tenant")?;
    state
        .store()
        .get_tenant(id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    name: String,
    #[serde(default)]
    tier: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let name = valid_name("name", &req.name)?;
    let tier = req
        .tier
        .as_deref()
        .map(parse_tier)
        .transpose()?
        .unwrap_or_default();
    let t = state
        .store()
        .create_tenant(Actor::Operator, &name, tier)
        .await?;
    Ok((StatusCode::CREATED, Json(TenantView::of(&t))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    offset: Option<i64>,
}

pub async fn list_tenants(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Value>> {
    let (limit, offset) = super::page(page.limit, page.offset, 20, 100)?;
    let (tenants, total) = state.store().list_tenants(limit, offset).await?;
    let views: Vec<TenantView> = tenants.iter().map(TenantView::of).collect();
    let has_more = offset + (views.len() as i64) < total;
    Ok(Json(list(
        views,
        json!({"total": total, "limit": limit, "offset": offset, "has_more": has_more}),
    )))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TenantView>> {
    Ok(Json(TenantView::of(&tenant(&state, &id).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchTenant {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tier: Option<String>,
    /// A JSON merge patch of the overrides: a number sets one, `null` returns it to the tier's;
    /// `"limits": null` returns them all.
    #[serde(default, deserialize_with = "present")]
    limits: Option<Value>,
    #[serde(default)]
    status: Option<String>,
    /// `provider/model`, or `null` for the operator-wide default.
    #[serde(default, deserialize_with = "present")]
    default_model: Option<Value>,
    /// The models the tenant may name in place of its tier's list, or `null` for the tier's.
    #[serde(default, deserialize_with = "present")]
    allowed_models: Option<Value>,
}

/// Distinguishes `"limits": null` (present, `Some(Null)`) from an absent field (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PatchTenant>,
) -> ApiResult<Json<TenantView>> {
    if req.name.is_none()
        && req.tier.is_none()
        && req.limits.is_none()
        && req.status.is_none()
        && req.default_model.is_none()
        && req.allowed_models.is_none()
    {
        return Err(ApiError::new(
            openclaw_domain::ErrorKind::InvalidRequest,
            "nothing to change: send one or more of name, tier, limits, status, default_model, \
             allowed_models",
        ));
    }
    let current = tenant(&state, &id).await?;
    let overrides = match req.limits {
        None => None,
        Some(Value::Null) => Some(LimitOverrides::default()),
        Some(Value::Object(changes)) => {
            let mut merged = match serde_json::to_value(current.overrides) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            for (k, v) in changes {
                if v.is_null() {
                    merged.remove(&k);
                } else {
                    merged.insert(k, v);
                }
            }
            let o: LimitOverrides = serde_json::from_value(Value::Object(merged))
                .map_err(|e| ApiError::invalid("limits", format!("invalid limits: {e}")))?;
            o.validate().map_err(|field| {
                ApiError::invalid(format!("limits.{field}"), "limits must be at least 1")
            })?;
            Some(o)
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "limits",
                "`limits` must be an object or null",
            ));
        }
    };
    let status = req
        .status
        .as_deref()
        .map(|s| {
            TenantStatus::parse(s).ok_or_else(|| {
                ApiError::invalid("status", "`status` must be `active` or `suspended`")
            })
        })
        .transpose()?;
    let default_model = match req.default_model {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(m)) => {
            // Only a model this deployment can serve: a typo would break every run of the tenant.
            state
                .runs()
                .providers()
                .resolve(Some(&m))
                .map_err(|e| ApiError::invalid("default_model", e.message))?;
            Some(Some(m))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "default_model",
                "`default_model` must be a string or null",
            ));
        }
    };
    let allowed_models = match req.allowed_models {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Array(items)) => {
            let mut names = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) => names.push(s.to_string()),
                    None => {
                        return Err(ApiError::invalid(
                            format!("allowed_models[{i}]"),
                            "each entry is a string",
                        ))
                    }
                }
            }
            if names.len() > 100 {
                return Err(ApiError::invalid("allowed_models", "at most 100 entries"));
            }
            let list = ModelAllowList::parse(&names).map_err(|bad| {
                let i = names.iter().position(|n| n.trim() == bad).unwrap_or(0);
                ApiError::invalid(
                    format!("allowed_models[{i}]"),
                    format!(
                        "`{bad}` is neither `provider/model` nor a pattern ending in `*` \
                         (`openai/*`, `openai/gpt-4o-mini*`)"
                    ),
                )
            })?;
            Some(Some(list.entries().to_vec()))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "allowed_models",
                "`allowed_models` must be an array of model names or null",
            ));
        }
    };
    let patch = TenantPatch {
        allowed_models,
        name: req
            .name
            .as_deref()
            .map(|n| valid_name("name", n))
            .transpose()?,
        tier: req.tier.as_deref().map(parse_tier).transpose()?,
        overrides,
        status,
        default_model,
    };
    let updated = state
        .store()
        .update_tenant(Actor::Operator, current.id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    state.announce(ControlMessage::TenantChanged {
        tenant_id: updated.id,
    });
    Ok(Json(TenantView::of(&updated)))
}

pub async fn create_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NewKeyRequest>,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    let t = tenant(&state, &id).await?;
    keys::issue(&state, Actor::Operator, t.id, req, Scopes::all_tenant()).await
}

pub async fn list_keys(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let t = tenant(&state, &id).await?;
    keys::list_for(&state, t.id, q).await
}

pub async fn revoke_key(
    State(state): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let t = tenant(&state, &id).await?;
    keys::revoke(&state, Actor::Operator, t.id, &key_id).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn audit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "`limit` must be between 1 and 1000",
        ));
    }
    let t = tenant(&state, &id).await?;
    let (entries, has_more) = state.store().list_audit(t.id, limit).await?;
    Ok(Json(list(entries, json!({"has_more": has_more}))))
}
