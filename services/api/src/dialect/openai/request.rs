//! OpenAI's chat-completions request: its wire types, and parsing one into a `RunRequest` (the
//! client's whole `messages` list becomes the run's `conversation`).

use axum::http::HeaderMap;
use openclaw_engine::{ChatMessage, Role, RunRequest, ToolCall, ToolChoice, ToolSpec};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};

/// Names the session a chat completion talks in; OpenAI's body has no such field.
pub const SESSION_HEADER: &str = "x-openclaw-session-key";

/// A field that is accepted and ignored.
type Ignored = Option<IgnoredAny>;

// ---- the request ---------------------------------------------------------------------------

/// `POST /v1/chat/completions`. Unknown fields are a 400 naming them, like everywhere in the
/// API; the `_`-prefixed ones are sampling and bookkeeping knobs that clients send routinely
/// but a gateway in front of several providers cannot honour uniformly, so they are accepted
/// and ignored (as OpenAI-compatible servers do) rather than breaking those clients.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionBody {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    messages: Option<Vec<InMessage>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    tools: Option<Vec<InTool>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    stop: Option<Value>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default, rename = "top_p")]
    _top_p: Ignored,
    #[serde(default, rename = "presence_penalty")]
    _presence_penalty: Ignored,
    #[serde(default, rename = "frequency_penalty")]
    _frequency_penalty: Ignored,
    #[serde(default, rename = "seed")]
    _seed: Ignored,
    #[serde(default, rename = "logit_bias")]
    _logit_bias: Ignored,
    #[serde(default, rename = "logprobs")]
    _logprobs: Ignored,
    #[serde(default, rename = "top_logprobs")]
    _top_logprobs: Ignored,
    #[serde(default, rename = "response_format")]
    _response_format: Ignored,
    #[serde(default, rename = "parallel_tool_calls")]
    _parallel_tool_calls: Ignored,
    #[serde(default, rename = "metadata")]
    _metadata: Ignored,
    #[serde(default, rename = "store")]
    _store: Ignored,
    #[serde(default, rename = "service_tier")]
    _service_tier: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// One of `messages`. `content` is checked by hand (a string, an array of parts or null) so
/// that a bad part is a 400 naming exactly that part.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<InToolCall>>,
    #[serde(default)]
    tool_call_id: Option<String>,
    // A participant's name, and what the SDKs send back when a client appends the assistant
    // message it received to its next request: accepted, not used.
    #[serde(default, rename = "name")]
    _name: Ignored,
    #[serde(default, rename = "refusal")]
    _refusal: Ignored,
    #[serde(default, rename = "function_call")]
    _function_call: Ignored,
    #[serde(default, rename = "audio")]
    _audio: Ignored,
    #[serde(default, rename = "annotations")]
    _annotations: Ignored,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InToolCall {
    id: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    function: InCalledFunction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InCalledFunction {
    name: String,
    /// JSON text, as OpenAI sends it (an object here is a 400, as it is there).
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InTool {
    #[serde(rename = "type")]
    kind: String,
    function: InFunction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InFunction {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default, rename = "strict")]
    _strict: Ignored,
}

/// What the request amounts to: the run to start, and how to answer.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) run: RunRequest,
    /// Which field named the session, for errors about it.
    pub(crate) session_param: &'static str,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
}

/// The text of a message's `content`: a string, or text parts (joined by newlines, since the
/// run's messages are plain text); `None` for null or absent.
fn content_text(at: &str, content: Option<Value>) -> ApiResult<Option<String>> {
    match content {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let here = format!("{at}[{j}]");
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {}
                    Some(other) => {
                        return Err(ApiError::invalid(
                            format!("{here}.type"),
                            format!(
                                "content parts of type `{other}` are not supported; only `text` parts are"
                            ),
                        ));
                    }
                    None => {
                        return Err(ApiError::invalid(
                            format!("{here}.type"),
                            "each content part needs a `type` (only `text` is supported)",
                        ));
                    }
                }
                let text = part.get("text").and_then(Value::as_str).ok_or_else(|| {
                    ApiError::invalid(
                        format!("{here}.text"),
                        "a `text` part needs a string `text`",
                    )
                })?;
                texts.push(text);
            }
            Ok(Some(texts.join("\n")))
        }
        Some(_) => Err(ApiError::invalid(
            at,
            "`content` must be a string or an array of content parts",
        )),
    }
}

