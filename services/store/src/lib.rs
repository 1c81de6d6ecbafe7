//! Storage: Postgres repositories (every tenant-owned query takes a `TenantId`) and the Redis
//! side (rate-limit cells, control pub/sub). Knows nothing of HTTP.

pub mod api_keys;
pub mod audit;
pub mod jobs;
pub mod memory;
pub mod redis;
pub mod roles;
pub mod runs;
pub mod sessions;
pub mod skills;
pub mod tenants;
pub mod write_behind;

use std::time::Duration;

use openclaw_domain::TenantId;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgConnection, PgPool, Postgres, Transaction};

pub use api_keys::{ApiKeyRecord, NewApiKey, Principal};
pub use audit::{Actor, AuditEntry};
pub use jobs::{CancelOutcome, Held, JobEnd, JobKind, JobRecord, Lineage, NewJob, QueueStats};
pub use memory::{
    Fold, MemoryFilter, MemoryRecord, MemoryRefusal, MemoryScope, MemoryStats, NewMemory,
};
pub use roles::{RlsStance, RoleOptions, APP_ROLE, SYSTEM_ROLE};
pub use runs::{
    BeginRun, Begun, FinishedRun, Orphan, OutboxEvent, RunOutcome, RunRecord, Said, UsageDelta,
    UsageKey, UsageRow,
};
pub use sessions::{
    MessageRecord, NewMessage, NewSession, SessionFilter, SessionRecord, SessionRefusal,
};
pub use skills::{HttpSkillRecord, InstalledSkill, DEFAULT_SKILLS};
pub use tenants::{StatusCounts, TenantPatch, TenantRecord};
pub use write_behind::{WriteBehind, WriteBehindConfig};

/// The schema, embedded so a deployed binary can migrate without the source tree.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database roles: {0}")]
    Roles(String),
}

impl StoreError {
    /// Whether the database, not the statement, failed: the connection broke or could not be
    /// had, or the server is shutting down or restarting (SQLSTATE classes 08 and 57P, too
    /// many connections, a statement over its timeout). The caller may try again shortly.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Io(_))
            | StoreError::Db(sqlx::Error::PoolTimedOut)
            | StoreError::Db(sqlx::Error::PoolClosed)
            | StoreError::Db(sqlx::Error::Tls(_))
            | StoreError::Db(sqlx::Error::Protocol(_)) => true,
            StoreError::Db(sqlx::Error::Database(e)) => e.code().is_some_and(|code| {
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "53300"
                    || code == "57014"
            }),
            _ => false,
        }
    }

    /// What a client hears of it: 503 with when to retry for an unavailable database (logged
    /// as a warning), a bare 500 for anything else (logged as an error, `context` saying what
    /// was being done).
    pub fn to_error(&self, context: &str) -> openclaw_domain::Error {
        if let Some(e) = self.cap_refusal() {
            return e;
        }
        if self.is_unavailable() {
            tracing::warn!(error = %self, "{context}: the database is unavailable");
            openclaw_domain::Error::new(
                openclaw_domain::ErrorKind::Unavailable,
                "the database is briefly unavailable; retry shortly",
            )
            .with_details(serde_json::json!({"retry_after": 1}))
        } else {
            tracing::error!(error = %self, "{context}");
            openclaw_domain::Error::internal()
        }
    }
}

