//! The public HTTP API: routers by resource, the middleware pipeline, and `serve`, which runs a
//! replica (API port, metrics port, background upkeep) until shutdown. Holds no SQL.

pub mod auth;
pub mod config;
pub mod context;
pub mod dialect;
pub mod error;
pub mod extract;
pub mod limits;
pub mod metrics_server;
pub mod middleware;
pub mod routes;
pub mod state;
pub mod views;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post};
use axum::serve::ListenerExt;
use axum::{Extension, Router};
use openclaw_store::redis::Redis;
use openclaw_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, JwtKey};
pub use state::AppState;

use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::middleware::{
    envelope, gateway_errors, normalise, rate_limit, request_id, telemetry, timeout,
};
use crate::routes::sessions;
use crate::routes::{
    admin, agents, health, keys, memory, messages, openai, runs, skills, status, tasks, tokens,
};

/// Builds the shared state: auth (with its JWT keys), limits and runs over the given store,
/// Redis and model providers.
pub fn build_state(
    config: Config,
    store: Store,
    redis: Option<Arc<Redis>>,
    providers: Arc<openclaw_engine::Providers>,
) -> AppState {
    let mut jwt_keys = config.jwt_keys.clone();
    if jwt_keys.is_empty() {
        // Tokens would not survive a restart nor verify on another replica: fine for one
        // development process, and said loudly.
        tracing::warn!("OPENCLAW_JWT_SECRET is not set: using a random per-process signing key");
        let secret: String = {
            use rand::Rng;
            rand::thread_rng()
                .sample_iter(&rand::distributions::Alphanumeric)
                .take(48)
                .map(char::from)
                .collect()
        };
        jwt_keys.push(JwtKey {
            kid: "ephemeral".into(),
            secret: secret.into(),
        });
    }
    let auth = auth::AuthService::new(
        store.clone(),
        auth::jwt::Jwt::new(&jwt_keys),
        config.auth_cache_ttl,
        config.auth_failures_per_minute,
        config.tier_models.clone(),
    );
    let tracker = tokio_util::task::TaskTracker::new();
    let runs = openclaw_engine::Runs::new(
        store.clone(),
        redis.clone(),
        providers,
        tracker.clone(),
        openclaw_engine::RunsConfig {
            max_run: config.request_timeout,
            turn_lease: config.run_turn_lease,
            sweep_interval: config.run_sweep_interval,
            write_behind: config.write_behind.clone(),
            memory: config.memory.clone(),
            skills: config.skills.clone(),
            ..Default::default()
        },
    );
    AppState::new(config, store, redis, auth, runs, tracker)
}

/// Tenant routes sit behind auth, then the rate limit (route layers run only on a match, so an
/// unknown path is a plain 404 and costs no lookup).
fn tenant_gate(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        .route_layer(from_fn_with_state(state.clone(), rate_limit::layer))
        .route_layer(from_fn_with_state(state.clone(), middleware::auth::tenant))
}

/// The `/v1` routes, each resource's from its module; `/api/v1` serves the same handlers in
/// the gateway dialect, where S0's answers are wrapped in its envelope: the routes only S0
/// documents always, the shared ones when their handler marks an answer as S0's.
fn v1(state: &AppState, dialect: Dialect) -> Router<AppState> {
    let s0_only = tenant_gate(sessions::s0_router().merge(messages::s0_router()), state);
    let marked = tenant_gate(
        messages::marked_router()
            .merge(skills::router())
            .merge(memory::router()),
        state,
    );
    let (s0_only, marked) = match dialect {
        Dialect::Hosted => (s0_only, marked),
        Dialect::Gateway => (
            s0_only.route_layer(from_fn(envelope::layer)),
            marked.route_layer(from_fn(envelope::when_marked)),
        ),
    };
    let tenant = status::router()
        .merge(keys::router())
        .merge(tokens::router())
        .merge(messages::router())
        .merge(openai::router())
        .merge(runs::router())
        .merge(tasks::router())
        .merge(agents::router())
        .merge(sessions::router());
    Router::new()
        .route("/health", get(health::health))
        // WebSocket authenticates itself: by header, query or its first frame.
        .route("/ws", get(ws::upgrade))
        .merge(tenant_gate(tenant, state))
        .merge(s0_only)
        .merge(marked)
        .layer(Extension(dialect))
}

