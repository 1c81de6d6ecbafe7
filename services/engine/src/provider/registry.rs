//! The provider registry: which providers are configured, which model is the default, how a
//! requested model name resolves to a provider, and the model list offered at `/v1/models`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use openclaw_domain::{Error, ErrorKind};
use secrecy::SecretString;
use serde_json::json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::anthropic::{self, Anthropic};
use super::builtin::{self, Builtin};
use super::names::DEFAULT_MODEL;
use super::openai::{self, OpenAiCompatible};
use super::transport::{build_client, HttpConfig};
use super::types::ModelRef;
use super::{ModelInfo, Provider};

/// An upstream's address and, when it needs one, its key.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub base_url: String,
    pub api_key: Option<SecretString>,
}

/// Which providers exist besides the built-in one. `Debug` is safe to log: keys are redacted.
#[derive(Debug, Clone, Default)]
pub struct ProvidersConfig {
    pub openai: Option<EndpointConfig>,
    pub anthropic: Option<EndpointConfig>,
    /// `provider/model`; `builtin/echo` when unset.
    pub default_model: Option<String>,
    /// The model memory search embeds with (`openai/text-embedding-3-small`); none: lexical
    /// search alone.
    pub embedding_model: Option<String>,
    pub http: HttpConfig,
}

impl ProvidersConfig {
    /// Reads API.md §7's variables through `lookup`, so tests never touch the process
    /// environment. A provider is configured when its key or its base URL is set; blank
    /// values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let endpoint = |base: &str, key: &str, default_base: &str| {
            let (base_url, api_key) = (get(base), get(key));
            (base_url.is_some() || api_key.is_some()).then(|| EndpointConfig {
                base_url: base_url.unwrap_or_else(|| default_base.to_owned()),
                api_key: api_key.map(SecretString::from),
            })
        };
        ProvidersConfig {
            openai: endpoint(
                "OPENAI_BASE_URL",
                "OPENAI_API_KEY",
                openai::DEFAULT_BASE_URL,
            ),
            anthropic: endpoint(
                "ANTHROPIC_BASE_URL",
                "ANTHROPIC_API_KEY",
                anthropic::DEFAULT_BASE_URL,
            ),
            default_model: get("OPENCLAW_DEFAULT_MODEL"),
            embedding_model: get("OPENCLAW_EMBEDDING_MODEL"),
            http: HttpConfig::default(),
        }
    }

    /// `from_lookup` over the process environment.
    pub fn from_env() -> Self {
        ProvidersConfig::from_lookup(|name| std::env::var(name).ok())
    }
}

/// An upstream's model list is fresh this long.
const MODELS_TTL: Duration = Duration::from_secs(300);
/// After a failed fetch, the next try waits this long, so `/v1/models` never hammers a dead
/// upstream.
const MODELS_RETRY: Duration = Duration::from_secs(30);
/// `/v1/models` must answer promptly even when an upstream does not.
const MODELS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

struct CachedModels {
    at: Instant,
    fresh_for: Duration,
    models: Vec<ModelInfo>,
}

struct Entry {
    provider: Arc<dyn Provider>,
    // One lock per provider: concurrent listings wait for one fetch instead of each making it.
    models: Mutex<Option<CachedModels>>,
}

/// What a provider's model listing says of a model a client named.
#[derive(Debug, PartialEq)]
enum Listed {
    /// No listing yet.
    Unknown,
    Exact,
    /// Not listed itself, but snapshots of it are: the latest one's model name.
    Dated(String),
    Missing,
}

/// The configured providers, by name.
pub struct Providers {
    entries: BTreeMap<String, Entry>,
    default_model: ModelRef,
    embedding_model: Option<String>,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Providers")
            .field("providers", &self.entries.keys().collect::<Vec<_>>())
            .field("default_model", &self.default_model.to_string())
            .finish()
    }
}