/// OpenAI sends a call's arguments as JSON text; the run works with the parsed value. Text that
/// is not JSON is kept verbatim as a JSON string (`ToolCall`'s convention), so it goes back
/// upstream exactly as it came.
fn arguments_value(raw: Option<String>) -> Value {
    match raw {
        None => json!({}),
        Some(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// And back: the arguments as the JSON text OpenAI clients `json.loads`.
pub(crate) fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    }
}

fn convert_message(i: usize, m: InMessage) -> ApiResult<ChatMessage> {
    let at = format!("messages[{i}]");
    let role = match m.role.as_str() {
        // `developer` is what OpenAI's newer models call the system prompt.
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => {
            return Err(ApiError::invalid(
                format!("{at}.role"),
                format!("unknown role `{other}`; use system, user, assistant or tool"),
            ));
        }
    };
    let content = content_text(&format!("{at}.content"), m.content)?;
    let calls = m.tool_calls.unwrap_or_default();
    if !calls.is_empty() && role != Role::Assistant {
        return Err(ApiError::invalid(
            format!("{at}.tool_calls"),
            "only assistant messages carry `tool_calls`",
        ));
    }
    if m.tool_call_id.is_some() && role != Role::Tool {
        return Err(ApiError::invalid(
            format!("{at}.tool_call_id"),
            "only tool messages carry `tool_call_id`",
        ));
    }
    // An assistant turn that only called tools has no text; every other message needs some.
    let content = match content {
        Some(text) => text,
        None if role == Role::Assistant && !calls.is_empty() => String::new(),
        None => {
            return Err(ApiError::invalid(
                format!("{at}.content"),
                format!("a {} message needs `content`", role.as_str()),
            ));
        }
    };
    let mut message = ChatMessage::new(role, content);
    for (j, call) in calls.into_iter().enumerate() {
        if call.kind.as_deref().is_some_and(|k| k != "function") {
            return Err(ApiError::invalid(
                format!("{at}.tool_calls[{j}].type"),
                "only `function` tool calls are supported",
            ));
        }
        message.tool_calls.push(ToolCall {
            id: call.id,
            name: call.function.name,
            arguments: arguments_value(call.function.arguments),
        });
    }
    if role == Role::Tool {
        let id = m.tool_call_id.filter(|id| !id.is_empty()).ok_or_else(|| {
            ApiError::invalid(
                format!("{at}.tool_call_id"),
                "a tool message needs the `tool_call_id` it answers",
            )
        })?;
        message.tool_call_id = Some(id);
    }
    Ok(message)
}

fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn convert_tools(tools: Vec<InTool>) -> ApiResult<Vec<ToolSpec>> {
    tools
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            if t.kind != "function" {
                return Err(ApiError::invalid(
                    format!("tools[{i}].type"),
                    "only `function` tools are supported",
                ));
            }
            let f = t.function;
            if !valid_tool_name(&f.name) {
                return Err(ApiError::invalid(
                    format!("tools[{i}].function.name"),
                    "a function name is 1 to 64 of a-z, A-Z, 0-9, `_` and `-`",
                ));
            }
            let parameters = match f.parameters {
                None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
                Some(p @ Value::Object(_)) => p,
                Some(_) => {
                    return Err(ApiError::invalid(
                        format!("tools[{i}].function.parameters"),
                        "`parameters` must be a JSON Schema object",
                    ));
                }
            };
            Ok(ToolSpec {
                name: f.name,
                description: f.description.unwrap_or_default(),
                parameters,
            })
        })
        .collect()
}

