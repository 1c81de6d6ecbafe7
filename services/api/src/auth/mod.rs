//! Who is calling: credentials (API key, JWT; Bearer, Basic or `X-OpenClaw-Password`), the
//! in-process cache of key lookups kept honest by the control channel, the throttle on repeated
//! failures from one address, and the batched `last_used_at` write.

pub mod jwt;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::Engine;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use openclaw_domain::{
    ApiKeyId, ApiKeySecret, Error, ErrorKind, KeyHash, Limits, ModelAllowList, Scope, Scopes,
    TenantId, TenantStatus, Tier,
};
use openclaw_store::redis::{ControlEvent, ControlMessage};
use openclaw_store::{Principal, Store, StoreError};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::{ApiError, ApiResult};
use jwt::Jwt;

/// While the control channel is down, revocations may be missed: trust a lookup this long only.
const UNCONFIRMED_FRESHNESS: Duration = Duration::from_secs(1);

/// The caller of a tenant route, as the handlers see it.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub tier: Tier,
    pub limits: Limits,
    /// The tenant's default model, if the operator set one.
    pub default_model: Option<String>,
    pub key_id: ApiKeyId,
    pub scopes: Scopes,
    pub via: CredentialKind,
    /// JWTs may be limited to one session.
    pub session: Option<String>,
    /// The tenant's concurrency permit of this request, which a run it starts takes over.
    pub permit: PermitSlot,
    /// The models it may name: the tenant's own list if the operator set one, else its tier's
    /// (`None`: every model).
    pub allowed_models: Option<Arc<ModelAllowList>>,
}

/// Where the rate-limit layer leaves a request's concurrency permit: the request holds it
/// unless a run takes it (`runs::start`), which then holds it until the run ends.
#[derive(Debug, Clone, Default)]
pub struct PermitSlot(Arc<std::sync::Mutex<Option<Arc<OwnedSemaphorePermit>>>>);

impl PermitSlot {
    pub fn holding(permit: Arc<OwnedSemaphorePermit>) -> PermitSlot {
        PermitSlot(Arc::new(std::sync::Mutex::new(Some(permit))))
    }

    pub fn take(&self) -> Option<Arc<OwnedSemaphorePermit>> {
        self.0.lock().expect("permit slot").take()
    }
}

impl Authenticated {
    /// A token limited to one session sees that session only; everything else does not exist
    /// for it (404, as for another tenant's).
    pub fn sees_session(&self, key: &str) -> bool {
        self.session.as_deref().is_none_or(|s| s == key)
    }

    /// Whether a run in session `key` (`None`: a stateless completion, in no session) is the
    /// caller's to see.
    pub fn sees_run(&self, key: Option<&str>) -> bool {
        match key {
            Some(key) => self.sees_session(key),
            None => self.session.is_none(),
        }
    }

    /// Whether a task or agent is the caller's to see: any of the tenant's for an unlimited
    /// credential, its own session's for one limited to a session.
    pub fn sees_job(&self, job: &openclaw_store::JobRecord) -> bool {
        self.session.is_none() || job.session_key == self.session
    }

    /// What the caller's runs may do with memory: nothing without the `memory` scope, its own
    /// session's for a session-limited credential.
    pub fn memory_access(&self) -> openclaw_engine::MemoryAccess {
        use openclaw_engine::MemoryAccess;
        if !self.scopes.contains(Scope::Memory) {
            MemoryAccess::Off
        } else if self.session.is_some() {
            MemoryAccess::Session
        } else {
            MemoryAccess::Tenant
        }
    }

    /// Changes to what the whole tenant uses (its skills, say) are not a session-limited
    /// credential's to make.
    pub fn require_tenant_wide(&self, action: &str) -> ApiResult<()> {
        match self.session {
            None => Ok(()),
            Some(_) => Err(ApiError(Error::forbidden(format!(
                "a token limited to one session cannot {action}"
            )))),
        }
    }

    /// Key management and token minting take an API key that is not limited to a session: a
    /// token (short-lived, perhaps one session's) can never make a credential that outlives
    /// it or reaches further.
    pub fn require_key(&self, action: &str) -> ApiResult<()> {
        if self.via == CredentialKind::ApiKey && self.session.is_none() {
            Ok(())
        } else {
            Err(ApiError(
                Error::forbidden(format!(
                    "{action} takes an API key with the `keys` scope, not a token"
                ))
                .with_details(serde_json::json!({"required_credential": "api_key"})),
            ))
        }
    }

    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError(
                Error::forbidden(format!(
                    "this credential lacks the `{}` scope",
                    scope.as_str()
                ))
                .with_details(serde_json::json!({"required_scope": scope.as_str()})),
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or_else(|| ApiError::internal("tenant route served without the auth layer"))
    }
}