impl StoreError {
    /// A storage cap the database refused a write for (migration 18's triggers): the tenant's
    /// sessions (OC001) or a session's messages (OC002). A 429 saying which, with the cap.
    fn cap_refusal(&self) -> Option<openclaw_domain::Error> {
        let StoreError::Db(sqlx::Error::Database(e)) = self else {
            return None;
        };
        let what = match e.code().as_deref() {
            Some("OC001") => "sessions: delete some, or let them expire",
            Some("OC002") => "messages in this session: start another session",
            _ => return None,
        };
        let pg = e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
        let cap: Option<u64> = pg.and_then(|p| p.detail()).and_then(|d| d.parse().ok());
        let limit = cap.map_or_else(|| "its".to_string(), |c| c.to_string());
        Some(
            openclaw_domain::Error::new(
                openclaw_domain::ErrorKind::RateLimited,
                format!("the plan allows {limit} {what}, or ask for a higher limit"),
            )
            .with_details(serde_json::json!({"limit": cap})),
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// The longest any statement of the services may run.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

impl Store {
    /// Connects lazily-checked: the pool is created and one connection is tried, so a wrong URL
    /// fails at start-up rather than on the first request. Every statement is bounded by
    /// [`STATEMENT_TIMEOUT`]: a query that runs away (a lock wait, a plan gone bad) fails instead
    /// of holding its connection, and the request behind it, for ever.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        Store::connect_bounded(url, max_connections, Some(STATEMENT_TIMEOUT)).await
    }

    /// As [`Store::connect`], with the statement timeout given (`None`: the server's, for
    /// migrations, whose index builds may take longer).
    pub async fn connect_bounded(
        url: &str,
        max_connections: u32,
        statement_timeout: Option<Duration>,
    ) -> Result<Store> {
        let options: PgConnectOptions = url.parse()?;
        let mut options = options.log_statements(tracing::log::LevelFilter::Trace);
        if let Some(t) = statement_timeout {
            let ms = t.as_millis().to_string();
            options = options.options([("statement_timeout", ms.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            // sqlx pings every connection it hands out by default: a round trip per query. A
            // broken connection fails its query instead, and the pool replaces it.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Store { pool })
    }

    pub fn from_pool(pool: PgPool) -> Store {
        Store { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Brings the schema up to date as the connected role (the migrator, which owns it): the
    /// app and system roles first (see [`roles`]), then the migrations, then the app role's
    /// grants.
    pub async fn migrate(&self) -> Result<()> {
        self.migrate_with(&RoleOptions::default()).await
    }

    /// Only the roles' part of [`Store::migrate_with`]: they are the server's, shared by its
    /// databases.
    pub async fn prepare_roles(&self, options: &RoleOptions) -> Result<()> {
        let mut c = self.pool.acquire().await?;
        roles::ensure_roles(&mut c, options).await
    }

    pub async fn migrate_with(&self, options: &RoleOptions) -> Result<()> {
        let mut c = self.pool.acquire().await?;
        roles::ensure_roles(&mut c, options).await?;
        MIGRATOR.run(&mut *c).await?;
        roles::grant_app(&mut c).await?;
        Ok(())
    }

    /// Versions the binary knows that the database has not applied.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .unwrap_or_default();
        Ok(MIGRATOR
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A transaction in which row-level security shows only `tenant`'s rows: the backstop
    /// behind every tenant-scoped query's own `WHERE tenant_id = …`. `BEGIN` and setting the
    /// tenant go to Postgres together, in one round trip (the id is a UUID we format, so
    /// writing it into the statement cannot inject anything).
    ///
    /// A connection the pool held across a database restart fails its first statement; when
    /// that is this `BEGIN` nothing of the work has been sent, so it is tried once more on
    /// another connection (the pool drops the broken one).
    pub async fn tenant_tx(&self, tenant: TenantId) -> Result<Transaction<'static, Postgres>> {
        self.begin(format!(
            "BEGIN; SELECT set_config('openclaw.tenant_id', '{}', true)",
            tenant.as_uuid()
        ))
        .await
    }

    /// `begin` (a `BEGIN` and what goes with it), tried once more on another connection when
    /// the first fails as unavailable: nothing of the work has been sent yet.
    async fn begin(&self, begin: String) -> Result<Transaction<'static, Postgres>> {
        match self.pool.begin_with(begin.clone()).await {
            Ok(tx) => Ok(tx),
            Err(e) => {
                let e = StoreError::from(e);
                // The pool being closed is shutdown, not a broken connection: no retry.
                if !e.is_unavailable() || self.pool.is_closed() {
                    return Err(e);
                }
                tracing::debug!(error = %e, "BEGIN failed on a pooled connection; once more");
                Ok(self.pool.begin_with(begin).await?)
            }
        }
    }

    /// Runs `work` in a tenant transaction (`tenant_tx`) and commits it if `work` succeeds; a
    /// failure, or a future dropped midway, rolls it back.
    pub async fn in_tenant<T>(
        &self,
        tenant: TenantId,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self.tenant_tx(tenant).await?;
        let out = work(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// A transaction for deliberate cross-tenant work (the key lookup by hash, job claims and
    /// leases, the sweeps): it runs as the system role, whose policies show every tenant's rows
    /// of the tables it is granted and nothing of the rest. `BEGIN` and the switch go together,
    /// retried once on a broken pooled connection as `tenant_tx`'s are.
    pub async fn system_tx(&self) -> Result<Transaction<'static, Postgres>> {
        self.begin(format!("BEGIN; SET LOCAL ROLE {SYSTEM_ROLE}"))
            .await
    }

    /// Runs `work` in a system transaction (`system_tx`) and commits it if `work` succeeds.
    pub async fn in_system<T>(
        &self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self.system_tx().await?;
        let out = work(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Binds the rest of the transaction `c` is in to `tenant` (as `tenant_tx` does at its start),
/// for a transaction that learns its tenant midway: the one creating it.
pub(crate) async fn bind_tenant(c: &mut PgConnection, tenant: TenantId) -> Result<()> {
    sqlx::query("SELECT set_config('openclaw.tenant_id', $1, true)")
        .bind(tenant.as_uuid().to_string())
        .execute(c)
        .await?;
    Ok(())
}

/// Creates the database named in `url` if the server does not have it yet, so that `make run`
/// and `openclaw migrate` work against a bare server.
pub async fn create_database_if_missing(url: &str) -> Result<()> {
    use sqlx::migrate::MigrateDatabase;
    if !Postgres::database_exists(url).await? {
        // Two processes may race here (replicas starting together); losing the race is fine.
        if let Err(e) = Postgres::create_database(url).await {
            if !Postgres::database_exists(url).await? {
                return Err(e.into());
            }
        }
    }
    Ok(())
}
