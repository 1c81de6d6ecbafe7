//! Test support: finds Postgres and Redis (`OPENCLAW_MIGRATOR_URL` or `DATABASE_URL`, and
//! `REDIS_URL`, else the local default ports, else testcontainers when a Docker engine answers),
//! gives every test a fresh database cloned from a migrated template and its own Redis key
//! prefix, and starts the app in-process on port 0 (`spawn_app`), connected as the app role so
//! row-level security binds it as in production. `TestApp` has one helper per common call.

pub mod front;
pub mod load;
pub mod pg_proxy;
pub mod private;
pub mod process;
pub mod services;
pub mod sse;
pub mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use openclaw_api::{Config, JwtKey, Running};
use openclaw_domain::Tier;
use openclaw_store::redis::Redis;
use openclaw_store::Store;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const ADMIN_TOKEN: &str = "test-operator-token-0123456789abcdef";
pub const JWT_SECRET: &str = "test-jwt-secret-test-jwt-secret-0123456789";

/// Where the app under test finds Redis.
#[derive(Clone, Debug)]
pub enum RedisMode {
    /// The test Redis with this key prefix (share it between instances to share limits).
    Shared(String),
    /// No Redis configured: single-replica mode.
    Absent,
    /// A Redis URL nobody listens on: every call fails, as when Redis is down.
    Dead,
}

pub struct AppOptions {
    /// Reuse another instance's database (several replicas of one deployment).
    pub database_url: Option<String>,
    /// Model providers; `None`: only `builtin/echo`.
    pub providers: Option<openclaw_engine::ProvidersConfig>,
    pub redis: RedisMode,
    pub configure: Box<dyn FnOnce(&mut Config) + Send>,
    /// A worker in the same process (as `serve --with-worker`); `None`: API only.
    pub worker: Option<openclaw_worker::WorkerConfig>,
    /// Connections in the app's pool.
    pub pool_size: u32,
}

/// A worker configured for tests: short leases, so a lost worker's jobs return quickly.
pub fn test_worker() -> openclaw_worker::WorkerConfig {
    openclaw_worker::WorkerConfig {
        concurrency: 8,
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(250),
        drain_grace: Duration::from_secs(5),
        ..Default::default()
    }
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            database_url: None,
            providers: None,
            redis: RedisMode::Shared(fresh_prefix()),
            configure: Box::new(|_| {}),
            worker: Some(test_worker()),
            pool_size: 10,
        }
    }
}

pub fn fresh_prefix() -> String {
    format!("oct:{}:", uuid::Uuid::now_v7().simple())
}

pub struct TestApp {
    pub addr: SocketAddr,
    providers: Option<openclaw_engine::ProvidersConfig>,
    pub base: String,
    pub metrics_base: String,
    /// The test database as the migrator (a superuser): for a test's own SQL.
    pub database_url: String,
    /// The same database as the app role: what the app under test connects with.
    pub app_url: String,
    pub redis: RedisMode,
    /// The app's own store, as the app role: row-level security binds it.
    pub store: Store,
    /// The test database as the migrator, for a test's own SQL (setting a row up, reading one
    /// back) across tenants; connects on first use.
    pub sql: sqlx::PgPool,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    running: Option<Running>,
    worker: Option<tokio::task::JoinHandle<()>>,
}

/// A tenant made for a test, with one all-scopes key.
#[derive(Clone, Debug)]
pub struct TestTenant {
    pub id: String,
    pub key: String,
    pub key_id: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(AppOptions::default()).await
}

