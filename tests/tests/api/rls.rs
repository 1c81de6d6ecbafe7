//! Row-level security that binds: the app role the services connect as sees another tenant's
//! rows of no tenant-owned table, even through a query with no tenant filter; with no tenant
//! set it sees nothing; and its system role reaches only what the cross-tenant paths need.

use openclaw_domain::Tier;
use openclaw_tests::{spawn_app, TestApp, TestTenant};
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

/// Every table with a `tenant_id`: a new one must be added here, and so to this test.
const TENANT_TABLES: &[&str] = &[
    "api_keys",
    "audit_log",
    "jobs",
    "memories",
    "memory_compactions",
    "memory_totals",
    "messages",
    "outbox",
    "runs",
    "sessions",
    "tenant_http_skills",
    "tenant_skills",
    "usage_daily",
];

/// Gives `t` at least one row in every tenant-owned table: through the API where one makes
/// it, by the migrator's SQL for what only a worker's long path or a registration with a live
/// endpoint would write.
async fn populate(app: &TestApp, t: &TestTenant) {
    let r = app
        .post_json(
            "/v1/message",
            &t.key,
            &json!({"message": "hello", "conversation_id": "main"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = app
        .post_json("/v1/memory", &t.key, &json!({"content": "likes tea"}))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = app
        .post_json(
            "/v1/tasks",
            &t.key,
            &json!({"name": "nothing", "type": "noop"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let tenant = uuid_of(t);
    sqlx::query("INSERT INTO outbox (tenant_id, id, event, payload) VALUES ($1, $2, 'test', '{}')")
        .bind(tenant)
        .bind(Uuid::now_v7())
        .execute(&app.sql)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO memory_compactions (tenant_id, id, folded, summaries) VALUES ($1, $2, 0, 0)",
    )
    .bind(tenant)
    .bind(Uuid::now_v7())
    .execute(&app.sql)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tenant_http_skills (tenant_id, name, version, description, input_schema, \
         endpoint, timeout_ms, secret) VALUES ($1, 'lookup', '1.0.0', 'd', '{}', \
         'https://skills.example.com/lookup', 5000, 's')",
    )
    .bind(tenant)
    .execute(&app.sql)
    .await
    .unwrap();
}

fn uuid_of(t: &TestTenant) -> Uuid {
    t.id.parse::<openclaw_domain::TenantId>().unwrap().as_uuid()
}

async fn tenants_seen(c: &mut PgConnection, table: &str) -> Vec<Uuid> {
    sqlx::query_scalar(&format!(
        "SELECT DISTINCT tenant_id FROM {table} ORDER BY 1"
    ))
    .fetch_all(&mut *c)
    .await
    .unwrap_or_else(|e| panic!("{table}: {e}"))
}

async fn bind(c: &mut PgConnection, tenant: Option<&TestTenant>) {
    sqlx::query("SELECT set_config('openclaw.tenant_id', $1, true)")
        .bind(tenant.map(|t| uuid_of(t).to_string()).unwrap_or_default())
        .execute(&mut *c)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_tenant_owned_table_forces_row_security() {
    let app = spawn_app().await;
    let tables: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_attribute a \
           WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) \
         ORDER BY 1",
    )
    .fetch_all(&app.sql)
    .await
    .unwrap();
    let names: Vec<&str> = tables.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names, TENANT_TABLES,
        "the tenant-owned tables this test covers"
    );
    for (name, enabled, forced) in &tables {
        assert!(
            *enabled && *forced,
            "{name}: row security enabled and forced"
        );
    }
}

#[tokio::test]
async fn the_app_role_sees_only_the_bound_tenants_rows_of_every_table_and_none_unbound() {
    let app = spawn_app().await;
    let alice = app.create_tenant(Tier::Free).await;
    let bob = app.create_tenant(Tier::Free).await;
    populate(&app, &alice).await;
    populate(&app, &bob).await;
    app.flush_write_behind().await;
    let (a, b) = (uuid_of(&alice), uuid_of(&bob));
    let mut both = vec![a, b];
    both.sort();

    // The migrator, a superuser, sees both: the rows are there to be hidden.
    let mut admin = PgConnection::connect(&app.database_url).await.unwrap();
    for table in TENANT_TABLES {
        assert_eq!(
            tenants_seen(&mut admin, table).await,
            both,
            "{table} as the migrator"
        );
    }

    let mut c = PgConnection::connect(&app.app_url).await.unwrap();
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(role, "openclaw_app");
    for table in TENANT_TABLES {
        let mut tx = c.begin().await.unwrap();
        bind(&mut tx, Some(&alice)).await;
        // Deliberately unfiltered, as a buggy query would be.
        assert_eq!(
            tenants_seen(&mut tx, table).await,
            vec![a],
            "{table} bound to Alice"
        );
        tx.rollback().await.unwrap();

        let mut tx = c.begin().await.unwrap();
        bind(&mut tx, None).await;
        assert_eq!(
            tenants_seen(&mut tx, table).await,
            Vec::<Uuid>::new(),
            "{table} with the tenant set empty"
        );
        tx.rollback().await.unwrap();
        // And on a connection that never set it at all.
        assert_eq!(
            tenants_seen(&mut c, table).await,
            Vec::<Uuid>::new(),
            "{table} with no tenant set"
        );
    }
}

#[tokio::test]
async fn the_app_role_cannot_write_another_tenants_rows() {
    let app = spawn_app().await;
    let alice = app.create_tenant(Tier::Free).await;
    let bob = app.create_tenant(Tier::Free).await;
    let mut c = PgConnection::connect(&app.app_url).await.unwrap();
    let mut tx = c.begin().await.unwrap();
    bind(&mut tx, Some(&alice)).await;
    let err = sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, actor, action, target) \
         VALUES ($1, $2, 'x', 'x', 'x')",
    )
    .bind(uuid_of(&bob))
    .bind(Uuid::now_v7())
    .execute(&mut *tx)
    .await
    .expect_err("a row of Bob's written while bound to Alice");
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "{err}"
    );
    tx.rollback().await.unwrap();

    // Nor, unfiltered, touch Bob's: an UPDATE bound to Alice reaches Alice's rows only.
    let mut tx = c.begin().await.unwrap();
    bind(&mut tx, Some(&alice)).await;
    let touched = sqlx::query("UPDATE api_keys SET name = 'renamed'")
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    tx.rollback().await.unwrap();
    assert_eq!(touched, 1, "Alice's one key, not Bob's");
}