/// Put on responses so the metrics layer can label by tier.
#[derive(Debug, Clone, Copy)]
pub struct TierTag(pub Tier);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    ApiKey,
    Jwt,
}

/// A credential as presented, before it is checked.
#[derive(Debug, Clone)]
pub enum Credential {
    ApiKey(String),
    Jwt(String),
}

impl Credential {
    /// An API key by its prefix, anything else a JWT.
    pub fn classify(token: &str) -> Credential {
        if token.starts_with(openclaw_domain::api_key::PREFIX) {
            Credential::ApiKey(token.to_string())
        } else {
            Credential::Jwt(token.to_string())
        }
    }

    /// Reads `Authorization` (Bearer or Basic with the key as password), then
    /// `X-OpenClaw-Password`. `Ok(None)` when the request carries neither.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Credential>, AuthFailure> {
        if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
            let value = value
                .to_str()
                .map_err(|_| {
                    AuthFailure::new("malformed_header", "Authorization header is not valid text")
                })?
                .trim();
            let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
            let rest = rest.trim();
            if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
                return Ok(Some(Credential::classify(rest)));
            }
            if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        AuthFailure::new(
                            "malformed_header",
                            "Basic credentials are not valid base64",
                        )
                    })?;
                let password = decoded.split_once(':').map(|(_, p)| p).unwrap_or(&decoded);
                if password.is_empty() {
                    return Err(AuthFailure::new(
                        "malformed_header",
                        "Basic credentials carry no API key as the password",
                    ));
                }
                return Ok(Some(Credential::classify(password)));
            }
            return Err(AuthFailure::new(
                "malformed_header",
                "Authorization must be `Bearer <API key or token>` or `Basic <base64 of :API key>`",
            ));
        }
        if let Some(value) = headers.get("x-openclaw-password") {
            let token = value.to_str().map(str::trim).unwrap_or_default();
            if token.is_empty() {
                return Err(AuthFailure::new(
                    "malformed_header",
                    "X-OpenClaw-Password is empty",
                ));
            }
            return Ok(Some(Credential::classify(token)));
        }
        Ok(None)
    }
}

/// A refused credential: the client's error and a bounded reason label for metrics and logs.
#[derive(Debug)]
pub struct AuthFailure {
    pub reason: &'static str,
    pub error: ApiError,
}

impl AuthFailure {
    fn new(reason: &'static str, message: &str) -> Self {
        AuthFailure {
            reason,
            error: ApiError(Error::unauthorized(message)),
        }
    }

    /// An address over its failure budget: 429, with when to try again.
    pub fn throttled() -> Self {
        AuthFailure {
            reason: "throttled",
            error: ApiError(blocked_error()),
        }
    }

