//! The Postgres and Redis the tests run against, found once per test process.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::ContainerAsync;
use testcontainers_modules::{postgres, redis as redis_image};
use tokio::sync::OnceCell;

pub struct Services {
    /// URL of the server's `postgres` database, for creating and dropping test databases.
    admin_url: String,
    /// `scheme://user@host:port` of the migrator (a superuser: the tests' own SQL runs as it).
    base_url: String,
    /// The same server as the app role the services connect as (row-level security binds it).
    app_base_url: String,
    /// The URL's query string (`?sslmode=…`), kept for every database URL made from it.
    query: String,
    pub redis_url: Option<String>,
    template: String,
    _pg: Option<ContainerAsync<postgres::Postgres>>,
    _redis: Option<ContainerAsync<redis_image::Redis>>,
}

static SERVICES: OnceCell<Services> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

pub async fn get() -> &'static Services {
    SERVICES.get_or_init(discover).await
}

/// `scheme://user@host:port` of a Postgres URL, and its query string.
fn split_url(url: &str) -> (String, String) {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = main.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match main[after_scheme..].find('/') {
        Some(i) => &main[..after_scheme + i],
        None => main,
    };
    (base.to_string(), query)
}

async fn pg_reachable(url: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(url)).await,
        Ok(Ok(_))
    )
}

async fn redis_reachable(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let ping = async {
        let mut c = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut c).await
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), ping).await,
        Ok(Ok(_))
    )
}

