//! Tenants: create, read, list, and the operator's changes (tier, limit overrides, status).

use chrono::{DateTime, Utc};
use openclaw_domain::{LimitOverrides, Limits, TenantId, TenantStatus, Tier};
use serde_json::{json, Value};
use sqlx::FromRow;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct TenantRecord {
    pub id: TenantId,
    pub name: String,
    pub tier: Tier,
    pub overrides: LimitOverrides,
    pub status: TenantStatus,
    /// Used when neither the request nor the session names a model.
    pub default_model: Option<String>,
    /// The models the operator lets it name, in place of its tier's (`None`: the tier's).
    pub allowed_models: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TenantRecord {
    pub fn limits(&self) -> Limits {
        self.overrides.apply(self.tier.limits())
    }
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub tier: Option<Tier>,
    pub overrides: Option<LimitOverrides>,
    pub status: Option<TenantStatus>,
    /// `Some(None)` clears the tenant's default model.
    pub default_model: Option<Option<String>>,
    /// `Some(None)` gives the tenant its tier's allow-list again.
    pub allowed_models: Option<Option<Vec<String>>>,
}

#[derive(FromRow)]
pub(crate) struct TenantRow {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) tier: String,
    pub(crate) limits: Value,
    pub(crate) status: String,
    pub(crate) default_model: Option<String>,
    pub(crate) allowed_models: Option<Vec<String>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl TryFrom<TenantRow> for TenantRecord {
    type Error = StoreError;

    fn try_from(r: TenantRow) -> Result<Self> {
        Ok(TenantRecord {
            id: TenantId(r.id),
            tier: Tier::parse(&r.tier)
                .ok_or_else(|| StoreError::Corrupt(format!("tier {}", r.tier)))?,
            overrides: serde_json::from_value(r.limits)
                .map_err(|e| StoreError::Corrupt(format!("limits: {e}")))?,
            status: TenantStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {}", r.status)))?,
            name: r.name,
            default_model: r.default_model,
            allowed_models: r.allowed_models,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str =
    "id, name, tier, limits, status, default_model, allowed_models, created_at, updated_at";

impl Store {
    pub async fn create_tenant(
        &self,
        actor: Actor,
        name: &str,
        tier: Tier,
    ) -> Result<TenantRecord> {
        let mut tx = self.pool().begin().await?;
        let row: TenantRow = sqlx::query_as(&format!(
            "INSERT INTO tenants (id, name, tier) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
        ))
        .bind(TenantId::new().as_uuid())
        .bind(name)
        .bind(tier.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let tenant = TenantRecord::try_from(row)?;
        // Its skills and audit entry are the new tenant's rows: row security needs its id.
        crate::bind_tenant(&mut tx, tenant.id).await?;
        crate::skills::install_defaults(&mut tx, tenant.id).await?;
        audit::record(
            &mut *tx,
            tenant.id,
            actor,
            "tenant.created",
            &tenant.id.to_string(),
            json!({"name": name, "tier": tier}),
        )
        .await?;
        tx.commit().await?;
        Ok(tenant)
    }

    pub async fn get_tenant(&self, id: TenantId) -> Result<Option<TenantRecord>> {
        let row: Option<TenantRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(self.pool())
                .await?;
        row.map(TenantRecord::try_from).transpose()
    }

    /// The oldest tenant with this name (names are labels, not unique).
    pub async fn find_tenant_by_name(&self, name: &str) -> Result<Option<TenantRecord>> {
        let row: Option<TenantRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM tenants WHERE name = $1 ORDER BY id LIMIT 1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        row.map(TenantRecord::try_from).transpose()
    }

    /// Oldest first, so offsets are stable while tenants are added.
    pub async fn list_tenants(&self, limit: i64, offset: i64) -> Result<(Vec<TenantRecord>, i64)> {
        let rows: Vec<TenantRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM tenants ORDER BY id LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
            .fetch_one(self.pool())
            .await?;
        let tenants = rows
            .into_iter()
            .map(TenantRecord::try_from)
            .collect::<Result<_>>()?;
        Ok((tenants, total))
    }

    pub async fn update_tenant(
        &self,
        actor: Actor,
        id: TenantId,
        patch: &TenantPatch,
    ) -> Result<Option<TenantRecord>> {
        let mut tx = self.tenant_tx(id).await?;
        let overrides = patch
            .overrides
            .map(|o| serde_json::to_value(o).expect("overrides serialise"));
        let row: Option<TenantRow> = sqlx::query_as(&format!(
            "UPDATE tenants SET name = coalesce($2, name), tier = coalesce($3, tier), \
             limits = coalesce($4, limits), status = coalesce($5, status), \
             default_model = CASE WHEN $6 THEN $7 ELSE default_model END, \
             allowed_models = CASE WHEN $8 THEN $9 ELSE allowed_models END, updated_at = now() \
             WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(id.as_uuid())
        .bind(patch.name.as_deref())
        .bind(patch.tier.map(Tier::as_str))
        .bind(overrides)
        .bind(patch.status.map(TenantStatus::as_str))
        .bind(patch.default_model.is_some())
        .bind(patch.default_model.clone().flatten())
        .bind(patch.allowed_models.is_some())
        .bind(patch.allowed_models.clone().flatten())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let tenant = TenantRecord::try_from(row)?;
        let mut changes = serde_json::Map::new();
        if let Some(n) = &patch.name {
            changes.insert("name".into(), json!(n));
        }
        if let Some(t) = patch.tier {
            changes.insert("tier".into(), json!(t));
        }
        if let Some(o) = patch.overrides {
            changes.insert("limits".into(), json!(o));
        }
        if let Some(s) = patch.status {
            changes.insert("status".into(), json!(s));
        }
        if let Some(m) = &patch.default_model {
            changes.insert("default_model".into(), json!(m));
        }
        if let Some(m) = &patch.allowed_models {
            changes.insert("allowed_models".into(), json!(m));
        }
        audit::record(
            &mut *tx,
            id,
            actor,
            "tenant.updated",
            &id.to_string(),
            Value::Object(changes),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(tenant))
    }
}

/// What a tenant's status page counts, read in one query.
#[derive(Debug, Clone, Default, FromRow)]
pub struct StatusCounts {
    /// Every session the tenant has.
    pub sessions_total: i64,
    /// Sessions with a run in progress (holding their turn) right now.
    pub sessions_active: i64,
    pub skills_installed: i64,
    pub skills_enabled: i64,
    /// Runs counted in the tenant's usage, all days and models.
    pub requests_total: i64,
    /// The mean latency of the tenant's last 1 000 finished runs; `None` before the first.
    pub avg_latency_ms: Option<f64>,
}

impl Store {
    /// The counters `GET /status` shows; the latency mean reads the newest runs by primary key
    /// (ids are time-ordered), so it costs the same for a tenant with millions of runs.
    pub async fn status_counts(&self, tenant: TenantId) -> Result<StatusCounts> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(
                "SELECT \
                   (SELECT count(*) FROM sessions WHERE tenant_id = $1) AS sessions_total, \
                   (SELECT count(*) FROM sessions WHERE tenant_id = $1 AND turn_run IS NOT NULL \
                      AND turn_until > now()) AS sessions_active, \
                   (SELECT count(*) FROM tenant_skills WHERE tenant_id = $1) AS skills_installed, \
                   (SELECT count(*) FROM tenant_skills WHERE tenant_id = $1 AND enabled) \
                      AS skills_enabled, \
                   (SELECT coalesce(sum(requests), 0)::bigint FROM usage_daily WHERE tenant_id = $1) \
                      AS requests_total, \
                   (SELECT avg(latency_ms)::float8 FROM (SELECT latency_ms FROM runs \
                      WHERE tenant_id = $1 AND latency_ms IS NOT NULL ORDER BY id DESC LIMIT 1000) r) \
                      AS avg_latency_ms",
            )
            .bind(tenant.as_uuid())
            .fetch_one(c)
            .await?)
        })
        .await
    }
}