impl Providers {
    /// Builds every configured provider on one shared HTTP client. Fails when the default
    /// model is malformed or names a provider that is not configured: better at start-up than
    /// on every request.
    pub fn new(config: ProvidersConfig) -> Result<Providers, Error> {
        let mut providers: Vec<Arc<dyn Provider>> = vec![Arc::new(Builtin)];
        if config.openai.is_some() || config.anthropic.is_some() {
            let http = build_client(&config.http)?;
            if let Some(e) = config.openai {
                providers.push(Arc::new(OpenAiCompatible::new(
                    e.base_url,
                    e.api_key,
                    http.clone(),
                    config.http,
                )));
            }
            if let Some(e) = config.anthropic {
                providers.push(Arc::new(Anthropic::new(
                    e.base_url,
                    e.api_key,
                    http,
                    config.http,
                )));
            }
        }
        let default = config.default_model.as_deref().unwrap_or(DEFAULT_MODEL);
        let default_model = ModelRef::parse(default)
            .map_err(|e| Error::invalid("OPENCLAW_DEFAULT_MODEL", e.message))?;
        let mut registry = Providers::with_providers(providers, default_model)?;
        if let Some(model) = config.embedding_model {
            registry
                .resolve(Some(&model))
                .map_err(|e| Error::invalid("OPENCLAW_EMBEDDING_MODEL", e.message))?;
            registry.embedding_model = Some(model);
        }
        Ok(registry)
    }

    /// Whether an embedding model is configured.
    pub fn embeds(&self) -> bool {
        self.embedding_model.is_some()
    }

    /// Embeds `inputs` with the configured embedding model; `None` when there is none.
    pub async fn embed(&self, inputs: &[String]) -> Option<Result<Vec<Vec<f32>>, Error>> {
        let model = self.embedding_model.as_deref()?;
        // The operator's choice: never refused for missing from a listing (embedding models
        // often are).
        let resolved = self
            .named(model)
            .and_then(|model| Ok((self.lookup(&model)?, model)));
        Some(match resolved {
            Ok((provider, model)) => provider.embed(&model.model, inputs).await,
            Err(e) => Err(e),
        })
    }

    /// Only `builtin/echo`: what a deployment with no provider configured serves.
    pub fn builtin_only() -> Providers {
        Providers::with_providers(
            vec![Arc::new(Builtin)],
            ModelRef::new(builtin::PROVIDER, builtin::ECHO),
        )
        .expect("the builtin provider serves the builtin default")
    }

    /// A registry of the given providers (by their `name()`), for embedding and tests.
    pub fn with_providers(
        providers: Vec<Arc<dyn Provider>>,
        default_model: ModelRef,
    ) -> Result<Providers, Error> {
        let entries: BTreeMap<String, Entry> = providers
            .into_iter()
            .map(|provider| {
                let entry = Entry {
                    provider,
                    models: Mutex::new(None),
                };
                (entry.provider.name().to_owned(), entry)
            })
            .collect();
        let registry = Providers {
            entries,
            default_model,
            embedding_model: None,
        };
        registry
            .lookup(&registry.default_model)
            .map_err(|e| Error::invalid("OPENCLAW_DEFAULT_MODEL", e.message))?;
        Ok(registry)
    }

    pub fn default_model(&self) -> &ModelRef {
        &self.default_model
    }

