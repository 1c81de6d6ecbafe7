//! JSON views of tenants and keys, shared by the tenant and operator routes. The secret of a key
//! appears only in the creation response.

use chrono::{DateTime, Utc};
use openclaw_domain::{ApiKeySecret, LimitOverrides, Limits, Scopes};
use openclaw_store::{ApiKeyRecord, TenantRecord};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Serialize)]
pub struct KeyView {
    pub id: String,
    pub object: &'static str,
    pub name: String,
    pub prefix: String,
    pub last4: String,
    pub scopes: Scopes,
    pub tenant_id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Only when just created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl KeyView {
    pub fn of(k: &ApiKeyRecord) -> KeyView {
        KeyView {
            id: k.id.to_string(),
            object: "api_key",
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            last4: k.last4.clone(),
            scopes: k.effective_scopes(),
            tenant_id: k.tenant_id.to_string(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            key: None,
        }
    }

    pub fn created(k: &ApiKeyRecord, secret: &ApiKeySecret) -> KeyView {
        KeyView {
            key: Some(secret.expose().to_string()),
            ..KeyView::of(k)
        }
    }
}

#[derive(Serialize)]
pub struct TenantView {
    pub id: String,
    pub object: &'static str,
    pub name: String,
    pub tier: &'static str,
    pub status: &'static str,
    /// In force: the tier's limits with the overrides applied.
    pub limits: Limits,
    pub limit_overrides: LimitOverrides,
    /// `null`: the operator-wide default.
    pub default_model: Option<String>,
    /// The models it may name in place of its tier's list; `null`: its tier's.
    pub allowed_models: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TenantView {
    pub fn of(t: &TenantRecord) -> TenantView {
        TenantView {
            id: t.id.to_string(),
            object: "tenant",
            name: t.name.clone(),
            tier: t.tier.as_str(),
            status: t.status.as_str(),
            limits: t.limits(),
            limit_overrides: t.overrides,
            default_model: t.default_model.clone(),
            allowed_models: t.allowed_models.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A list in the OpenAI/Stripe shape.
pub fn list<T: Serialize>(data: Vec<T>, extra: Value) -> Value {
    let mut v = json!({"object": "list", "data": data});
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    v
}
