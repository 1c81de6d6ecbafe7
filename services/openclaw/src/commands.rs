//! What each subcommand does. The operator CLI talks to Postgres directly (it is the operator's
//! tool, like `/admin/v1`) and announces revocations and tenant changes on Redis when given it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use openclaw_api::{Config, JwtKey};
use openclaw_domain::{
    ApiKeyId, ApiKeySecret, LimitOverrides, Scopes, TenantId, TenantStatus, Tier,
};
use openclaw_store::redis::{ControlMessage, Redis};
use openclaw_store::{Actor, NewApiKey, Store, TenantPatch, TenantRecord};
use secrecy::ExposeSecret;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::{
    ApiCommand, AuthCommand, Command, ConfigCommand, DbArgs, DevArgs, KeyCommand, MigratorArgs,
    RlsArgs, ServeArgs, TenantCommand,
};

const DEV_TENANT: &str = "development";

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(*args).await,
        Command::Worker {
            db,
            rls,
            worker,
            redis_url,
            redis_prefix,
            bind,
            metrics_port,
        } => {
            let store = connect(&db).await?;
            ready_to_serve(&store, rls).await?;
            let redis = redis_url
                .as_deref()
                .map(|url| Redis::new(url, &redis_prefix, Duration::from_millis(250)))
                .transpose()
                .context("REDIS_URL is not a valid Redis URL")?;
            let shutdown = CancellationToken::new();
            spawn_signal_handler(shutdown.clone());
            let metrics = TcpListener::bind((bind, metrics_port))
                .await
                .with_context(|| format!("cannot listen for metrics on {bind}:{metrics_port}"))?;
            let addr = openclaw_api::metrics_server::spawn(metrics, shutdown.clone())?;
            tracing::info!(metrics = %addr, "worker metrics");
            let providers = Arc::new(
                openclaw_engine::Providers::new(openclaw_engine::ProvidersConfig::from_env())
                    .context("model provider configuration")?,
            );
            let result =
                openclaw_worker::run(store.clone(), redis, providers, worker_config(&worker), shutdown)
                    .await
                    .context("worker failed");
            store.close().await;
            result
        }
        Command::Migrate { migrator } => {
            migrate(&migrator, None).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::DevSetup { migrator, db, dev, port } => dev_setup(&migrator, &db, &dev, port).await,
        Command::Tenant(cmd) => tenant(cmd).await,
        Command::Api(ApiCommand::Key(cmd)) => key(cmd).await,
        Command::Auth(AuthCommand::GenerateToken { db, tenant, key, ttl_secs, jwt_secret }) => {
            let store = connect(&db).await?;
            let tenant = resolve_tenant(&store, tenant.as_deref()).await?;
            let keys = store.list_keys(tenant.id, false).await?;
            let key = match key {
                Some(raw) => {
                    let id: ApiKeyId = raw.parse().map_err(|_| anyhow!("malformed key id {raw}"))?;
                    keys.into_iter().find(|k| k.id == id).ok_or_else(|| anyhow!("tenant has no active key {raw}"))?
                }
                None => keys
                    .into_iter()
                    .next()
                    .ok_or_else(|| anyhow!("tenant has no active key: create one with `openclaw api key generate`"))?,
            };
            let jwt = openclaw_api::auth::jwt::Jwt::new(&parse_jwt_keys(&jwt_secret)?);
            let (token, expires_at) =
                jwt.mint(tenant.id, key.id, key.effective_scopes(), None, Duration::from_secs(ttl_secs));
            println!("{}", serde_json::to_string_pretty(&json!({"token": token, "expires_at": expires_at}))?);
            Ok(())
        }
        Command::Config(ConfigCommand::Get { path, dev, database_url, port, bind }) => match path.as_str() {
            "gateway.auth.token" => {
                let url = database_url.ok_or_else(|| anyhow!("DATABASE_URL is needed to read the development key"))?;
                let db = DbArgs { database_url: url, db_max_connections: 2 };
                let store = connect(&db).await?;
                let (_, key) = ensure_dev_key(&store, &dev.key_file).await?;
                println!("{}", key.expose());
                Ok(())
            }
            "gateway.port" => {
                println!("{port}");
                Ok(())
            }
            "gateway.bind" => {
                println!("{bind}");
                Ok(())
            }
            other => bail!("unknown config path `{other}`; known: gateway.auth.token, gateway.port, gateway.bind"),
        },
    }
}

