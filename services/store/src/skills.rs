//! Skills a tenant installed (version, enabled, usage) and the HTTP skills it registered. The
//! built-in catalogue itself is code (openclaw_engine::skills).

use chrono::{DateTime, Utc};
use openclaw_domain::TenantId;
use serde_json::Value;
use sqlx::{FromRow, PgConnection};

use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct InstalledSkill {
    pub name: String,
    pub version: String,
    pub enabled: bool,
    pub installed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    pub invocations: i64,
}

/// A skill a tenant registered: its manifest, endpoint and signing secret.
#[derive(Debug, Clone, PartialEq, FromRow, serde::Deserialize)]
pub struct HttpSkillRecord {
    pub name: String,
    pub version: String,
    pub description: String,
    pub input_schema: Value,
    pub endpoint: String,
    pub timeout_ms: i32,
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

/// An upsert's row, and whether it was an insert (`xmax = 0`: no earlier version of the row).
#[derive(FromRow)]
struct Upserted {
    #[sqlx(flatten)]
    skill: InstalledSkill,
    inserted: bool,
}

const COLUMNS: &str = "name, version, enabled, installed_at, updated_at, last_used, invocations";

/// The built-ins every tenant starts with installed, at their catalogue versions (the engine's
/// catalogue test keeps this list equal to its own): the whole harmless catalogue, so the
/// seeds' skill examples run on a fresh tenant. A tenant may uninstall or disable them like any
/// other. Tenants created before a skill joined this list keep what they had.
pub const DEFAULT_SKILLS: [(&str, &str); 8] = [
    ("calculator", "1.0.0"),
    ("current_time", "1.0.0"),
    ("web_fetch", "1.0.0"),
    ("file_read", "1.0.0"),
    ("weather", "1.2.0"),
    ("memory_search", "1.0.0"),
    ("memory_add", "1.0.0"),
    ("spawn_agent", "1.0.0"),
];

/// Installs [`DEFAULT_SKILLS`] for a tenant being created, inside its transaction.
pub(crate) async fn install_defaults(c: &mut PgConnection, tenant: TenantId) -> Result<()> {
    let (names, versions): (Vec<&str>, Vec<&str>) = DEFAULT_SKILLS.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO tenant_skills (tenant_id, name, version) \
         SELECT $1, name, version FROM unnest($2::text[], $3::text[]) AS d (name, version)",
    )
    .bind(tenant.as_uuid())
    .bind(&names)
    .bind(&versions)
    .execute(c)
    .await?;
    Ok(())
}

impl Store {
    /// Installs `name` at `version` (enabled); installing it again changes the version and
    /// enables it, keeping its usage. The bool says whether it was new.
    pub async fn install_skill(
        &self,
        tenant: TenantId,
        name: &str,
        version: &str,
    ) -> Result<(InstalledSkill, bool)> {
        self.in_tenant(tenant, async |c| {
            let row: Upserted = sqlx::query_as(&format!(
                "INSERT INTO tenant_skills (tenant_id, name, version) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id, name) DO UPDATE SET version = EXCLUDED.version, \
                 enabled = true, updated_at = now() \
                 RETURNING {COLUMNS}, (xmax = 0) AS inserted"
            ))
            .bind(tenant.as_uuid())
            .bind(name)
            .bind(version)
            .fetch_one(&mut *c)
            .await?;
            Ok((row.skill, row.inserted))
        })
        .await
    }

    /// Uninstalls a skill; a registered HTTP skill goes with it.
    pub async fn uninstall_skill(&self, tenant: TenantId, name: &str) -> Result<bool> {
        self.in_tenant(tenant, async |c| {
            let done = sqlx::query("DELETE FROM tenant_skills WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.as_uuid())
                .bind(name)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM tenant_http_skills WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.as_uuid())
                .bind(name)
                .execute(&mut *c)
                .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    /// Registers an HTTP skill and installs it, in one commit; `None` if the tenant already has
    /// a skill of that name registered.
    pub async fn register_http_skill(
        &self,
        tenant: TenantId,
        skill: &HttpSkillRecord,
    ) -> Result<Option<InstalledSkill>> {
        self.in_tenant(tenant, async |c| {
            let inserted = sqlx::query(
                "INSERT INTO tenant_http_skills (tenant_id, name, version, description, input_schema, \
                 endpoint, timeout_ms, secret) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (tenant_id, name) DO NOTHING",
            )
            .bind(tenant.as_uuid())
            .bind(&skill.name)
            .bind(&skill.version)
            .bind(&skill.description)
            .bind(&skill.input_schema)
            .bind(&skill.endpoint)
            .bind(skill.timeout_ms)
            .bind(&skill.secret)
            .execute(&mut *c)
            .await?;
            if inserted.rows_affected() == 0 {
                return Ok(None);
            }
            let installed = sqlx::query_as(&format!(
                "INSERT INTO tenant_skills (tenant_id, name, version) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id, name) DO UPDATE SET version = EXCLUDED.version, \
                 enabled = true, updated_at = now() RETURNING {COLUMNS}"
            ))
            .bind(tenant.as_uuid())
            .bind(&skill.name)
            .bind(&skill.version)
            .fetch_one(&mut *c)
            .await?;
            Ok(Some(installed))
        })
        .await
    }

    /// The tenant's registered HTTP skills, by name.
    pub async fn http_skills(&self, tenant: TenantId) -> Result<Vec<HttpSkillRecord>> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(
                "SELECT name, version, description, input_schema, endpoint, timeout_ms, secret, \
                 created_at FROM tenant_http_skills WHERE tenant_id = $1 ORDER BY name",
            )
            .bind(tenant.as_uuid())
            .fetch_all(c)
            .await?)
        })
        .await
    }

    /// Enables or disables an installed skill; `None` when it is not installed.
    pub async fn set_skill_enabled(
        &self,
        tenant: TenantId,
        name: &str,
        enabled: bool,
    ) -> Result<Option<InstalledSkill>> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(&format!(
                "UPDATE tenant_skills SET enabled = $3, updated_at = now() \
                 WHERE tenant_id = $1 AND name = $2 RETURNING {COLUMNS}"
            ))
            .bind(tenant.as_uuid())
            .bind(name)
            .bind(enabled)
            .fetch_optional(c)
            .await?)
        })
        .await
    }

    /// The tenant's installed skills, by name.
    pub async fn installed_skills(&self, tenant: TenantId) -> Result<Vec<InstalledSkill>> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM tenant_skills WHERE tenant_id = $1 ORDER BY name"
            ))
            .bind(tenant.as_uuid())
            .fetch_all(c)
            .await?)
        })
        .await
    }

    /// Counts one invocation of an installed skill.
    pub async fn record_skill_use(&self, tenant: TenantId, name: &str) -> Result<()> {
        self.in_tenant(tenant, async |c| {
            sqlx::query(
                "UPDATE tenant_skills SET invocations = invocations + 1, last_used = now() \
                 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant.as_uuid())
            .bind(name)
            .execute(&mut *c)
            .await?;
            Ok(())
        })
        .await
    }
}