    /// The configured providers' names, sorted.
    pub fn provider_names(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    pub fn get(&self, provider: &str) -> Option<Arc<dyn Provider>> {
        self.entries.get(provider).map(|e| e.provider.clone())
    }

    /// The provider for `model` (`provider/model`), or for the default model when `None`.
    /// An unknown provider is a 400 on `model` that lists the available ones.
    pub fn resolve(&self, model: Option<&str>) -> Result<(Arc<dyn Provider>, ModelRef), Error> {
        let model = match model {
            Some(name) => self.named(name)?,
            None => self.default_model.clone(),
        };
        // The default model is the operator's choice, not the client's: never refused for
        // missing from a listing.
        let provider = self.lookup(&model)?;
        if model == self.default_model {
            return Ok((provider, model));
        }
        // A model the upstream's own listing lacks would fail mid-run as an upstream error: the
        // client named it, so it is the client's 400, naming what can be served. Only checked
        // against a listing already fetched (never waited for here: this is the hot path).
        let listed = self
            .entries
            .get(&model.provider)
            .map(|e| Self::listed(e, &model));
        match listed {
            Some(Listed::Missing) => {
                let models = self.servable();
                Err(Error::invalid(
                    "model",
                    format!(
                        "this deployment does not serve `{model}`; it serves: {}",
                        models.join(", ")
                    ),
                )
                .with_details(json!({ "available_models": models })))
            }
            Some(Listed::Dated(id)) => Ok((provider, ModelRef::new(model.provider.clone(), id))),
            _ => Ok((provider, model)),
        }
    }

    /// A model as named: `provider/model`, or a bare name (see `infer_provider`).
    fn named(&self, name: &str) -> Result<ModelRef, Error> {
        if name.contains('/') {
            ModelRef::parse(name)
        } else {
            self.infer_provider(name)
        }
    }

    /// A bare model name, as the seeds (`"model": "gpt-4o"`, `model="claude-3-5-sonnet"`) and
    /// the OpenAI SDKs send it: the provider of its family when the name says, else the default
    /// model's provider (a self-hosted upstream's own names).
    fn infer_provider(&self, name: &str) -> Result<ModelRef, Error> {
        const OPENAI: [&str; 5] = ["gpt-", "chatgpt-", "o1", "o3", "o4"];
        let provider = if OPENAI.iter().any(|p| name.starts_with(p)) {
            "openai"
        } else if name.starts_with("claude") {
            "anthropic"
        } else {
            self.default_model.provider.as_str()
        };
        ModelRef::parse(&format!("{provider}/{name}"))
    }

    /// The provider serving `model` (not asking its listing: see `resolve`).
    fn lookup(&self, model: &ModelRef) -> Result<Arc<dyn Provider>, Error> {
        let Some(entry) = self.entries.get(&model.provider) else {
            let available = self.provider_names();
            let models = self.servable();
            return Err(Error::invalid(
                "model",
                format!(
                    "this deployment does not serve `{model}` (no provider `{}`; its providers \
                     are {}); it serves: {}",
                    model.provider,
                    available.join(", "),
                    models.join(", ")
                ),
            )
            .with_details(
                json!({ "available_providers": available, "available_models": models }),
            ));
        };
        let provider = entry.provider.clone();
        // The builtin's models are known here, so a wrong one fails now rather than mid-run.
        if model.provider == builtin::PROVIDER && !Builtin::models().contains(&model.model.as_str())
        {
            return Err(Error::invalid(
                "model",
                format!(
                    "unknown model `{model}`; the builtin provider offers: {}",
                    Builtin::models()
                        .iter()
                        .map(|m| format!("{}/{m}", builtin::PROVIDER))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(provider)
    }

    /// What `entry`'s cached listing says of `model`. No listing yet (or one being fetched
    /// right now) is `Unknown`: the upstream decides.
    fn listed(entry: &Entry, model: &ModelRef) -> Listed {
        let Ok(cached) = entry.models.try_lock() else {
            return Listed::Unknown;
        };
        let Some(c) = cached.as_ref().filter(|c| !c.models.is_empty()) else {
            return Listed::Unknown;
        };
        let id = model.to_string();
        if c.models.iter().any(|m| m.id == id) {
            return Listed::Exact;
        }
        // `claude-3-5-sonnet` (S3) names the family whose snapshots the upstream lists as
        // `claude-3-5-sonnet-20241022`: the latest snapshot serves it, as S3's answer shows.
        let family = format!("{id}-");
        c.models
            .iter()
            .filter_map(|m| m.id.strip_prefix(&family).map(|date| (date, &m.id)))
            .filter(|(date, _)| date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()))
            .max()
            .and_then(|(_, full)| full.split_once('/').map(|(_, name)| name.to_string()))
            .map_or(Listed::Missing, Listed::Dated)
    }

    /// The models this deployment can serve as far as it knows without asking: the builtin's,
    /// each provider's last listing, and the default model.
    pub fn servable(&self) -> Vec<String> {
        let mut names: Vec<String> = Builtin::models()
            .iter()
            .map(|m| format!("{}/{m}", builtin::PROVIDER))
            .collect();
        for entry in self.entries.values() {
            if let Ok(cached) = entry.models.try_lock() {
                for m in cached.iter().flat_map(|c| &c.models) {
                    if !names.contains(&m.id) {
                        names.push(m.id.clone());
                    }
                }
            }
        }
        let default = self.default_model.to_string();
        if !names.contains(&default) {
            names.push(default);
        }
        names
    }

    /// Every model on offer: each provider's own list (fetched lazily, cached, and skipped
    /// while its upstream fails) and the default model, deduplicated, in a stable order.
    pub async fn models(&self) -> Vec<ModelInfo> {
        let mut models: Vec<ModelInfo> = Vec::new();
        for entry in self.entries.values() {
            for model in Self::provider_models(entry).await {
                if !models.iter().any(|m| m.id == model.id) {
                    models.push(model);
                }
            }
        }
        let default = self.default_model.to_string();
        if !models.iter().any(|m| m.id == default) {
            models.push(ModelInfo {
                id: default,
                owned_by: self.default_model.provider.clone(),
                created: None,
            });
        }
        models
    }

    async fn provider_models(entry: &Entry) -> Vec<ModelInfo> {
        let mut cached = entry.models.lock().await;
        if let Some(c) = cached.as_ref() {
            if c.at.elapsed() < c.fresh_for {
                return c.models.clone();
            }
        }
        let fetched = tokio::time::timeout(MODELS_FETCH_TIMEOUT, entry.provider.models()).await;
        let (models, fresh_for) = match fetched {
            Ok(Ok(models)) => (models, MODELS_TTL),
            failed => {
                let error = match failed {
                    Ok(Err(e)) => e,
                    _ => Error::new(ErrorKind::UpstreamTimeout, "model list fetch timed out"),
                };
                tracing::warn!(
                    provider = entry.provider.name(),
                    error = %error,
                    "listing upstream models failed; serving the last known list"
                );
                let stale = cached
                    .as_ref()
                    .map(|c| c.models.clone())
                    .unwrap_or_default();
                (stale, MODELS_RETRY)
            }
        };
        *cached = Some(CachedModels {
            at: Instant::now(),
            fresh_for,
            models: models.clone(),
        });
        models
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::types::{ChatRequest, Completion};
    use crate::provider::ChatStream;
    use async_trait::async_trait;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn nothing_configured_means_builtin_echo() {
        let config = ProvidersConfig::from_lookup(env(&[("OPENAI_API_KEY", "  ")]));
        assert!(config.openai.is_none() && config.anthropic.is_none());
        let providers = Providers::new(config).unwrap();
        assert_eq!(providers.provider_names(), ["builtin"]);
        let (provider, model) = providers.resolve(None).unwrap();
        assert_eq!(provider.name(), "builtin");
        assert_eq!(model.to_string(), "builtin/echo");
    }

    #[test]
    fn env_configures_providers_and_the_default() {
        let config = ProvidersConfig::from_lookup(env(&[
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/"),
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("OPENCLAW_DEFAULT_MODEL", "anthropic/claude-3-5-sonnet"),
        ]));
        let openai = config.openai.as_ref().unwrap();
        assert_eq!(openai.base_url, "http://127.0.0.1:9/v1/");
        assert!(openai.api_key.is_none());
        let anthropic = config.anthropic.as_ref().unwrap();
        assert_eq!(anthropic.base_url, "https://api.anthropic.com");
        assert_eq!(
            anthropic.api_key.as_ref().unwrap().expose_secret(),
            "sk-ant-secret"
        );
        assert!(!format!("{config:?}").contains("sk-ant-secret"));

        let providers = Providers::new(config).unwrap();
        assert_eq!(
            providers.provider_names(),
            ["anthropic", "builtin", "openai"]
        );
        let (p, m) = providers.resolve(None).unwrap();
        assert_eq!(
            (p.name(), m.model.as_str()),
            ("anthropic", "claude-3-5-sonnet")
        );
        let (p, m) = providers
            .resolve(Some("openai/meta-llama/Llama-3"))
            .unwrap();
        assert_eq!(
            (p.name(), m.model.as_str()),
            ("openai", "meta-llama/Llama-3")
        );
        assert!(!format!("{providers:?}").contains("secret"));
    }

    #[test]
    fn unknown_provider_is_400_listing_the_available_ones() {
        let providers = Providers::builtin_only();
        let err = providers.resolve(Some("anthropic/claude")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
        assert_eq!(err.param.as_deref(), Some("model"));
        assert!(err.message.contains("`anthropic`"), "{}", err.message);
        assert!(
            err.message.contains("it serves: builtin/echo"),
            "{}",
            err.message
        );
        assert_eq!(err.details["available_providers"], json!(["builtin"]));
        assert_eq!(err.details["available_models"], json!(["builtin/echo"]));

        let err = providers.resolve(Some("gpt-4o")).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("model"));
        let err = providers.resolve(Some("builtin/parrot")).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("model"));
        assert!(err.message.contains("builtin/echo"), "{}", err.message);
    }

    #[test]
    fn bare_model_names_take_the_provider_of_their_family_else_the_default() {
        let providers = Providers::new(ProvidersConfig::from_lookup(env(&[
            ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
            ("OPENCLAW_DEFAULT_MODEL", "openai/qwen2.5"),
        ])))
        .unwrap();
        let named = |m: &str| providers.resolve(Some(m)).map(|(_, m)| m.to_string());
        assert_eq!(named("gpt-4o").unwrap(), "openai/gpt-4o");
        assert_eq!(named("o3-mini").unwrap(), "openai/o3-mini");
        // A self-hosted upstream's own names go to the default model's provider.
        assert_eq!(named("llama3").unwrap(), "openai/llama3");
        // Claude's family needs Anthropic, which this deployment lacks: 400 on `model`.
        let err = providers.resolve(Some("claude-3-5-sonnet")).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("model"));
        assert!(err.message.contains("anthropic"), "{}", err.message);
        assert_eq!(named("").unwrap_err().param.as_deref(), Some("model"));
    }

    #[test]
    fn a_default_model_of_an_unconfigured_provider_fails_at_start() {
        for bad in ["openai/gpt-4o", "not-a-model"] {
            let err = Providers::new(ProvidersConfig::from_lookup(env(&[(
                "OPENCLAW_DEFAULT_MODEL",
                bad,
            )])))
            .unwrap_err();
            assert_eq!(
                err.param.as_deref(),
                Some("OPENCLAW_DEFAULT_MODEL"),
                "{bad}"
            );
        }
    }

    /// A provider whose model list fails on demand and counts its fetches; with `fixed`, it
    /// lists those models (under `openai/`) instead of `model-<fetch number>`.
    #[derive(Debug, Default)]
    struct Listing {
        fetches: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
        fixed: Vec<&'static str>,
    }

    #[async_trait]
    impl Provider for Listing {
        fn name(&self) -> &str {
            "openai"
        }
        async fn complete(&self, _: &ChatRequest) -> Result<Completion, Error> {
            unreachable!()
        }
        async fn stream(&self, _: &ChatRequest) -> Result<ChatStream, Error> {
            unreachable!()
        }
        async fn models(&self) -> Result<Vec<ModelInfo>, Error> {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(Error::new(ErrorKind::Upstream, "down"));
            }
            if !self.fixed.is_empty() {
                return Ok(self
                    .fixed
                    .iter()
                    .map(|m| ModelInfo {
                        id: format!("openai/{m}"),
                        owned_by: "x".into(),
                        created: None,
                    })
                    .collect());
            }
            Ok(vec![ModelInfo {
                id: format!("openai/model-{n}"),
                owned_by: "x".into(),
                created: Some(1),
            }])
        }
    }

    #[tokio::test(start_paused = true)]
    async fn upstream_models_are_fetched_lazily_and_cached() {
        let listing = Arc::new(Listing::default());
        let providers = Providers::with_providers(
            vec![Arc::new(Builtin), listing.clone()],
            ModelRef::new("builtin", "echo"),
        )
        .unwrap();
        assert_eq!(listing.fetches.load(Ordering::SeqCst), 0, "lazy");
        let ids = |models: Vec<ModelInfo>| models.into_iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(
            ids(providers.models().await),
            ["builtin/echo", "openai/model-0"]
        );
        assert_eq!(
            ids(providers.models().await),
            ["builtin/echo", "openai/model-0"]
        );
        assert_eq!(listing.fetches.load(Ordering::SeqCst), 1, "cached");

        // Stale after the TTL; a failing upstream keeps the last good list and is not asked
        // again until the retry pause has passed.
        tokio::time::advance(MODELS_TTL + Duration::from_secs(1)).await;
        listing.fail.store(true, Ordering::SeqCst);
        assert_eq!(
            ids(providers.models().await),
            ["builtin/echo", "openai/model-0"]
        );
        assert_eq!(
            ids(providers.models().await),
            ["builtin/echo", "openai/model-0"]
        );
        assert_eq!(listing.fetches.load(Ordering::SeqCst), 2);
        tokio::time::advance(MODELS_RETRY + Duration::from_secs(1)).await;
        listing.fail.store(false, Ordering::SeqCst);
        assert_eq!(
            ids(providers.models().await),
            ["builtin/echo", "openai/model-2"]
        );
    }

    #[tokio::test]
    async fn a_model_the_upstream_does_not_list_is_400_naming_those_it_does() {
        let listing = Arc::new(Listing::default());
        let providers = Providers::with_providers(
            vec![Arc::new(Builtin), listing.clone()],
            ModelRef::new("builtin", "echo"),
        )
        .unwrap();
        // Before the list is known, the upstream decides.
        assert!(providers.resolve(Some("openai/qwen3.5-plus")).is_ok());
        providers.models().await;
        let err = providers.resolve(Some("openai/qwen3.5-plus")).unwrap_err();
        assert_eq!(
            (err.kind, err.param.as_deref()),
            (ErrorKind::InvalidRequest, Some("model"))
        );
        assert!(
            err.message
                .contains("it serves: builtin/echo, openai/model-0"),
            "{}",
            err.message
        );
        assert_eq!(
            err.details["available_models"],
            json!(["builtin/echo", "openai/model-0"])
        );
        assert!(providers.resolve(Some("openai/model-0")).is_ok());
        // A family name resolves to its latest dated snapshot, when the listing has some.
        let dated = Arc::new(Listing {
            fixed: vec!["claude-3-5-sonnet-20240620", "claude-3-5-sonnet-20241022"],
            ..Default::default()
        });
        let providers = Providers::with_providers(
            vec![Arc::new(Builtin), dated],
            ModelRef::new("builtin", "echo"),
        )
        .unwrap();
        providers.models().await;
        let (_, model) = providers.resolve(Some("openai/claude-3-5-sonnet")).unwrap();
        assert_eq!(model.to_string(), "openai/claude-3-5-sonnet-20241022");
        assert!(providers.resolve(Some("openai/claude-3")).is_err());
    }

    #[tokio::test]
    async fn the_default_model_is_always_listed() {
        let providers = Providers::new(ProvidersConfig {
            anthropic: Some(EndpointConfig {
                base_url: "http://127.0.0.1:9".into(),
                api_key: None,
            }),
            default_model: Some("anthropic/claude-3-5-haiku".into()),
            ..Default::default()
        })
        .unwrap();
        let ids: Vec<_> = providers.models().await.into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["builtin/echo", "anthropic/claude-3-5-haiku"]);
    }
}