const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// `OPENCLAW_MODELS_<TIER>`, each checked at start so a typo is an error, not an open door.
fn tier_models(
    args: &ServeArgs,
) -> anyhow::Result<std::collections::HashMap<Tier, openclaw_domain::ModelAllowList>> {
    let mut lists = std::collections::HashMap::new();
    for (tier, var, raw) in [
        (Tier::Free, "OPENCLAW_MODELS_FREE", &args.models_free),
        (Tier::Pro, "OPENCLAW_MODELS_PRO", &args.models_pro),
        (
            Tier::Enterprise,
            "OPENCLAW_MODELS_ENTERPRISE",
            &args.models_enterprise,
        ),
    ] {
        if let Some(raw) = raw.as_deref().filter(|r| !r.trim().is_empty()) {
            let list = openclaw_domain::ModelAllowList::parse_csv(raw).map_err(|bad| {
                anyhow!("{var}: `{bad}` is neither `provider/model` nor a pattern ending in `*`")
            })?;
            lists.insert(tier, list);
        }
    }
    Ok(lists)
}

async fn connect(db: &DbArgs) -> anyhow::Result<Store> {
    Store::connect(&db.database_url, db.db_max_connections)
        .await
        .context("cannot connect to Postgres (check DATABASE_URL)")
}

/// Migrates as the migrator: `OPENCLAW_MIGRATOR_URL`, else `fallback` (dev-setup's
/// `DATABASE_URL`), else the environment's `DATABASE_URL`.
async fn migrate(migrator: &MigratorArgs, fallback: Option<&str>) -> anyhow::Result<()> {
    let env_url = std::env::var("DATABASE_URL").ok();
    let url = migrator
        .migrator_url
        .as_deref()
        .or(fallback)
        .or(env_url.as_deref())
        .ok_or_else(|| anyhow!("set OPENCLAW_MIGRATOR_URL (or DATABASE_URL) to migrate"))?;
    openclaw_store::create_database_if_missing(url)
        .await
        .context("cannot create the database (check OPENCLAW_MIGRATOR_URL)")?;
    let store = Store::connect_bounded(url, 2, None)
        .await
        .context("cannot connect to Postgres (check OPENCLAW_MIGRATOR_URL)")?;
    let options = openclaw_store::RoleOptions {
        app_password: migrator.app_db_password.clone().map(Into::into),
    };
    store
        .migrate_with(&options)
        .await
        .context("migration failed")?;
    store.close().await;
    Ok(())
}

/// What `serve` and `worker` check before taking work: the schema is current, and their role is
/// one row-level security binds (unless the operator allowed otherwise, for development).
async fn ready_to_serve(store: &Store, rls: RlsArgs) -> anyhow::Result<()> {
    let pending = store.pending_migrations().await?;
    if !pending.is_empty() {
        bail!("the database is missing migrations {pending:?}: run `openclaw migrate` first");
    }
    let stance = store
        .rls_stance()
        .await
        .context("cannot read the database role")?;
    if stance.bypasses() {
        if !rls.allow_rls_bypass {
            bail!(
                "{}, so row-level security would not isolate tenants: connect as `{}` \
                 (DATABASE_URL; `openclaw migrate` creates it), or set \
                 OPENCLAW_ALLOW_RLS_BYPASS=true for development",
                stance.reason(),
                openclaw_store::APP_ROLE
            );
        }
        tracing::warn!(
            "{}: row-level security does not bind this process (OPENCLAW_ALLOW_RLS_BYPASS=true; development only)",
            stance.reason()
        );
    }
    Ok(())
}

/// `secret` or `kid:secret,kid:secret`; the first key signs.
pub fn parse_jwt_keys(raw: &str) -> anyhow::Result<Vec<JwtKey>> {
    let mut keys = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (kid, secret) = match item.split_once(':') {
            Some((kid, secret))
                if !kid.is_empty()
                    && kid
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
            {
                (kid.to_string(), secret.to_string())
            }
            _ => ("default".to_string(), item.to_string()),
        };
        if secret.len() < 32 {
            bail!("OPENCLAW_JWT_SECRET: each secret must be at least 32 characters");
        }
        keys.push(JwtKey {
            kid,
            secret: secret.into(),
        });
    }
    if keys.is_empty() {
        bail!("OPENCLAW_JWT_SECRET is empty");
    }
    Ok(keys)
}