    fn store(e: StoreError) -> Self {
        AuthFailure {
            reason: "store_error",
            error: ApiError::from(e),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum CacheKey {
    Hash(KeyHash),
    Id(ApiKeyId),
}

struct Cached {
    principal: Principal,
    fetched: Instant,
}

/// The refusal of an address throttled for repeated failed authentications.
pub fn blocked_error() -> Error {
    Error::new(
        ErrorKind::RateLimited,
        "Too many failed authentication attempts from this address. Try again in 60 seconds.",
    )
}

/// Lookups of keys not in the cache that all throttled addresses together may make each second:
/// enough for the honest clients sharing an address with a guesser (behind one load balancer
/// or NAT) to get in, too few for guessing to load the database.
const THROTTLED_LOOKUPS_PER_SEC: u32 = 20;

pub struct AuthService {
    store: Store,
    jwt: Jwt,
    cache: moka::sync::Cache<CacheKey, Arc<Cached>>,
    control_up: AtomicBool,
    /// Bumped by every invalidation. A lookup that started before one does not cache its
    /// result: it may have read the row just before the revocation committed.
    generation: AtomicU64,
    failures: DefaultKeyedRateLimiter<IpAddr>,
    blocked: moka::sync::Cache<IpAddr, ()>,
    throttled_lookups: governor::DefaultDirectRateLimiter,
    tier_models: std::collections::HashMap<Tier, Arc<ModelAllowList>>,
    last_used: DashMap<ApiKeyId, DateTime<Utc>>,
}

impl AuthService {
    pub fn new(
        store: Store,
        jwt: Jwt,
        cache_ttl: Duration,
        failures_per_minute: u32,
        tier_models: std::collections::HashMap<Tier, ModelAllowList>,
    ) -> AuthService {
        let per_minute = NonZeroU32::new(failures_per_minute.max(1)).expect("non-zero");
        AuthService {
            store,
            jwt,
            cache: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(cache_ttl)
                .build(),
            control_up: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            failures: RateLimiter::keyed(Quota::per_minute(per_minute)),
            blocked: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            throttled_lookups: RateLimiter::direct(Quota::per_second(
                NonZeroU32::new(THROTTLED_LOOKUPS_PER_SEC).expect("non-zero"),
            )),
            tier_models: tier_models
                .into_iter()
                .map(|(t, l)| (t, Arc::new(l)))
                .collect(),
            last_used: DashMap::new(),
        }
    }

    pub fn jwt(&self) -> &Jwt {
        &self.jwt
    }

    /// Shared, not cloned: this runs on every authenticated request.
    async fn lookup(&self, key: CacheKey) -> Result<Option<Arc<Cached>>, StoreError> {
        if let Some(hit) = self.cache.get(&key) {
            let trusted = self.control_up.load(Ordering::Relaxed)
                || hit.fetched.elapsed() < UNCONFIRMED_FRESHNESS;
            if trusted {
                return Ok(Some(hit));
            }
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let found = match key {
            CacheKey::Hash(h) => self.store.principal_by_hash(&h).await?,
            CacheKey::Id(id) => self.store.principal_by_key_id(id).await?,
        };
        // Unknown keys are not cached: the failure throttle is what protects the database.
        let Some(principal) = found else {
            return Ok(None);
        };
        let fresh = Arc::new(Cached {
            principal,
            fetched: Instant::now(),
        });
        if self.generation.load(Ordering::SeqCst) == generation {
            self.cache.insert(key, fresh.clone());
        }
        Ok(Some(fresh))
    }

    /// Checks a credential presented from `ip` all the way: format, lookup, revocation,
    /// expiry, tenant status. An address that failed too often lately is not shut out — behind
    /// a load balancer it is every client's — but its failures answer 429, and keys it presents
    /// that the cache does not know share a small lookup budget; a signed token or a cached key
    /// gets in as from anywhere.
    pub async fn authenticate(
        &self,
        credential: Credential,
        ip: IpAddr,
    ) -> Result<Authenticated, AuthFailure> {
        let throttled = self.blocked.contains_key(&ip);
        let result = self.check(credential, throttled).await;
        match result {
            Err(f) if throttled && f.error.kind() == ErrorKind::Unauthorized => {
                Err(AuthFailure::throttled())
            }
            other => other,
        }
    }

    async fn check(
        &self,
        credential: Credential,
        throttled: bool,
    ) -> Result<Authenticated, AuthFailure> {
        match credential {
            Credential::ApiKey(raw) => {
                let secret = ApiKeySecret::parse(&raw).map_err(|e| {
                    AuthFailure::new("malformed_key", &format!("Invalid API key: {e}"))
                })?;
                let key = CacheKey::Hash(secret.hash());
                if throttled
                    && !self.cache.contains_key(&key)
                    && self.throttled_lookups.check().is_err()
                {
                    return Err(AuthFailure::throttled());
                }
                let found = self
                    .lookup(key)
                    .await
                    .map_err(AuthFailure::store)?
                    .ok_or_else(|| AuthFailure::new("unknown_key", "Invalid API key"))?;
                let p = &found.principal;
                self.admit(p, p.key.effective_scopes(), None, CredentialKind::ApiKey)
            }
            Credential::Jwt(token) => {
                let claims = self.jwt.verify(&token).map_err(|reason| {
                    let message = if reason == "expired" {
                        "Token has expired"
                    } else {
                        "Invalid token"
                    };
                    AuthFailure {
                        reason: if reason == "expired" {
                            "expired_token"
                        } else {
                            "invalid_token"
                        },
                        error: ApiError(Error::unauthorized(message)),
                    }
                })?;
                let found = self
                    .lookup(CacheKey::Id(claims.key))
                    .await
                    .map_err(AuthFailure::store)?
                    .filter(|c| c.principal.tenant.id == claims.sub)
                    .ok_or_else(|| AuthFailure::new("invalid_token", "Invalid token"))?;
                let p = &found.principal;
                let scopes = claims.scopes.intersect(p.key.effective_scopes());
                self.admit(p, scopes, claims.sid, CredentialKind::Jwt)
            }
        }
    }

    fn admit(
        &self,
        p: &Principal,
        scopes: Scopes,
        session: Option<String>,
        via: CredentialKind,
    ) -> Result<Authenticated, AuthFailure> {
        if p.key.revoked_at.is_some() {
            return Err(AuthFailure::new("revoked_key", "API key has been revoked"));
        }
        if p.key.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(AuthFailure::new("expired_key", "API key has expired"));
        }
        if p.tenant.status == TenantStatus::Suspended {
            return Err(AuthFailure {
                reason: "tenant_suspended",
                error: ApiError::new(
                    ErrorKind::Forbidden,
                    "This account is suspended; contact support",
                ),
            });
        }
        self.last_used.insert(p.key.id, Utc::now());
        Ok(Authenticated {
            tenant_id: p.tenant.id,
            limits: p.tenant.limits(),
            tier: p.tenant.tier,
            tenant_name: p.tenant.name.clone(),
            default_model: p.tenant.default_model.clone(),
            key_id: p.key.id,
            scopes,
            via,
            session,
            permit: PermitSlot::default(),
            allowed_models: match &p.tenant.allowed_models {
                // Checked when the operator set it; were a stored list unreadable, the tenant
                // gets no model it names (fail closed), never every model.
                Some(own) => Some(Arc::new(
                    ModelAllowList::parse(own).unwrap_or_else(|_| ModelAllowList::none()),
                )),
                None => self.tier_models.get(&p.tenant.tier).cloned(),
            },
        })
    }

    /// True when `ip` has failed too often lately.
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        self.blocked.contains_key(&ip)
    }

    pub fn note_failure(&self, ip: IpAddr) {
        if self.failures.check_key(&ip).is_err() {
            if !self.blocked.contains_key(&ip) {
                tracing::warn!(%ip, "too many failed authentications; throttling this address for a minute");
            }
            self.blocked.insert(ip, ());
        }
    }

    /// Drops failure counters of addresses that have not failed lately, so memory stays bounded.
    pub fn forget_old_failures(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
    }

    pub fn invalidate_key(&self, id: ApiKeyId, hash: KeyHash) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate(&CacheKey::Id(id));
        self.cache.invalidate(&CacheKey::Hash(hash));
    }

    /// Tenant changes are rare: dropping every cached principal is simpler than indexing them.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
    }

