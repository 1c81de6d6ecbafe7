//! The row-level-security backstop: a session bound to one tenant sees only that tenant's rows,
//! even through a query with no tenant filter, when it connects as an ordinary role.

use openclaw_domain::Tier;
use openclaw_tests::spawn_app;
use sqlx::{Connection, Executor, PgConnection};

#[tokio::test]
async fn a_tenant_bound_session_cannot_read_another_tenants_keys() {
    let app = spawn_app().await;
    let alice = app.create_tenant(Tier::Free).await;
    let bob = app.create_tenant(Tier::Free).await;
    let alice_id: openclaw_domain::TenantId = alice.id.parse().unwrap();

    // The app role in production is neither superuser nor BYPASSRLS; so is this one.
    let role = format!("oc_app_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&app.database_url).await.unwrap();
    admin
        .execute(format!("CREATE ROLE {role} NOLOGIN").as_str())
        .await
        .unwrap();
    admin
        .execute(format!("GRANT SELECT ON api_keys, tenants TO {role}").as_str())
        .await
        .unwrap();

    let mut tx = admin.begin().await.unwrap();
    tx.execute(format!("SET LOCAL ROLE {role}").as_str())
        .await
        .unwrap();
    sqlx::query("SELECT set_config('openclaw.tenant_id', $1, true)")
        .bind(alice_id.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    // Deliberately unfiltered, as a buggy query would be.
    let visible: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT tenant_id FROM api_keys")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        visible,
        vec![alice_id.as_uuid()],
        "only Alice's key is visible, not Bob's ({})",
        bob.id
    );

    admin
        .execute(format!("DROP OWNED BY {role}").as_str())
        .await
        .unwrap();
    admin
        .execute(format!("DROP ROLE {role}").as_str())
        .await
        .unwrap();
}