fn operator(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/tenants", post(admin::create).get(admin::list_tenants))
        .route("/tenants/{id}", get(admin::get).patch(admin::patch))
        .route(
            "/tenants/{id}/api-keys",
            post(admin::create_key).get(admin::list_keys),
        )
        .route("/tenants/{id}/api-keys/{key_id}", delete(admin::revoke_key))
        .route("/tenants/{id}/audit", get(admin::audit))
        .route_layer(from_fn_with_state(
            state.clone(),
            middleware::auth::operator,
        ))
}

async fn no_route() -> ApiError {
    ApiError::new(openclaw_domain::ErrorKind::NotFound, "no such route")
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config().body_limit_bytes;

    Router::new()
        // The explicit list of public routes; everything else is a tenant or operator route.
        .route("/health", get(health::health))
        .route("/healthz", get(health::health))
        .route("/ready", get(health::ready))
        .route("/ws", get(ws::upgrade))
        // S4's clients dial the bare gateway address.
        .route("/", get(ws::upgrade))
        .merge(tenant_gate(
            Router::new().route("/status", get(status::s4_status)),
            &state,
        ))
        .nest("/v1", v1(&state, Dialect::Hosted))
        .nest("/api/v1", v1(&state, Dialect::Gateway))
        .nest("/admin/v1", operator(&state))
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .layer(from_fn_with_state(state.clone(), timeout::layer))
        .layer(from_fn(middleware::auth::no_query_credentials))
        .layer(from_fn(normalise::layer))
        .layer(from_fn(gateway_errors::layer))
        .layer(from_fn(telemetry::layer))
        .layer(from_fn(request_id::layer))
        .with_state(state)
}

/// A running replica, as tests and the binary see it.
pub struct Running {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Resolves when the replica has shut down and drained.
    pub async fn finished(self) {
        let _ = self.done.await;
    }
}

/// Starts serving on `listener` (and metrics on `metrics_listener`) until `shutdown` fires, then
/// stops accepting, lets in-flight requests finish, drains background work and flushes batches.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    state.set_port(addr.port());
    let metrics_addr = match metrics_listener {
        Some(l) => Some(metrics_server::spawn(l, shutdown.clone())?),
        None => None,
    };
    if let Some(redis) = state.redis().cloned() {
        let s = state.clone();
        state
            .tracker()
            .spawn(redis.run_control_subscriber(move |e| s.on_control(e), shutdown.clone()));
    }
    {
        let s = state.clone();
        let stop = shutdown.clone();
        state.tracker().spawn(async move {
            let mut tick = tokio::time::interval(s.config().last_used_flush);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {
                        s.auth().flush_last_used().await;
                        s.auth().forget_old_failures();
                    }
                }
            }
        });
    }
    state
        .tracker()
        .spawn(state.runs().clone().sweep_until(shutdown.clone()));
    let app = router(state.clone());
    // Nagle plus delayed ACKs stalls small responses and SSE frames: always TCP_NODELAY.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let st = state.clone();
    let done = tokio::spawn(async move {
        let stop = shutdown.clone();
        let drain_state = st.clone();
        let result = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop.cancelled().await;
            drain_state.start_draining();
            tokio::time::sleep(drain_state.config().drain_delay).await;
        })
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "server error");
        }
        st.tracker().close();
        if tokio::time::timeout(Duration::from_secs(30), st.tracker().wait())
            .await
            .is_err()
        {
            tracing::warn!("background work did not finish within 30 s of shutdown");
        }
        st.auth().flush_last_used().await;
        // After the last run: what they left behind (stateless runs, usage) is written now.
        st.runs().close().await;
        tracing::info!("replica stopped");
    });
    Ok(Running {
        addr,
        metrics_addr,
        state,
        done,
    })
}