    pub fn on_control(&self, event: ControlEvent) {
        match event {
            ControlEvent::Connected => {
                self.invalidate_all();
                self.control_up.store(true, Ordering::Relaxed);
            }
            ControlEvent::Disconnected => self.control_up.store(false, Ordering::Relaxed),
            ControlEvent::Message(ControlMessage::KeyRevoked { key_id, key_hash }) => {
                match hex::decode(&key_hash)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                {
                    Some(h) => self.invalidate_key(key_id, KeyHash(h)),
                    None => self.invalidate_all(),
                }
            }
            ControlEvent::Message(ControlMessage::TenantChanged { .. }) => self.invalidate_all(),
            // Runs and jobs are not auth's business; their registries listen for these.
            ControlEvent::Message(
                ControlMessage::RunAbort { .. }
                | ControlMessage::JobCancel { .. }
                | ControlMessage::JobEnded { .. },
            ) => {}
        }
    }

    /// Writes the batched `last_used_at` times; called on a timer and at shutdown.
    pub async fn flush_last_used(&self) {
        let keys: Vec<ApiKeyId> = self.last_used.iter().map(|e| *e.key()).collect();
        let batch: Vec<(ApiKeyId, DateTime<Utc>)> = keys
            .into_iter()
            .filter_map(|k| self.last_used.remove(&k))
            .collect();
        if let Err(e) = self.store.touch_keys(&batch).await {
            tracing::warn!(error = %e, keys = batch.len(), "could not record key use; will retry");
            for (k, t) in batch {
                self.last_used.entry(k).or_insert(t);
            }
        }
    }
}
