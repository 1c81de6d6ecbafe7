//! API keys: issue (only the hash is kept), list, revoke, the auth lookups, and the batched
//! `last_used_at` write that keeps Postgres off the hot path.

use chrono::{DateTime, Utc};
use openclaw_domain::{ApiKeyId, ApiKeySecret, KeyHash, Scopes, TenantId};
use serde_json::json;
use sqlx::FromRow;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::tenants::TenantRow;
use crate::{Result, Store, StoreError, TenantRecord};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub key_hash: KeyHash,
    pub prefix: String,
    pub last4: String,
    pub name: String,
    /// `None`: every tenant scope, including ones added after the key was made.
    pub scopes: Option<Scopes>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl ApiKeyRecord {
    pub fn effective_scopes(&self) -> Scopes {
        self.scopes.unwrap_or_else(Scopes::all_tenant)
    }
}

/// A key together with its tenant: everything auth needs, in one lookup.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: ApiKeyRecord,
    pub tenant: TenantRecord,
}

pub struct NewApiKey<'a> {
    pub tenant: TenantId,
    pub name: &'a str,
    pub scopes: Option<Scopes>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct KeyRow {
    tenant_id: Uuid,
    id: Uuid,
    key_hash: Vec<u8>,
    prefix: String,
    last4: String,
    name: String,
    scopes: Option<Vec<String>>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<KeyRow> for ApiKeyRecord {
    type Error = StoreError;

    fn try_from(r: KeyRow) -> Result<Self> {
        let hash: [u8; 32] = r
            .key_hash
            .try_into()
            .map_err(|_| StoreError::Corrupt("key hash length".into()))?;
        let scopes = r
            .scopes
            .map(|names| Scopes::parse_tenant(names.iter().map(String::as_str)))
            .transpose()
            .map_err(|bad| StoreError::Corrupt(format!("scope {bad}")))?;
        Ok(ApiKeyRecord {
            id: ApiKeyId(r.id),
            tenant_id: TenantId(r.tenant_id),
            key_hash: KeyHash(hash),
            prefix: r.prefix,
            last4: r.last4,
            name: r.name,
            scopes,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
            created_at: r.created_at,
        })
    }
}

const KEY_COLUMNS: &str = "k.tenant_id, k.id, k.key_hash, k.prefix, k.last4, k.name, k.scopes, \
                           k.expires_at, k.revoked_at, k.last_used_at, k.created_at";

#[derive(FromRow)]
struct PrincipalRow {
    #[sqlx(flatten)]
    key: KeyRow,
    t_id: Uuid,
    t_name: String,
    t_tier: String,
    t_limits: serde_json::Value,
    t_status: String,
    t_default_model: Option<String>,
    t_allowed_models: Option<Vec<String>>,
    t_created_at: DateTime<Utc>,
    t_updated_at: DateTime<Utc>,
}

impl TryFrom<PrincipalRow> for Principal {
    type Error = StoreError;

    fn try_from(r: PrincipalRow) -> Result<Self> {
        let tenant = TenantRecord::try_from(TenantRow {
            id: r.t_id,
            name: r.t_name,
            tier: r.t_tier,
            limits: r.t_limits,
            status: r.t_status,
            default_model: r.t_default_model,
            allowed_models: r.t_allowed_models,
            created_at: r.t_created_at,
            updated_at: r.t_updated_at,
        })?;
        Ok(Principal {
            key: ApiKeyRecord::try_from(r.key)?,
            tenant,
        })
    }
}

fn principal_query(filter: &str) -> String {
    format!(
        "SELECT {KEY_COLUMNS}, t.id AS t_id, t.name AS t_name, t.tier AS t_tier, \
         t.limits AS t_limits, t.status AS t_status, t.default_model AS t_default_model, \
         t.allowed_models AS t_allowed_models, \
         t.created_at AS t_created_at, \
         t.updated_at AS t_updated_at \
         FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE {filter}"
    )
}

impl Store {
    /// Issues a key. The secret is returned here and nowhere else.
    pub async fn create_key(
        &self,
        actor: Actor,
        new: NewApiKey<'_>,
    ) -> Result<(ApiKeyRecord, ApiKeySecret)> {
        let secret = ApiKeySecret::generate();
        let key = self
            .in_tenant(new.tenant, async |c| {
                let row: KeyRow = sqlx::query_as(&format!(
                    "INSERT INTO api_keys AS k (tenant_id, id, key_hash, prefix, last4, name, scopes, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {KEY_COLUMNS}"
                ))
                .bind(new.tenant.as_uuid())
                .bind(ApiKeyId::new().as_uuid())
                .bind(secret.hash().0.to_vec())
                .bind(secret.display_prefix())
                .bind(secret.last4())
                .bind(new.name)
                .bind(new.scopes.map(|s| s.names().into_iter().map(String::from).collect::<Vec<_>>()))
                .bind(new.expires_at)
                .fetch_one(&mut *c)
                .await?;
                let key = ApiKeyRecord::try_from(row)?;
                audit::record(
                    c,
                    new.tenant,
                    actor,
                    "key.created",
                    &key.id.to_string(),
                    json!({"name": key.name, "prefix": key.prefix, "scopes": key.scopes}),
                )
                .await?;
                Ok(key)
            })
            .await?;
        Ok((key, secret))
    }

    /// Newest first. Revoked keys are included only when asked for.
    pub async fn list_keys(
        &self,
        tenant: TenantId,
        include_revoked: bool,
    ) -> Result<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = self
            .in_tenant(tenant, async |c| {
                Ok(sqlx::query_as(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.tenant_id = $1 \
                     AND ($2 OR k.revoked_at IS NULL) ORDER BY k.id DESC"
                ))
                .bind(tenant.as_uuid())
                .bind(include_revoked)
                .fetch_all(c)
                .await?)
            })
            .await?;
        rows.into_iter().map(ApiKeyRecord::try_from).collect()
    }

    pub async fn get_key(&self, tenant: TenantId, id: ApiKeyId) -> Result<Option<ApiKeyRecord>> {
        let row: Option<KeyRow> = self
            .in_tenant(tenant, async |c| {
                Ok(sqlx::query_as(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.tenant_id = $1 AND k.id = $2"
                ))
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(c)
                .await?)
            })
            .await?;
        row.map(ApiKeyRecord::try_from).transpose()
    }

    /// Revokes `key` if it is `tenant`'s. Revoking twice keeps the first `revoked_at` and
    /// audits once. `None` when the tenant has no such key — the caller answers 404 either way.
    pub async fn revoke_key(
        &self,
        actor: Actor,
        tenant: TenantId,
        key: ApiKeyId,
    ) -> Result<Option<ApiKeyRecord>> {
        let row = self
            .in_tenant(tenant, async |c| {
                let prior: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
                    "SELECT revoked_at FROM api_keys WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                )
                .bind(tenant.as_uuid())
                .bind(key.as_uuid())
                .fetch_optional(&mut *c)
                .await?;
                let Some(prior) = prior else { return Ok(None) };
                let row: KeyRow = sqlx::query_as(&format!(
                    "UPDATE api_keys AS k SET revoked_at = coalesce(k.revoked_at, now()) \
                     WHERE k.tenant_id = $1 AND k.id = $2 RETURNING {KEY_COLUMNS}"
                ))
                .bind(tenant.as_uuid())
                .bind(key.as_uuid())
                .fetch_one(&mut *c)
                .await?;
                if prior.is_none() {
                    audit::record(c, tenant, actor, "key.revoked", &key.to_string(), json!({}))
                        .await?;
                }
                Ok(Some(row))
            })
            .await?;
        // Converted after the commit, as before: a stored row that does not convert is still
        // revoked.
        row.map(ApiKeyRecord::try_from).transpose()
    }

    /// The auth lookup: a key by its hash, with its tenant, across tenants by design.
    pub async fn principal_by_hash(&self, hash: &KeyHash) -> Result<Option<Principal>> {
        let mut tx = self.system_tx().await?;
        let row: Option<PrincipalRow> = sqlx::query_as(&principal_query("k.key_hash = $1"))
            .bind(hash.0.to_vec())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        row.map(Principal::try_from).transpose()
    }

    /// The JWT lookup: tokens name the key they were minted from, so revoking it revokes them.
    pub async fn principal_by_key_id(&self, id: ApiKeyId) -> Result<Option<Principal>> {
        let mut tx = self.system_tx().await?;
        let row: Option<PrincipalRow> = sqlx::query_as(&principal_query("k.id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        row.map(Principal::try_from).transpose()
    }

    /// Writes a batch of last-use times in one statement; never moves a time backwards.
    pub async fn touch_keys(&self, uses: &[(ApiKeyId, DateTime<Utc>)]) -> Result<u64> {
        if uses.is_empty() {
            return Ok(0);
        }
        let mut tx = self.system_tx().await?;
        let ids: Vec<Uuid> = uses.iter().map(|(id, _)| id.as_uuid()).collect();
        let times: Vec<DateTime<Utc>> = uses.iter().map(|(_, t)| *t).collect();
        let done = sqlx::query(
            "UPDATE api_keys k SET last_used_at = u.at \
             FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) \
             WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
        )
        .bind(ids)
        .bind(times)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