fn convert_tool_choice(choice: Option<Value>, tools: &[ToolSpec]) -> ApiResult<Option<ToolChoice>> {
    let bad = || {
        ApiError::invalid(
            "tool_choice",
            "`tool_choice` must be \"auto\", \"none\", \"required\" or \
             {\"type\": \"function\", \"function\": {\"name\": …}}",
        )
    };
    let choice = match choice {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => return Err(bad()),
        },
        Some(Value::Object(o)) => {
            if o.get("type").and_then(Value::as_str) != Some("function") {
                return Err(bad());
            }
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            ToolChoice::Tool(name.to_string())
        }
        Some(_) => return Err(bad()),
    };
    // Forcing a tool needs one to force; OpenAI refuses these too.
    match &choice {
        ToolChoice::Required if tools.is_empty() => Err(ApiError::invalid(
            "tool_choice",
            "`tool_choice: required` needs `tools`",
        )),
        ToolChoice::Tool(name) if !tools.iter().any(|t| &t.name == name) => Err(ApiError::invalid(
            "tool_choice",
            format!("`tool_choice` names `{name}`, which is not among `tools`"),
        )),
        _ => Ok(Some(choice)),
    }
}

fn convert_stop(stop: Option<Value>) -> ApiResult<Vec<String>> {
    let bad = || {
        ApiError::invalid(
            "stop",
            "`stop` must be a string or an array of at most 4 strings",
        )
    };
    match stop {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(items)) if items.len() <= 4 => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// Validates the request and turns it into the run it asks for. `session_header` is
/// `x-openclaw-session-key`, which wins over `user`.
pub(crate) fn parse(body: CompletionBody, session_header: Option<String>) -> ApiResult<Parsed> {
    let model = body.model.filter(|m| !m.trim().is_empty()).ok_or_else(|| {
        ApiError::invalid(
            "model",
            "`model` is required, as `provider/model` (for example `builtin/echo`)",
        )
    })?;
    let messages = body.messages.unwrap_or_default();
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "messages",
            "`messages` needs at least one message",
        ));
    }
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n", "only `n: 1` is supported"));
    }
    if let Some(t) = body.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(ApiError::invalid(
                "temperature",
                "`temperature` must be between 0 and 2",
            ));
        }
    }
    // `max_completion_tokens` is the current name; `max_tokens` the deprecated one.
    let max_tokens = match (body.max_completion_tokens, body.max_tokens) {
        (Some(0), _) => {
            return Err(ApiError::invalid(
                "max_completion_tokens",
                "`max_completion_tokens` must be at least 1",
            ));
        }
        (None, Some(0)) => {
            return Err(ApiError::invalid(
                "max_tokens",
                "`max_tokens` must be at least 1",
            ));
        }
        (a, b) => a.or(b),
    };
    let stop = convert_stop(body.stop)?;
    let tools = convert_tools(body.tools.unwrap_or_default())?;
    let tool_choice = convert_tool_choice(body.tool_choice, &tools)?;
    let conversation = messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| convert_message(i, m))
        .collect::<ApiResult<Vec<_>>>()?;
    // The session records the user's latest words as this turn; the model gets everything.
    let (last_user, message) = conversation
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.role == Role::User)
        .map(|(i, m)| (i, m.content.clone()))
        .ok_or_else(|| {
            ApiError::invalid("messages", "`messages` needs at least one user message")
        })?;
    if message.trim().is_empty() {
        return Err(ApiError::invalid(
            format!("messages[{last_user}].content"),
            "the last user message must not be empty",
        ));
    }
    let (session_key, session_param) = match (session_header, body.user) {
        (Some(key), _) => (Some(key), SESSION_HEADER),
        (None, Some(user)) => (Some(user), "user"),
        (None, None) => (None, "user"),
    };
    let stream = body.stream.unwrap_or(false);
    Ok(Parsed {
        run: RunRequest {
            session_key,
            message,
            model: Some(model),
            temperature: body.temperature,
            max_tokens,
            stop,
            tools,
            tool_choice,
            conversation: Some(conversation),
            ..Default::default()
        },
        session_param,
        stream,
        // Only meaningful when streaming; OpenAI's non-stream answer always has usage.
        include_usage: stream
            && body
                .stream_options
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
    })
}

pub(crate) fn session_header(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get(SESSION_HEADER) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .map(|s| Some(s.trim().to_string()))
            .ok_or_else(|| {
                ApiError::invalid(
                    SESSION_HEADER,
                    format!("`{SESSION_HEADER}` must be printable ASCII"),
                )
            }),
    }
}