fn spawn_signal_handler(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
        tracing::info!("shutdown requested: draining");
        shutdown.cancel();
    });
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = connect(&args.db).await?;
    ready_to_serve(&store, args.rls).await?;
    let redis = args
        .redis_url
        .as_deref()
        .map(|url| {
            Redis::new(
                url,
                &args.redis_prefix,
                Duration::from_millis(args.redis_timeout_ms),
            )
        })
        .transpose()
        .context("REDIS_URL is not a valid Redis URL")?;
    if redis.is_none() {
        tracing::warn!("REDIS_URL is not set: single-replica mode (local limits and fan-out)");
    }
    let tier_models = tier_models(&args)?;
    let config = Config {
        bind: args.bind,
        port: args.port,
        metrics_port: args.metrics_port,
        admin_token: args.admin_token.filter(|t| !t.is_empty()).map(Into::into),
        jwt_keys: args
            .jwt_secret
            .as_deref()
            .map(parse_jwt_keys)
            .transpose()?
            .unwrap_or_default(),
        jwt_default_ttl: Duration::from_secs(args.jwt_ttl_secs),
        jwt_max_ttl: Duration::from_secs(args.jwt_max_ttl_secs),
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        body_limit_bytes: args.body_limit_bytes,
        auth_cache_ttl: Duration::from_secs(args.auth_cache_ttl_secs),
        auth_failures_per_minute: args.auth_failures_per_minute,
        trust_forwarded_for: args.trust_forwarded_for,
        redis_prefix: args.redis_prefix.clone(),
        redis_timeout: Duration::from_millis(args.redis_timeout_ms),
        drain_delay: Duration::from_secs(args.drain_delay_secs),
        memory: args.worker.memory.config(),
        skills: args.worker.skills.config(),
        ws: args.ws.config(),
        tier_models,
        run_turn_lease: args.worker.runs.lease(),
        run_sweep_interval: args.worker.runs.sweep_interval(),
        write_behind: args.worker.runs.write_behind(),
        ..Config::default()
    };
    if config.jwt_default_ttl.is_zero() || config.jwt_default_ttl > config.jwt_max_ttl {
        bail!("OPENCLAW_JWT_TTL_SECS must be between 1 and OPENCLAW_JWT_MAX_TTL_SECS");
    }
    match &config.admin_token {
        None => tracing::warn!(
            "OPENCLAW_ADMIN_TOKEN is not set: the operator API refuses every request"
        ),
        // The operator token creates tenants and keys: a short one is guessable.
        Some(t) if t.expose_secret().chars().count() < MIN_ADMIN_TOKEN_CHARS => bail!(
            "OPENCLAW_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_CHARS} characters \
             (for example `openssl rand -hex 32`)"
        ),
        Some(_) => {}
    }
    let listener = TcpListener::bind((args.bind, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.bind, args.port))?;
    let metrics_listener = TcpListener::bind((args.bind, args.metrics_port))
        .await
        .with_context(|| {
            format!(
                "cannot listen for metrics on {}:{}",
                args.bind, args.metrics_port
            )
        })?;
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());
    let providers = openclaw_engine::Providers::new(openclaw_engine::ProvidersConfig::from_env())
        .context("model provider configuration")?;
    tracing::info!(default_model = %providers.default_model(), providers = ?providers.provider_names(), "models");
    let providers = Arc::new(providers);
    let worker_redis = redis.clone();
    let state = openclaw_api::build_state(config, store.clone(), redis, providers.clone());
    let running =
        openclaw_api::serve(state, listener, Some(metrics_listener), shutdown.clone()).await?;
    tracing::info!(addr = %running.addr, metrics = ?running.metrics_addr, "openclaw serving");
    let worker = args.with_worker.then(|| {
        tokio::spawn(openclaw_worker::run(
            store.clone(),
            worker_redis,
            providers,
            worker_config(&args.worker),
            shutdown.clone(),
        ))
    });
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    let stopped = async {
        running.finished().await;
        if let Some(w) = worker {
            let _ = w.await;
        }
    };
    tokio::select! {
        _ = stopped => {}
        _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("shutdown grace period elapsed; exiting with work in flight");
        }
    }
    store.close().await;
    Ok(())
}