pub async fn spawn_with(opts: AppOptions) -> TestApp {
    let svc = services::get().await;
    let database_url = match opts.database_url {
        Some(url) => url,
        None => svc.fresh_database().await,
    };
    let app_url = svc.app_url(&database_url);
    let store = Store::connect(&app_url, opts.pool_size)
        .await
        .expect("connect to the test database as the app role");
    let redis = match &opts.redis {
        RedisMode::Shared(prefix) => {
            let url = svc
                .redis_url
                .as_deref()
                .expect("tests need Redis: set REDIS_URL or run a local Redis");
            Some(Redis::new(url, prefix, Duration::from_millis(500)).expect("redis url"))
        }
        RedisMode::Absent => None,
        RedisMode::Dead => {
            Some(Redis::new("redis://127.0.0.1:1", "dead:", Duration::from_millis(100)).unwrap())
        }
    };
    let mut config = Config {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        metrics_port: 0,
        admin_token: Some(ADMIN_TOKEN.to_string().into()),
        jwt_keys: vec![JwtKey {
            kid: "test".into(),
            secret: JWT_SECRET.to_string().into(),
        }],
        last_used_flush: Duration::from_millis(200),
        ..Config::default()
    };
    (opts.configure)(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let providers = match opts.providers.clone() {
        Some(c) => openclaw_engine::Providers::new(c).expect("provider config"),
        None => openclaw_engine::Providers::builtin_only(),
    };
    let providers = std::sync::Arc::new(providers);
    let worker = opts.worker.map(|w| {
        tokio::spawn(openclaw_worker::run(
            store.clone(),
            redis.clone(),
            providers.clone(),
            w,
            shutdown.clone(),
        ))
    });
    let worker = worker.map(|h| {
        tokio::spawn(async move {
            if let Ok(Err(e)) = h.await {
                panic!("worker failed: {e}");
            }
        })
    });
    let state = openclaw_api::build_state(config, store.clone(), redis, providers);
    let running = openclaw_api::serve(state, listener, Some(metrics), shutdown.clone())
        .await
        .unwrap();
    let addr = running.addr;
    TestApp {
        addr,
        providers: opts.providers,
        base: format!("http://{addr}"),
        metrics_base: format!("http://{}", running.metrics_addr.unwrap()),
        sql: sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy(&database_url)
            .expect("the test database's URL"),
        database_url,
        app_url,
        redis: opts.redis,
        store,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        shutdown,
        running: Some(running),
        worker,
    }
}

impl TestApp {
    /// A second replica of the same deployment: same database, same Redis prefix, and a worker.
    pub async fn replica(&self) -> TestApp {
        spawn_with(AppOptions {
            database_url: Some(self.database_url.clone()),
            providers: self.providers.clone(),
            redis: self.redis.clone(),
            ..Default::default()
        })
        .await
    }

    /// Writes what the app's runs left behind (stateless runs, usage) now, as its next
    /// write-behind window would.
    pub async fn flush_write_behind(&self) {
        let running = self.running.as_ref().expect("the app is running");
        running
            .state
            .runs()
            .write_behind()
            .flush()
            .await
            .expect("write-behind batch written");
    }

    /// The tenant's usage rows of the (UTC) day, as stored.
    pub async fn usage_today(&self, tenant: &str) -> Vec<openclaw_store::UsageRow> {
        let today = chrono::Utc::now().date_naive();
        self.store
            .usage(
                tenant.parse().expect("a tenant id"),
                today,
                today.succ_opt().unwrap(),
            )
            .await
            .expect("usage read")
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// `method path` with `key` as the Bearer credential and `body` as JSON, sent.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.request(method, path)
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("the app answers")
    }

    /// `POST path` with `key` and a JSON `body`, sent.
    pub async fn post_json(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.send_json(Method::POST, path, key, body).await
    }

    /// `GET /v1/status` with `credential`: the quickest "is this accepted?".
    pub async fn status_response(&self, credential: impl std::fmt::Display) -> reqwest::Response {
        self.get("/v1/status")
            .bearer_auth(credential)
            .send()
            .await
            .unwrap()
    }

    pub async fn status_as(&self, credential: impl std::fmt::Display) -> StatusCode {
        self.status_response(credential).await.status()
    }

    /// `GET path` with `credential`, body as JSON.
    pub async fn get_json(&self, path: &str, credential: impl std::fmt::Display) -> Value {
        self.get(path)
            .bearer_auth(credential)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, &format!("/admin/v1{path}"))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// Creates a tenant through the operator API and issues it a key.
    pub async fn create_tenant(&self, tier: Tier) -> TestTenant {
        let t: Value = self
            .admin(Method::POST, "/tenants")
            .json(&json!({"name": "test tenant", "tier": tier.as_str()}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = t["id"].as_str().expect("tenant id").to_string();
        let k = self.admin_key(&id, json!({"name": "test"})).await;
        TestTenant {
            id,
            key: k["key"].as_str().unwrap().into(),
            key_id: k["id"].as_str().unwrap().into(),
        }
    }

    pub async fn admin_key(&self, tenant_id: &str, body: Value) -> Value {
        let resp = self
            .admin(Method::POST, &format!("/tenants/{tenant_id}/api-keys"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    /// Sets limit overrides for a tenant through the operator API.
    pub async fn set_limits(&self, tenant_id: &str, limits: Value) {
        let resp = self
            .admin(Method::PATCH, &format!("/tenants/{tenant_id}"))
            .json(&json!({"limits": limits}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{}",
            resp.text().await.unwrap()
        );
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.metrics_base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Signals shutdown (as SIGTERM does) without waiting.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Stops the replica the way SIGTERM does and waits for it to drain.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(r) = self.running.take() {
            r.finished().await;
        }
        if let Some(w) = self.worker.take() {
            let _ = w.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Asserts the contract's error shape (nested, or flat under `/api/v1`) and returns the body.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    let header_id = resp
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_string())
        .expect("x-request-id on every response");
    let body: Value = resp.json().await.expect("error bodies are JSON");
    // Under `/api/v1` the flat shape: `error` is the code, the rest beside it.
    let err = if body["error"].is_string() {
        assert_eq!(body["error"], code, "body: {body}");
        assert_eq!(body["success"], false, "body: {body}");
        assert_eq!(body["status"], status, "body: {body}");
        &body
    } else {
        &body["error"]
    };
    assert_eq!(err["code"], code, "body: {body}");
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    assert!(err["type"].is_string(), "body: {body}");
    assert!(
        err.get("param").is_some() && err.get("details").is_some(),
        "body: {body}"
    );
    assert_eq!(
        err["request_id"],
        header_id.as_str(),
        "body's request id matches the header"
    );
    body
}

/// Provider configuration pointing OpenAI-compatible calls at a mock-llm, with its model as the
/// default (`openai/mock-1`).
pub fn mock_providers(mock: &openclaw_mock_llm::MockLlm) -> openclaw_engine::ProvidersConfig {
    let base = format!("{}/v1", mock.base_url());
    openclaw_engine::ProvidersConfig::from_lookup(move |name| match name {
        "OPENAI_BASE_URL" => Some(base.clone()),
        "OPENAI_API_KEY" => Some("sk-test".into()),
        "OPENCLAW_DEFAULT_MODEL" => Some("openai/mock-1".into()),
        _ => None,
    })
}

/// An OpenAI-compatible upstream at `openai` (a base URL ending `/v1`) and an Anthropic one at
/// `anthropic` (no `/v1`), with test keys; the default model `openai/mock-1`.
pub fn openai_and_anthropic(openai: String, anthropic: String) -> openclaw_engine::ProvidersConfig {
    openclaw_engine::ProvidersConfig::from_lookup(move |name| match name {
        "OPENAI_BASE_URL" => Some(openai.clone()),
        "OPENAI_API_KEY" => Some("sk-test".into()),
        "ANTHROPIC_BASE_URL" => Some(anthropic.clone()),
        "ANTHROPIC_API_KEY" => Some("sk-ant-test".into()),
        "OPENCLAW_DEFAULT_MODEL" => Some("openai/mock-1".into()),
        _ => None,
    })
}