fn docker_available() -> bool {
    std::process::Command::new("docker")
        .arg("info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn discover() -> Services {
    let mut pg_container = None;
    let mut redis_container = None;

    // The migrator's URL names the server with the right to create databases and roles;
    // `DATABASE_URL` (services.sh makes it the app role's) is the fallback for a hand-set one.
    let env_pg = std::env::var("OPENCLAW_MIGRATOR_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok();
    let candidate = env_pg
        .clone()
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (base_url, query) = split_url(&candidate);
    let mut admin_url = format!("{base_url}/postgres{query}");
    let mut base = base_url;
    if !pg_reachable(&admin_url).await {
        assert!(
            docker_available(),
            "no Postgres at {admin_url} and no Docker engine for testcontainers: \
             run `make test` (it starts Postgres) or set DATABASE_URL"
        );
        let c = postgres::Postgres::default()
            .start()
            .await
            .expect("start a Postgres container");
        let port = c.get_host_port_ipv4(5432).await.unwrap();
        base = format!("postgres://postgres:postgres@127.0.0.1:{port}");
        admin_url = format!("{base}/postgres");
        pg_container = Some(c);
    }

    let mut redis_url = std::env::var("REDIS_URL")
        .ok()
        .or_else(|| Some("redis://127.0.0.1:6379".into()));
    if !redis_reachable(redis_url.as_deref().unwrap()).await {
        redis_url = None;
        if docker_available() {
            let c = redis_image::Redis::default()
                .start()
                .await
                .expect("start a Redis container");
            let port = c.get_host_port_ipv4(6379).await.unwrap();
            redis_url = Some(format!("redis://127.0.0.1:{port}"));
            redis_container = Some(c);
        }
    }

    let app_password = std::env::var("OPENCLAW_APP_DB_PASSWORD")
        .ok()
        .or_else(|| has_password(&base).then(|| "openclaw-app-test".to_string()));
    let template = prepare_template(&admin_url, &base, &query, app_password.as_deref()).await;
    drop_stale_databases(&admin_url).await;
    Services {
        admin_url,
        app_base_url: app_base(&base, app_password.as_deref()),
        base_url: base,
        query,
        redis_url,
        template,
        _pg: pg_container,
        _redis: redis_container,
    }
}

/// `url` as the app role: its user replaced by `openclaw_app`, with `OPENCLAW_APP_DB_PASSWORD`
/// as the password when set (for a process outside the test harness, such as a bench).
pub fn app_role_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let base = app_base(
        &format!("{scheme}://{authority}"),
        std::env::var("OPENCLAW_APP_DB_PASSWORD").ok().as_deref(),
    );
    format!("{base}{tail}")
}

/// Whether `scheme://user:password@host:port` carries a password.
fn has_password(base: &str) -> bool {
    let authority = base.split_once("://").map_or(base, |(_, r)| r);
    authority
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
}

/// `scheme://openclaw_app[:password]@host:port` of the migrator's `scheme://…@host:port`.
fn app_base(base: &str, password: Option<&str>) -> String {
    let (scheme, authority) = base.split_once("://").unwrap_or(("postgres", base));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let secret = password.map(|p| format!(":{p}")).unwrap_or_default();
    format!("{scheme}://{}{secret}@{host}", openclaw_store::APP_ROLE)
}

impl Services {
    fn url_for(&self, db: &str) -> String {
        format!("{}/{db}{}", self.base_url, self.query)
    }

    /// The app role's URL of a database `url` (the migrator's URL of it) names: what the
    /// services under test connect with.
    pub fn app_url(&self, url: &str) -> String {
        match url.strip_prefix(&self.base_url) {
            Some(rest) => format!("{}{rest}", self.app_base_url),
            None => url.to_string(),
        }
    }

    /// A new database with the whole schema, cloned from the template (fast: no migrations).
    pub async fn fresh_database(&self) -> String {
        let name = format!(
            "oc_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .expect("admin connection");
        // CREATE DATABASE … TEMPLATE fails if another session is copying the same template at
        // that instant; retry briefly.
        for attempt in 0..20 {
            match conn
                .execute(
                    format!("CREATE DATABASE \"{name}\" TEMPLATE \"{}\"", self.template).as_str(),
                )
                .await
            {
                Ok(_) => break,
                Err(_) if attempt < 19 => {
                    tokio::time::sleep(Duration::from_millis(50 + 25 * attempt)).await;
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        self.url_for(&name)
    }
}

/// Creates (once per schema version, shared by test processes) a database with all migrations.
async fn prepare_template(
    admin_url: &str,
    base: &str,
    query: &str,
    app_password: Option<&str>,
) -> String {
    let digest: u64 = openclaw_store::MIGRATOR
        .iter()
        .flat_map(|m| m.checksum.iter().copied())
        .fold(1469598103934665603u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(1099511628211)
        });
    let name = format!("oc_tpl_{digest:016x}");
    let mut conn = PgConnection::connect(admin_url)
        .await
        .expect("admin connection");
    // Serialise template creation between concurrently starting test binaries.
    conn.execute("SELECT pg_advisory_lock(74201)")
        .await
        .unwrap();
    let roles = openclaw_store::RoleOptions {
        app_password: app_password.map(|p| p.to_string().into()),
    };
    // The roles are the server's, not the template's: made (or put right) on every start.
    openclaw_store::Store::connect(admin_url, 1)
        .await
        .unwrap()
        .prepare_roles(&roles)
        .await
        .expect("the app and system roles");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    if !exists {
        let building = format!("{name}_building");
        conn.execute(format!("DROP DATABASE IF EXISTS \"{building}\"").as_str())
            .await
            .unwrap();
        conn.execute(format!("CREATE DATABASE \"{building}\"").as_str())
            .await
            .unwrap();
        let store = openclaw_store::Store::connect(&format!("{base}/{building}{query}"), 2)
            .await
            .unwrap();
        store
            .migrate_with(&roles)
            .await
            .expect("migrations apply to a fresh database");
        store.close().await;
        // A closed client connection's backend exits a moment later; the rename needs it gone.
        for _ in 0..200 {
            let open: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                    .bind(&building)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            if open == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        conn.execute(format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\"").as_str())
            .await
            .unwrap();
    }
    conn.execute("SELECT pg_advisory_unlock(74201)")
        .await
        .unwrap();
    name
}

/// Drops test databases left by test processes that are gone.
async fn drop_stale_databases(admin_url: &str) {
    let Ok(mut conn) = PgConnection::connect(admin_url).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'oc\\_t\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await;
        }
    }
}