fn worker_config(args: &crate::cli::WorkerArgs) -> openclaw_worker::WorkerConfig {
    openclaw_worker::WorkerConfig {
        concurrency: args.worker_concurrency.max(1),
        lease: Duration::from_secs(args.job_lease_secs.max(3)),
        poll_interval: Duration::from_millis(args.job_poll_ms.max(50)),
        drain_grace: Duration::from_secs(args.worker_drain_secs),
        compact_every: Duration::from_secs(args.memory.memory_compact_every_secs.max(1)),
        runs: openclaw_engine::RunsConfig {
            memory: args.memory.config(),
            skills: args.skills.config(),
            turn_lease: args.runs.lease(),
            sweep_interval: args.runs.sweep_interval(),
            write_behind: args.runs.write_behind(),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn resolve_tenant(store: &Store, raw: Option<&str>) -> anyhow::Result<TenantRecord> {
    match raw {
        Some(raw) => {
            let id: TenantId = raw
                .parse()
                .map_err(|_| anyhow!("malformed tenant id {raw}"))?;
            store
                .get_tenant(id)
                .await?
                .ok_or_else(|| anyhow!("no tenant {raw}"))
        }
        None => store.find_tenant_by_name(DEV_TENANT).await?.ok_or_else(|| {
            anyhow!(
                "no development tenant: run `make run` (or `openclaw dev-setup`), or pass --tenant"
            )
        }),
    }
}

/// Reuses the saved development key while it is still valid; otherwise issues and saves one.
async fn ensure_dev_key(
    store: &Store,
    file: &Path,
) -> anyhow::Result<(TenantRecord, ApiKeySecret)> {
    let tenant = match store.find_tenant_by_name(DEV_TENANT).await? {
        Some(t) => t,
        None => {
            store
                .create_tenant(Actor::Cli, DEV_TENANT, Tier::Pro)
                .await?
        }
    };
    if let Ok(saved) = std::fs::read_to_string(file) {
        if let Ok(secret) = ApiKeySecret::parse(saved.trim()) {
            if let Some(p) = store.principal_by_hash(&secret.hash()).await? {
                if p.tenant.id == tenant.id && p.key.revoked_at.is_none() {
                    return Ok((tenant, secret));
                }
            }
        }
    }
    let (_, secret) = store
        .create_key(
            Actor::Cli,
            NewApiKey {
                tenant: tenant.id,
                name: "development",
                scopes: None,
                expires_at: None,
            },
        )
        .await?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(file, format!("{}\n", secret.expose()))
        .with_context(|| format!("cannot write {}", file.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600));
    }
    Ok((tenant, secret))
}

async fn dev_setup(
    migrator: &MigratorArgs,
    db: &DbArgs,
    dev: &DevArgs,
    port: u16,
) -> anyhow::Result<()> {
    migrate(migrator, Some(&db.database_url)).await?;
    let store = connect(db).await?;
    let (tenant, key) = ensure_dev_key(&store, &dev.key_file).await?;
    println!(
        "Development tenant: {} ({}, tier {})",
        tenant.id,
        tenant.name,
        tenant.tier.as_str()
    );
    println!("API key:            {}", key.expose());
    println!("Saved in:           {}", dev.key_file.display());
    println!();
    println!(
        "Try:  curl -H \"Authorization: Bearer {}\" http://127.0.0.1:{port}/v1/status",
        key.expose()
    );
    Ok(())
}

/// Tells running replicas about a change made behind their back, when Redis is given.
async fn announce(msg: ControlMessage) {
    let Ok(url) = std::env::var("REDIS_URL") else {
        eprintln!("note: REDIS_URL is not set; running replicas notice the change within their cache lifetime");
        return;
    };
    let prefix = std::env::var("OPENCLAW_REDIS_PREFIX").unwrap_or_else(|_| "oc:".into());
    let sent = match Redis::new(&url, &prefix, Duration::from_secs(2)) {
        Ok(r) => Arc::clone(&r).publish_control(&msg).await.is_ok(),
        Err(_) => false,
    };
    if !sent {
        eprintln!("warning: could not announce the change on Redis");
    }
}

async fn tenant(cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create { db, name, tier } => {
            let tier = Tier::parse(&tier)
                .ok_or_else(|| anyhow!("tier must be free, pro or enterprise"))?;
            let store = connect(&db).await?;
            let t = store.create_tenant(Actor::Cli, &name, tier).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&openclaw_api::views::TenantView::of(&t))?
            );
        }
        TenantCommand::List { db } => {
            let store = connect(&db).await?;
            let (tenants, _) = store.list_tenants(1000, 0).await?;
            for t in tenants {
                println!(
                    "{}\t{}\t{}\t{}",
                    t.id,
                    t.tier.as_str(),
                    t.status.as_str(),
                    t.name
                );
            }
        }
        TenantCommand::Update {
            db,
            id,
            tier,
            status,
            requests_per_hour,
            burst,
            concurrent_requests,
        } => {
            let store = connect(&db).await?;
            let current = resolve_tenant(&store, Some(&id)).await?;
            let any_limit =
                requests_per_hour.is_some() || burst.is_some() || concurrent_requests.is_some();
            let overrides = any_limit.then(|| LimitOverrides {
                requests_per_hour: requests_per_hour.or(current.overrides.requests_per_hour),
                burst: burst.or(current.overrides.burst),
                concurrent_requests: concurrent_requests.or(current.overrides.concurrent_requests),
                ..current.overrides
            });
            if let Some(o) = overrides {
                o.validate()
                    .map_err(|f| anyhow!("{f} must be at least 1"))?;
            }
            let patch = TenantPatch {
                name: None,
                default_model: None,
                allowed_models: None,
                tier: tier
                    .map(|t| {
                        Tier::parse(&t)
                            .ok_or_else(|| anyhow!("tier must be free, pro or enterprise"))
                    })
                    .transpose()?,
                overrides,
                status: status
                    .map(|s| {
                        TenantStatus::parse(&s)
                            .ok_or_else(|| anyhow!("status must be active or suspended"))
                    })
                    .transpose()?,
            };
            let t = store
                .update_tenant(Actor::Cli, current.id, &patch)
                .await?
                .ok_or_else(|| anyhow!("no tenant {id}"))?;
            announce(ControlMessage::TenantChanged { tenant_id: t.id }).await;
            println!(
                "{}",
                serde_json::to_string_pretty(&openclaw_api::views::TenantView::of(&t))?
            );
        }
    }
    Ok(())
}