#[tokio::test]
async fn the_system_role_reaches_only_the_cross_tenant_paths_tables() {
    let app = spawn_app().await;
    let alice = app.create_tenant(Tier::Free).await;
    let bob = app.create_tenant(Tier::Free).await;
    populate(&app, &alice).await;
    populate(&app, &bob).await;
    let mut c = PgConnection::connect(&app.app_url).await.unwrap();

    // The job claim's table: every tenant's rows, as the claim needs.
    let mut tx = c.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE openclaw_system").await.unwrap();
    assert_eq!(tenants_seen(&mut tx, "jobs").await.len(), 2);
    tx.rollback().await.unwrap();

    // What no cross-tenant path reads is refused outright, not filtered.
    for table in [
        "messages",
        "audit_log",
        "tenant_skills",
        "tenant_http_skills",
    ] {
        let mut tx = c.begin().await.unwrap();
        tx.execute("SET LOCAL ROLE openclaw_system").await.unwrap();
        let err = sqlx::query(&format!("SELECT count(*) FROM {table}"))
            .execute(&mut *tx)
            .await
            .expect_err(table);
        assert_eq!(
            err.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("42501"),
            "{table}: {err}"
        );
        tx.rollback().await.unwrap();
    }
    // And the app role holds none of the system role's reach without switching to it.
    assert_eq!(
        tenants_seen(&mut c, "jobs").await,
        Vec::<Uuid>::new(),
        "the app role does not inherit openclaw_system"
    );
}

#[tokio::test]
async fn the_app_store_knows_its_role_is_bound_and_the_migrators_is_not() {
    let app = spawn_app().await;
    let stance = app.store.rls_stance().await.unwrap();
    assert_eq!(stance.role, "openclaw_app");
    assert!(!stance.bypasses(), "{stance:?}");
    let migrator = openclaw_store::Store::connect(&app.database_url, 1)
        .await
        .unwrap();
    let stance = migrator.rls_stance().await.unwrap();
    assert!(
        stance.bypasses(),
        "the tests' migrator is a superuser: {stance:?}"
    );
    assert!(stance.reason().contains("superuser"), "{}", stance.reason());
}
