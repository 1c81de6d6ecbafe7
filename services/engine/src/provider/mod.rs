//! Model providers: the `Provider` trait every model backend implements, its implementations
//! (OpenAI-compatible, Anthropic, built-in echo) and the registry that picks one by model name.

mod anthropic;
mod builtin;
mod openai;
mod registry;
mod transport;
mod types;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use openclaw_domain::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use anthropic::Anthropic;
pub use builtin::Builtin;
pub use openai::OpenAiCompatible;
pub use registry::{EndpointConfig, Providers, ProvidersConfig};
pub use transport::{build_client, HttpConfig, RetryPolicy, Timeouts};
pub use types::{
    ChatMessage, ChatRequest, Completion, FinishReason, ModelRef, Role, StreamEvent, Thinking,
    ToolCall, ToolChoice, ToolSpec, Usage,
};

/// Well-known names and defaults of each provider.
pub mod names {
    pub use super::anthropic::{
        API_VERSION as ANTHROPIC_API_VERSION, DEFAULT_BASE_URL as ANTHROPIC_DEFAULT_BASE_URL,
        DEFAULT_MAX_TOKENS as ANTHROPIC_DEFAULT_MAX_TOKENS, PROVIDER as ANTHROPIC,
    };
    pub use super::builtin::{ECHO, PROVIDER as BUILTIN};
    pub use super::openai::{DEFAULT_BASE_URL as OPENAI_DEFAULT_BASE_URL, PROVIDER as OPENAI};
    /// The model used when none is asked for and none is configured.
    pub const DEFAULT_MODEL: &str = "builtin/echo";
}

/// A streamed answer: `Delta`s, `ToolCall`s and `Reasoning`s, then `Done`; or an `Err` as the
/// last item.
pub type ChatStream = BoxStream<'static, Result<StreamEvent, Error>>;

/// A model as `/v1/models` lists it. `id` is the full `provider/model` name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub owned_by: String,
    /// Unix seconds, when the upstream says.
    pub created: Option<i64>,
}

/// A model backend. `async_trait` (boxed futures) because the registry hands providers out as
/// `Arc<dyn Provider>`, and native `async fn` in traits is not object-safe.
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// The `provider` part of the model names this provider serves.
    fn name(&self) -> &str;

    /// The whole answer at once.
    async fn complete(&self, req: &ChatRequest) -> Result<Completion, Error>;

    /// The answer as it is produced. Failures before any output are retried inside and
    /// returned here; a failure after output is the stream's last item.
    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, Error>;

    /// The models this provider offers, by full name; empty when it cannot say.
    async fn models(&self) -> Result<Vec<ModelInfo>, Error> {
        Ok(Vec::new())
    }

    /// One embedding vector per input, in order, from `model` (the name without the provider
    /// prefix). Providers without an embeddings API refuse.
    async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, Error> {
        let _ = inputs;
        Err(Error::invalid(
            "OPENCLAW_EMBEDDING_MODEL",
            format!("provider `{}` has no embeddings for `{model}`", self.name()),
        ))
    }
}

/// Drains a stream into the `Completion` it amounts to; `model` names it.
pub async fn collect(mut stream: ChatStream, model: &str) -> Result<Completion, Error> {
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    let mut reasoning = Vec::new();
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Delta(text) => content.push_str(&text),
            StreamEvent::ToolCall(call) => tool_calls.push(call),
            StreamEvent::Reasoning(block) => reasoning.push(block),
            StreamEvent::Done {
                finish_reason,
                usage,
            } => {
                return Ok(Completion {
                    content,
                    tool_calls,
                    finish_reason,
                    usage,
                    model: model.to_owned(),
                    reasoning,
                });
            }
        }
    }
    // Providers always end with `Done` or an error; this guards a hand-made stream.
    Err(Error::new(
        openclaw_domain::ErrorKind::Upstream,
        "the model's stream ended without an answer",
    ))
}

/// `0.7f32` as the JSON number `0.7`: widening to `f64` directly would send
/// `0.699999988079071`, not the value the caller asked for.
pub(crate) fn temperature_json(t: f32) -> Value {
    t.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}