async fn key(cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Generate {
            db,
            name,
            tenant,
            scopes,
        } => {
            let store = connect(&db).await?;
            let tenant = resolve_tenant(&store, tenant.as_deref()).await?;
            let scopes = scopes
                .map(|s| {
                    Scopes::parse_tenant(s.iter().map(String::as_str))
                        .map_err(|bad| anyhow!("unknown scope `{bad}`"))
                })
                .transpose()?;
            let (k, secret) = store
                .create_key(
                    Actor::Cli,
                    NewApiKey {
                        tenant: tenant.id,
                        name: &name,
                        scopes,
                        expires_at: None,
                    },
                )
                .await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&openclaw_api::views::KeyView::created(&k, &secret))?
            );
        }
        KeyCommand::List { db, tenant } => {
            let store = connect(&db).await?;
            let tenant = resolve_tenant(&store, tenant.as_deref()).await?;
            for k in store.list_keys(tenant.id, true).await? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}…{}\t{}\t{}", k.id, k.prefix, k.last4, state, k.name);
            }
        }
        KeyCommand::Revoke { db, key_id, tenant } => {
            let store = connect(&db).await?;
            let tenant = resolve_tenant(&store, tenant.as_deref()).await?;
            let id: ApiKeyId = key_id
                .parse()
                .map_err(|_| anyhow!("malformed key id {key_id}"))?;
            let k = store
                .revoke_key(Actor::Cli, tenant.id, id)
                .await?
                .ok_or_else(|| anyhow!("tenant {} has no key {key_id}", tenant.id))?;
            announce(ControlMessage::KeyRevoked {
                key_id: k.id,
                key_hash: hex::encode(k.key_hash.0),
            })
            .await;
            println!("revoked {}", k.id);
        }
    }
    Ok(())
}
