//! The database roles: the migrator (whoever runs `openclaw migrate`; it owns the schema), the
//! app role the services connect as, and the system role the app switches to for cross-tenant
//! work. Row-level security binds the app role only because it is neither superuser nor
//! BYPASSRLS, and does not inherit the system role.

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgConnection;

use crate::{Result, Store, StoreError};

/// The role `serve` and `worker` connect as (`DATABASE_URL`).
pub const APP_ROLE: &str = "openclaw_app";
/// The role a transaction switches to for deliberate cross-tenant work (never logs in).
pub const SYSTEM_ROLE: &str = "openclaw_system";

/// How `openclaw migrate` treats the roles.
#[derive(Default)]
pub struct RoleOptions {
    /// Sets the app role's password (`OPENCLAW_APP_DB_PASSWORD`); `None` leaves it as it is.
    pub app_password: Option<SecretString>,
}

/// What the connected role may do that defeats row-level security.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RlsStance {
    pub role: String,
    pub superuser: bool,
    pub bypass_rls: bool,
    /// Holds the system role's privileges without switching to it (it inherits them).
    pub inherits_system: bool,
}

impl RlsStance {
    /// Whether a query that forgot its tenant filter would see other tenants' rows.
    pub fn bypasses(&self) -> bool {
        self.superuser || self.bypass_rls || self.inherits_system
    }

    /// Why, for the start-up refusal.
    pub fn reason(&self) -> String {
        let mut why = Vec::new();
        if self.superuser {
            why.push("is a superuser");
        }
        if self.bypass_rls {
            why.push("has BYPASSRLS");
        }
        if self.inherits_system {
            why.push("inherits openclaw_system (it must be NOINHERIT)");
        }
        format!("the database role `{}` {}", self.role, why.join(" and "))
    }
}

/// Creates the app and system roles when missing (the migrator needs CREATEROLE for that, or a
/// DBA creates them beforehand) and puts their attributes right. Roles are cluster-wide, so
/// migrations of two databases may race here: losing the race to create one is fine.
pub(crate) async fn ensure_roles(c: &mut PgConnection, options: &RoleOptions) -> Result<()> {
    for (role, attributes) in [
        (SYSTEM_ROLE, "NOLOGIN NOSUPERUSER NOBYPASSRLS"),
        (APP_ROLE, "LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT"),
    ] {
        if !role_exists(c, role).await? {
            if let Err(e) = sqlx::raw_sql(&format!("CREATE ROLE {role} {attributes}"))
                .execute(&mut *c)
                .await
            {
                if !role_exists(c, role).await? {
                    return Err(StoreError::Roles(format!(
                        "cannot create the role {role} ({e}): run `openclaw migrate` as a role \
                         with CREATEROLE, or have it created beforehand ({attributes})"
                    )));
                }
            }
        } else if !attributes_hold(c, role).await? {
            sqlx::raw_sql(&format!("ALTER ROLE {role} {attributes}"))
                .execute(&mut *c)
                .await
                .map_err(|e| {
                    StoreError::Roles(format!("the role {role} must be {attributes}: {e}"))
                })?;
        }
    }
    if let Some(password) = &options.app_password {
        // The password is a bind value nowhere in the protocol for ALTER ROLE; quote it as a
        // literal, doubling quotes.
        let literal = password.expose_secret().replace('\'', "''");
        sqlx::raw_sql(&format!("ALTER ROLE {APP_ROLE} PASSWORD '{literal}'"))
            .execute(&mut *c)
            .await?;
    }
    let member: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_auth_members m \
           JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member \
           WHERE g.rolname = $1 AND u.rolname = $2)",
    )
    .bind(SYSTEM_ROLE)
    .bind(APP_ROLE)
    .fetch_one(&mut *c)
    .await?;
    if !member {
        if let Err(e) = sqlx::raw_sql(&format!("GRANT {SYSTEM_ROLE} TO {APP_ROLE}"))
            .execute(&mut *c)
            .await
        {
            // A concurrent migration of another database may have granted it meanwhile.
            tracing::debug!(error = %e, "granting {SYSTEM_ROLE} to {APP_ROLE}");
        }
    }
    Ok(())
}

async fn role_exists(c: &mut PgConnection, role: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut *c)
            .await?,
    )
}

async fn attributes_hold(c: &mut PgConnection, role: &str) -> Result<bool> {
    let (superuser, bypass, inherit): (bool, bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls, rolinherit FROM pg_roles WHERE rolname = $1",
    )
    .bind(role)
    .fetch_one(&mut *c)
    .await?;
    Ok(!superuser && !bypass && (role != APP_ROLE || !inherit))
}

/// After the migrations: the app role may read and write every table of the schema (row
/// security decides which rows), and only read the migrations' ledger. Run on every migrate,
/// so a table a later migration adds is granted too.
pub(crate) async fn grant_app(c: &mut PgConnection) -> Result<()> {
    sqlx::raw_sql(&format!(
        "GRANT USAGE ON SCHEMA public TO {APP_ROLE}; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}; \
         REVOKE INSERT, UPDATE, DELETE ON _sqlx_migrations FROM {APP_ROLE}; \
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};"
    ))
    .execute(&mut *c)
    .await?;
    Ok(())
}

impl Store {
    /// What the connected role can do that row-level security does not stop.
    pub async fn rls_stance(&self) -> Result<RlsStance> {
        let (role, superuser, bypass_rls, inherits_system): (String, bool, bool, bool) =
            sqlx::query_as(
                "SELECT r.rolname::text, r.rolsuper, r.rolbypassrls, \
                   EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolname = $1 \
                           AND r.rolname <> s.rolname AND pg_has_role(r.oid, s.oid, 'USAGE')) \
                 FROM pg_roles r WHERE r.rolname = current_user",
            )
            .bind(SYSTEM_ROLE)
            .fetch_one(self.pool())
            .await?;
        Ok(RlsStance {
            role,
            superuser,
            bypass_rls,
            inherits_system,
        })
    }
}
