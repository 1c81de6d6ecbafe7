//! The audit log of tenant and key changes, written in the same transaction as the change.

use chrono::{DateTime, Utc};
use openclaw_domain::{ApiKeyId, TenantId};
use serde::Serialize;
use serde_json::Value;
use sqlx::{Executor, FromRow, Postgres};
use uuid::Uuid;

use crate::{Result, Store};

/// Who made a change.
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    Operator,
    Cli,
    Key(ApiKeyId),
}

impl Actor {
    fn label(&self) -> String {
        match self {
            Actor::Operator => "operator".into(),
            Actor::Cli => "cli".into(),
            Actor::Key(id) => format!("key:{id}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct AuditRow {
    id: Uuid,
    actor: String,
    action: String,
    target: String,
    details: Value,
    created_at: DateTime<Utc>,
}

pub(crate) async fn record<'e, E: Executor<'e, Database = Postgres>>(
    exec: E,
    tenant: TenantId,
    actor: Actor,
    action: &str,
    target: &str,
    details: Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, actor, action, target, details) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.as_uuid())
    .bind(Uuid::now_v7())
    .bind(actor.label())
    .bind(action)
    .bind(target)
    .bind(details)
    .execute(exec)
    .await?;
    Ok(())
}

impl Store {
    /// Newest first, at most `limit`, and whether older entries remain.
    pub async fn list_audit(
        &self,
        tenant: TenantId,
        limit: i64,
    ) -> Result<(Vec<AuditEntry>, bool)> {
        let rows: Vec<AuditRow> = self
            .in_tenant(tenant, async |c| {
                Ok(sqlx::query_as(
                    "SELECT id, actor, action, target, details, created_at FROM audit_log \
                     WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                )
                .bind(tenant.as_uuid())
                .bind(limit + 1)
                .fetch_all(c)
                .await?)
            })
            .await?;
        let has_more = rows.len() as i64 > limit;
        let entries = rows
            .into_iter()
            .map(|r| AuditEntry {
                id: format!("aud_{}", r.id.simple()),
                actor: r.actor,
                action: r.action,
                target: r.target,
                details: r.details,
                created_at: r.created_at,
            })
            .take(limit as usize)
            .collect();
        Ok((entries, has_more))
    }
}
