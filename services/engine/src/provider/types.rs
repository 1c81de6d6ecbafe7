//! The provider-neutral vocabulary of a model call: requests, messages, tool calls, completions
//! and stream events. Every provider translates to and from these; nothing here knows HTTP.

use std::fmt;
use std::str::FromStr;

use openclaw_domain::Error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A model named `provider/model`. Only the first `/` separates the two, because upstream model
/// ids may contain slashes themselves (`openai/meta-llama/Llama-3-8B` on vLLM).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    pub provider: String,
    pub model: String,
}

impl ModelRef {
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        ModelRef {
            provider: provider.into(),
            model: model.into(),
        }
    }

    /// Parses `provider/model`; a malformed name is a 400 naming the `model` parameter.
    pub fn parse(name: &str) -> Result<ModelRef, Error> {
        let malformed = || {
            Error::invalid(
                "model",
                format!(
                    "model `{name}` is not of the form `provider/model` \
                     (for example `openai/gpt-4o` or `builtin/echo`)"
                ),
            )
        };
        let (provider, model) = name.split_once('/').ok_or_else(malformed)?;
        let provider_ok = !provider.is_empty()
            && provider
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        let model_ok = !model.is_empty() && !model.chars().any(char::is_whitespace);
        if !provider_ok || !model_ok {
            return Err(malformed());
        }
        Ok(ModelRef::new(provider, model))
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

impl FromStr for ModelRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelRef::parse(s)
    }
}

// On the wire a model is always its `provider/model` string, never an object.
impl Serialize for ModelRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ModelRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ModelRef::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One message of a conversation. An assistant message may carry the tool calls it made; a
/// `tool` message carries one tool's result and names the call it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The provider's own record of the model's reasoning on this assistant turn (Anthropic's
    /// `thinking`/`redacted_thinking` blocks, signature and all), opaque to everything else.
    /// Anthropic wants it back verbatim within a tool loop; other providers ignore it. It lives
    /// only within one run's loop and is never stored with the history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning: Vec<Value>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            reasoning: Vec::new(),
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage::new(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage::new(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage::new(Role::Assistant, content)
    }

    /// The result of the tool call `tool_call_id`, to send back to the model.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            tool_call_id: Some(tool_call_id.into()),
            ..ChatMessage::new(Role::Tool, content)
        }
    }
}

/// A tool the model may call; `parameters` is the JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// A call the model made. `arguments` is the parsed JSON the model produced; when the model
/// produced text that is not JSON it is kept verbatim as a JSON string, so the run loop can
/// tell the model its call was malformed instead of losing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// How the model may use the tools it is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "name")]
pub enum ToolChoice {
    /// The model decides (the upstream default when tools are given).
    Auto,
    /// The model must answer in text.
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Tool(String),
}

/// How much the model reasons before it answers (S4's `options.thinking`). Each provider maps it
/// to its own setting for the models that have one and ignores it for the others, so asking is
/// never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Thinking {
    Off,
    Minimal,
    Low,
    Medium,
    High,
}

impl Thinking {
    pub const ALL: [Thinking; 5] = [
        Thinking::Off,
        Thinking::Minimal,
        Thinking::Low,
        Thinking::Medium,
        Thinking::High,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Thinking::Off => "off",
            Thinking::Minimal => "minimal",
            Thinking::Low => "low",
            Thinking::Medium => "medium",
            Thinking::High => "high",
        }
    }

    /// The level by its wire name; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Thinking> {
        Thinking::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for Thinking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: ModelRef,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub stop: Vec<String>,
    /// `None`: the provider's and model's own default.
    #[serde(default)]
    pub thinking: Option<Thinking>,
}

impl ChatRequest {
    pub fn new(model: ModelRef, messages: Vec<ChatMessage>) -> Self {
        ChatRequest {
            model,
            messages,
            tools: Vec::new(),
            tool_choice: None,
            temperature: None,
            max_tokens: None,
            stop: Vec::new(),
            thinking: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Why the model stopped. Upstream reasons we do not know are kept verbatim in `Other`
/// rather than guessed at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Other(String),
}

impl FinishReason {
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other(s) => s,
        }
    }

    /// The canonical (OpenAI) spelling back to a reason.
    pub fn from_name(s: &str) -> FinishReason {
        match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(FinishReason::from_name(&String::deserialize(d)?))
    }
}

/// A whole answer. `model` is the model as the upstream reported it (no provider prefix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub model: String,
    /// The provider's reasoning blocks, for `ChatMessage::reasoning` (never answer text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning: Vec<Value>,
}

/// One step of a streamed answer. A stream is zero or more `Delta`s, `ToolCall`s and
/// `Reasoning`s, then exactly one `Done` — or an `Err` item, after which it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamEvent {
    /// The next piece of the answer's text.
    Delta(String),
    /// A tool call, emitted once, complete, after its arguments are fully assembled.
    ToolCall(ToolCall),
    /// One of the provider's reasoning blocks, complete (see `ChatMessage::reasoning`): kept
    /// with the assistant's turn, never shown as answer text.
    Reasoning(Value),
    Done {
        finish_reason: FinishReason,
        usage: Usage,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_domain::ErrorKind;

    #[test]
    fn model_ref_splits_on_the_first_slash_only() {
        let m = ModelRef::parse("openai/meta-llama/Llama-3-8B").unwrap();
        assert_eq!(m.provider, "openai");
        assert_eq!(m.model, "meta-llama/Llama-3-8B");
        assert_eq!(m.to_string(), "openai/meta-llama/Llama-3-8B");
        assert_eq!(
            "builtin/echo".parse::<ModelRef>().unwrap(),
            ModelRef::new("builtin", "echo")
        );
    }

    #[test]
    fn malformed_model_names_are_400_naming_model() {
        for bad in [
            "",
            "gpt-4o",
            "/gpt-4o",
            "openai/",
            "Open AI/gpt",
            "openai/gpt 4",
        ] {
            let err = ModelRef::parse(bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidRequest, "{bad:?}");
            assert_eq!(err.param.as_deref(), Some("model"), "{bad:?}");
            assert!(err.message.contains("provider/model"), "{}", err.message);
        }
    }

    #[test]
    fn model_ref_serialises_as_its_string() {
        let m = ModelRef::new("anthropic", "claude-3-5-sonnet");
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v, serde_json::json!("anthropic/claude-3-5-sonnet"));
        let back: ModelRef = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_value::<ModelRef>(serde_json::json!("nope")).is_err());
    }

    #[test]
    fn thinking_levels_round_trip_their_names() {
        for level in Thinking::ALL {
            assert_eq!(Thinking::from_name(level.as_str()), Some(level));
            let v = serde_json::to_value(level).unwrap();
            assert_eq!(v, serde_json::json!(level.as_str()));
            assert_eq!(serde_json::from_value::<Thinking>(v).unwrap(), level);
        }
        assert_eq!(Thinking::from_name("max"), None);
        assert_eq!(Thinking::from_name("High"), None);
    }

    #[test]
    fn finish_reason_round_trips_unknown_values() {
        for name in [
            "stop",
            "length",
            "tool_calls",
            "content_filter",
            "pause_turn",
        ] {
            let r = FinishReason::from_name(name);
            assert_eq!(r.as_str(), name);
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(serde_json::from_value::<FinishReason>(v).unwrap(), r);
        }
        assert_eq!(
            FinishReason::from_name("pause_turn"),
            FinishReason::Other("pause_turn".into())
        );
    }
}
