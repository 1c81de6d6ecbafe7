//! Anthropic's Messages API: system prompt and tool_use/tool_result mapping, extended thinking
//! (the run's thinking level as a token budget, and the signed thinking blocks a tool loop has to
//! send back), answer parsing, and the content-block event stream turned into `StreamEvent`s.

use std::collections::BTreeMap;

use async_trait::async_trait;
use openclaw_domain::Error;
use reqwest::RequestBuilder;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

use super::transport::{
    cut_short, parse_arguments, stream_error, upstream_error, Failure, HttpConfig, SseDecoder,
    Upstream,
};
use super::types::{
    ChatRequest, Completion, FinishReason, Role, StreamEvent, Thinking, ToolCall, ToolChoice, Usage,
};
use super::{temperature_json, ChatStream, ModelInfo, Provider};

pub const PROVIDER: &str = "anthropic";
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version this mapping is written against.
pub const API_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; 4096 is the largest value every current model accepts.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The Messages API at `base_url` (without `/v1`, as Anthropic documents its base).
// Debug is safe to derive: the key inside `Upstream` is a `SecretString`.
#[derive(Debug)]
pub struct Anthropic {
    base_url: String,
    upstream: Upstream,
}

impl Anthropic {
    pub fn new(
        base_url: impl Into<String>,
        api_key: Option<SecretString>,
        http: reqwest::Client,
        config: HttpConfig,
    ) -> Self {
        Anthropic {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            upstream: Upstream {
                provider: PROVIDER,
                http,
                config,
                api_key,
            },
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn post(&self, body: &Value) -> RequestBuilder {
        let request = self
            .upstream
            .http
            .post(format!("{}/v1/messages", self.base_url))
            .json(body);
        self.authorised(request)
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.header("anthropic-version", API_VERSION);
        match self.upstream.key_header("") {
            Some(key) => request.header("x-api-key", key),
            None => request,
        }
    }
}

/// `GET /v1/models`: Anthropic's page of models (1 000 is its largest page; no account has more).
#[derive(Deserialize)]
struct ModelPage {
    #[serde(default)]
    data: Vec<WireModel>,
}

#[derive(Deserialize)]
struct WireModel {
    id: String,
    /// RFC 3339, where OpenAI's list has Unix seconds.
    #[serde(default)]
    created_at: Option<String>,
}

#[async_trait]
impl Provider for Anthropic {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn complete(&self, req: &ChatRequest) -> Result<Completion, Error> {
        let body = request_body(req, false);
        let answer: MessagesResponse = self.upstream.json(|| self.post(&body)).await?;
        Ok(answer.into_completion(&req.model.model))
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, Error> {
        let body = request_body(req, true);
        self.upstream
            .sse(|| self.post(&body), || AnthropicDecoder::new(PROVIDER))
            .await
    }

    async fn models(&self) -> Result<Vec<ModelInfo>, Error> {
        let url = format!("{}/v1/models?limit=1000", self.base_url);
        let page: ModelPage = self
            .upstream
            .json(|| self.authorised(self.upstream.http.get(&url)))
            .await?;
        Ok(page
            .data
            .into_iter()
            .map(|m| ModelInfo {
                id: format!("{PROVIDER}/{}", m.id),
                owned_by: PROVIDER.to_owned(),
                created: m
                    .created_at
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.timestamp()),
            })
            .collect())
    }
}

/// Whether `model` has extended thinking: Claude 3.7 Sonnet and every model from the 4 family on
/// (`claude-sonnet-4…`, `claude-opus-4-1…`, `claude-haiku-4-5…`, and later names of either
/// scheme); not Claude 3.5, the Claude 3 models, Claude 2 or Instant, which reject `thinking`.
fn supports_thinking(model: &str) -> bool {
    let Some(name) = model.strip_prefix("claude-") else {
        return false;
    };
    let mut parts = name.split('-');
    let number = |part: Option<&str>| part.and_then(|p| p.parse::<u32>().ok());
    match parts.next() {
        // `claude-<family>-<major>…`, the naming since the 4 family.
        Some("opus" | "sonnet" | "haiku") => number(parts.next()).is_some_and(|major| major >= 4),
        // `claude-<major>[-<minor>]-<family>…`: 3.7 on. A minor is a digit or two, never the
        // date some ids end with.
        first => number(first).is_some_and(|major| {
            let minor = parts
                .next()
                .filter(|p| p.len() <= 2)
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0);
            (major, minor) >= (3, 7)
        }),
    }
}

/// Tokens the model may think for at each level. The API's least is 1 024.
fn thinking_budget(thinking: Thinking) -> Option<u32> {
    match thinking {
        Thinking::Off => None,
        Thinking::Minimal => Some(1024),
        Thinking::Low => Some(4000),
        Thinking::Medium => Some(8000),
        Thinking::High => Some(16000),
    }
}

/// The thinking budget of this call, if thinking is on for it. Off wherever the API would refuse
/// it: models without it, forced tool use (the API allows only `auto` and `none` with
/// thinking), and a tool loop already begun without thinking (the assistant's turn must keep one
/// mode throughout, and its last message must then start with a thinking block it does not
/// have) — a call forced to use a tool, once made, leaves the rest of its loop unthinking.
fn thinking_for(req: &ChatRequest) -> Option<u32> {
    let budget = thinking_budget(req.thinking?)?;
    if !supports_thinking(&req.model.model) {
        return None;
    }
    let forced = matches!(
        req.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Tool(_))
    );
    if forced && !req.tools.is_empty() {
        return None;
    }
    let unthinking_loop = req
        .messages
        .iter()
        .rev()
        .take_while(|m| m.role != Role::User)
        .any(|m| m.role == Role::Assistant && !m.tool_calls.is_empty() && m.reasoning.is_empty());
    (!unthinking_loop).then_some(budget)
}

/// The `POST /v1/messages` body. System messages become the top-level `system`; tool results
/// are `tool_result` blocks of a user turn; consecutive turns of one role are merged, because
/// the API wants user and assistant to alternate. With thinking on, an assistant message's
/// thinking blocks go back first, verbatim, as the API requires within a tool loop.
pub(crate) fn request_body(req: &ChatRequest, stream: bool) -> Value {
    let thinking = thinking_for(req);
    let system: Vec<&str> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System && !m.content.is_empty())
        .map(|m| m.content.as_str())
        .collect();
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for m in &req.messages {
        let text = || json!({"type": "text", "text": m.content});
        let (role, blocks) = match m.role {
            Role::System => continue,
            // Empty text blocks are a 400 upstream.
            Role::User => (
                "user",
                (!m.content.is_empty()).then(text).into_iter().collect(),
            ),
            Role::Assistant => {
                // Without thinking they would be the only thinking in the request; they are only
                // needed while it is on.
                let mut blocks: Vec<Value> = match thinking {
                    Some(_) => m.reasoning.clone(),
                    None => Vec::new(),
                };
                blocks.extend((!m.content.is_empty()).then(text));
                blocks.extend(m.tool_calls.iter().map(|c| {
                    // `input` must be an object; a malformed call we kept verbatim cannot be
                    // replayed as one, so it goes back empty.
                    let input = if c.arguments.is_object() {
                        c.arguments.clone()
                    } else {
                        json!({})
                    };
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input})
                }));
                ("assistant", blocks)
            }
            Role::Tool => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                    "content": m.content,
                })],
            ),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let answer_tokens = req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let mut body = json!({
        "model": req.model.model,
        // Thinking is counted in `max_tokens`, which must exceed its budget: the answer keeps
        // the room it was given on top of the budget.
        "max_tokens": answer_tokens + thinking.unwrap_or(0),
        "messages": turns
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect::<Vec<_>>(),
        "stream": stream,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        if let Some(choice) = &req.tool_choice {
            body["tool_choice"] = match choice {
                ToolChoice::Auto => json!({"type": "auto"}),
                ToolChoice::None => json!({"type": "none"}),
                ToolChoice::Required => json!({"type": "any"}),
                ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
            };
        }
    }
    match thinking {
        Some(budget) => body["thinking"] = json!({"type": "enabled", "budget_tokens": budget}),
        // Thinking refuses any temperature but the default.
        None => {
            if let Some(t) = req.temperature {
                body["temperature"] = temperature_json(t);
            }
        }
    }
    if !req.stop.is_empty() {
        body["stop_sequences"] = json!(req.stop);
    }
    body
}

/// A content block that records the model's reasoning, to be sent back as it came.
fn is_reasoning(kind: Option<&str>) -> bool {
    matches!(kind, Some("thinking" | "redacted_thinking"))
}

fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Cached prompt tokens are reported apart from `input_tokens` but were still read, and
    /// quotas count what the model read.
    fn input(&self) -> Option<u64> {
        let parts = [
            self.input_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
        ];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum())
    }

    fn merge_into(&self, usage: &mut Usage) {
        if let Some(input) = self.input() {
            usage.input_tokens = input;
        }
        if let Some(output) = self.output_tokens {
            usage.output_tokens = output;
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct MessagesResponse {
    #[serde(default)]
    model: Option<String>,
    /// Raw, because thinking blocks are kept verbatim (their signature covers them).
    #[serde(default)]
    content: Vec<Value>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

impl MessagesResponse {
    fn into_completion(self, requested_model: &str) -> Completion {
        let mut content = String::new();
        let mut tool_calls = Vec::new();
        let mut reasoning = Vec::new();
        for block in self.content {
            if is_reasoning(block.get("type").and_then(Value::as_str)) {
                reasoning.push(block);
                continue;
            }
            match serde_json::from_value(block).unwrap_or(Block::Other) {
                Block::Text { text } => content.push_str(&text),
                Block::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments: if input.is_null() { json!({}) } else { input },
                }),
                Block::Other => {}
            }
        }
        let finish_reason = match self.stop_reason.as_deref() {
            Some(reason) => finish_reason(reason),
            None if !tool_calls.is_empty() => FinishReason::ToolCalls,
            None => FinishReason::Stop,
        };
        let mut usage = Usage::default();
        self.usage.merge_into(&mut usage);
        Completion {
            content,
            tool_calls,
            finish_reason,
            usage,
            model: self.model.unwrap_or_else(|| requested_model.to_owned()),
            reasoning,
        }
    }
}

enum OpenBlock {
    Text,
    /// A `thinking` block's text and signature, each gathered from its deltas.
    Thinking {
        thinking: String,
        signature: String,
    },
    /// A `redacted_thinking` block, whole at its start.
    Redacted(Value),
    Tool {
        id: String,
        name: String,
        json: String,
        initial: Value,
    },
}

/// Messages-API events to `StreamEvent`s: text deltas pass straight through; a tool_use
/// block's `input_json_delta`s are gathered and the call emitted at `content_block_stop`, as is
/// a thinking block (`thinking_delta`s and `signature_delta`s) — as `Reasoning`, never as text.
pub(crate) struct AnthropicDecoder {
    provider: &'static str,
    blocks: BTreeMap<u64, OpenBlock>,
    finish: Option<FinishReason>,
    emitted_calls: usize,
    usage: Usage,
}

impl AnthropicDecoder {
    pub fn new(provider: &'static str) -> Self {
        AnthropicDecoder {
            provider,
            blocks: BTreeMap::new(),
            finish: None,
            emitted_calls: 0,
            usage: Usage::default(),
        }
    }

    fn close_block(&mut self, index: u64, out: &mut Vec<StreamEvent>) {
        match self.blocks.remove(&index) {
            Some(OpenBlock::Tool {
                id,
                name,
                json,
                initial,
            }) => {
                // Without deltas the input is the one given at block start (an empty object).
                let arguments = if json.trim().is_empty() && initial.is_object() {
                    initial
                } else {
                    parse_arguments(&json)
                };
                self.emitted_calls += 1;
                out.push(StreamEvent::ToolCall(ToolCall {
                    id,
                    name,
                    arguments,
                }));
            }
            Some(OpenBlock::Thinking {
                thinking,
                signature,
            }) => out.push(StreamEvent::Reasoning(json!({
                "type": "thinking",
                "thinking": thinking,
                "signature": signature,
            }))),
            Some(OpenBlock::Redacted(block)) => out.push(StreamEvent::Reasoning(block)),
            Some(OpenBlock::Text) | None => {}
        }
    }

    fn done(&mut self, out: &mut Vec<StreamEvent>) {
        let open: Vec<u64> = self.blocks.keys().copied().collect();
        for index in open {
            self.close_block(index, out);
        }
        let finish_reason = self.finish.take().unwrap_or(if self.emitted_calls > 0 {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        });
        out.push(StreamEvent::Done {
            finish_reason,
            usage: self.usage,
        });
    }

    fn unreadable(&self) -> Failure {
        Failure::fatal(upstream_error(
            self.provider,
            None,
            format!("{} upstream sent an unreadable stream event", self.provider),
        ))
    }
}

impl SseDecoder for AnthropicDecoder {
    fn event(&mut self, name: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Failure> {
        let event: Value = serde_json::from_str(data).map_err(|e| {
            tracing::warn!(provider = self.provider, error = %e, "unreadable stream event");
            self.unreadable()
        })?;
        // `type` in the data is authoritative; the SSE event name is the same by convention.
        let kind = event.get("type").and_then(Value::as_str).unwrap_or(name);
        let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                if let Some(usage) = event.pointer("/message/usage") {
                    let usage: WireUsage =
                        serde_json::from_value(usage.clone()).map_err(|_| self.unreadable())?;
                    usage.merge_into(&mut self.usage);
                }
            }
            "content_block_start" => {
                let block = event.get("content_block").cloned().unwrap_or(Value::Null);
                let text = |k: &str| {
                    block
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        self.blocks.insert(
                            index,
                            OpenBlock::Tool {
                                id: text("id"),
                                name: text("name"),
                                json: String::new(),
                                initial: block.get("input").cloned().unwrap_or(Value::Null),
                            },
                        );
                    }
                    Some("text") => {
                        if let Some(t) = block.get("text").and_then(Value::as_str) {
                            if !t.is_empty() {
                                out.push(StreamEvent::Delta(t.to_owned()));
                            }
                        }
                        self.blocks.insert(index, OpenBlock::Text);
                    }
                    Some("thinking") => {
                        self.blocks.insert(
                            index,
                            OpenBlock::Thinking {
                                thinking: text("thinking"),
                                signature: text("signature"),
                            },
                        );
                    }
                    Some("redacted_thinking") => {
                        self.blocks.insert(index, OpenBlock::Redacted(block));
                    }
                    // Other block kinds carry nothing a run uses.
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = event.get("delta").cloned().unwrap_or(Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(t) = delta.get("text").and_then(Value::as_str) {
                            if !t.is_empty() {
                                out.push(StreamEvent::Delta(t.to_owned()));
                            }
                        }
                    }
                    Some("input_json_delta") => {
                        if let Some(OpenBlock::Tool { json, .. }) = self.blocks.get_mut(&index) {
                            if let Some(part) = delta.get("partial_json").and_then(Value::as_str) {
                                json.push_str(part);
                            }
                        }
                    }
                    Some("thinking_delta") => {
                        if let Some(OpenBlock::Thinking { thinking, .. }) =
                            self.blocks.get_mut(&index)
                        {
                            if let Some(part) = delta.get("thinking").and_then(Value::as_str) {
                                thinking.push_str(part);
                            }
                        }
                    }
                    Some("signature_delta") => {
                        if let Some(OpenBlock::Thinking { signature, .. }) =
                            self.blocks.get_mut(&index)
                        {
                            if let Some(part) = delta.get("signature").and_then(Value::as_str) {
                                signature.push_str(part);
                            }
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => self.close_block(index, out),
            "message_delta" => {
                if let Some(reason) = event.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.finish = Some(finish_reason(reason));
                }
                if let Some(usage) = event.get("usage") {
                    // `output_tokens` here is cumulative, so it replaces, never adds.
                    let usage: WireUsage =
                        serde_json::from_value(usage.clone()).map_err(|_| self.unreadable())?;
                    usage.merge_into(&mut self.usage);
                }
            }
            "message_stop" => self.done(out),
            "error" => {
                let error = event.get("error").cloned().unwrap_or(Value::Null);
                return Err(stream_error(self.provider, &error));
            }
            // `ping` and event kinds added after this was written.
            _ => {}
        }
        Ok(())
    }

    fn eof(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Failure> {
        if self.finish.is_some() {
            self.done(out);
            return Ok(());
        }
        Err(cut_short(self.provider))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::transport::tests::{decode_fixture, split_bytes};
    use crate::provider::types::{ChatMessage, ModelRef, ToolSpec};
    use openclaw_domain::ErrorKind;

    fn sse(events: &[Value]) -> String {
        events
            .iter()
            .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
            .collect()
    }

    #[test]
    fn body_maps_system_tools_and_results() {
        let mut req = ChatRequest::new(
            ModelRef::new("anthropic", "claude-3-5-sonnet"),
            vec![
                ChatMessage::system("be brief"),
                ChatMessage::system("be kind"),
                ChatMessage::user("weather in Paris and Rome?"),
                ChatMessage {
                    tool_calls: vec![
                        ToolCall {
                            id: "tu_1".into(),
                            name: "weather".into(),
                            arguments: json!({"city":"Paris"}),
                        },
                        ToolCall {
                            id: "tu_2".into(),
                            name: "weather".into(),
                            arguments: json!({"city":"Rome"}),
                        },
                    ],
                    ..ChatMessage::assistant("Checking.")
                },
                ChatMessage::tool_result("tu_1", "sunny"),
                ChatMessage::tool_result("tu_2", "rain"),
                ChatMessage::user("thanks"),
            ],
        );
        req.tools = vec![ToolSpec {
            name: "weather".into(),
            description: "forecast".into(),
            parameters: json!({"type":"object"}),
        }];
        req.tool_choice = Some(ToolChoice::Required);
        req.stop = vec!["END".into()];
        let body = request_body(&req, true);
        assert_eq!(
            body,
            json!({
                "model": "claude-3-5-sonnet",
                "max_tokens": DEFAULT_MAX_TOKENS,
                "stream": true,
                "system": "be brief\n\nbe kind",
                "messages": [
                    {"role":"user","content":[{"type":"text","text":"weather in Paris and Rome?"}]},
                    {"role":"assistant","content":[
                        {"type":"text","text":"Checking."},
                        {"type":"tool_use","id":"tu_1","name":"weather","input":{"city":"Paris"}},
                        {"type":"tool_use","id":"tu_2","name":"weather","input":{"city":"Rome"}}]},
                    {"role":"user","content":[
                        {"type":"tool_result","tool_use_id":"tu_1","content":"sunny"},
                        {"type":"tool_result","tool_use_id":"tu_2","content":"rain"},
                        {"type":"text","text":"thanks"}]},
                ],
                "tools": [{"name":"weather","description":"forecast","input_schema":{"type":"object"}}],
                "tool_choice": {"type":"any"},
                "stop_sequences": ["END"],
            })
        );
    }

    #[test]
    fn non_stream_answer_parses_blocks_and_usage() {
        let answer: MessagesResponse = serde_json::from_value(json!({
            "id":"msg_1","type":"message","role":"assistant","model":"claude-x",
            "content":[
                {"type":"thinking","thinking":"hm","signature":"c2ln"},
                {"type":"redacted_thinking","data":"b3BhcXVl"},
                {"type":"text","text":"Let me look."},
                {"type":"tool_use","id":"tu_1","name":"weather","input":{"city":"Paris"}}],
            "stop_reason":"tool_use",
            "usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":8}
        }))
        .unwrap();
        let c = answer.into_completion("claude");
        // Thinking is kept verbatim for the next call, and is not answer text.
        assert_eq!(c.content, "Let me look.");
        assert_eq!(
            c.reasoning,
            vec![
                json!({"type":"thinking","thinking":"hm","signature":"c2ln"}),
                json!({"type":"redacted_thinking","data":"b3BhcXVl"}),
            ]
        );
        assert_eq!(c.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 15,
                output_tokens: 8
            }
        );
        assert_eq!(c.model, "claude-x");
        assert_eq!(
            c.tool_calls,
            vec![ToolCall {
                id: "tu_1".into(),
                name: "weather".into(),
                arguments: json!({"city":"Paris"})
            }]
        );
    }

    fn thinking_request(model: &str, thinking: Option<Thinking>) -> ChatRequest {
        let mut req = ChatRequest::new(
            ModelRef::new("anthropic", model),
            vec![ChatMessage::user("hi")],
        );
        req.thinking = thinking;
        req.temperature = Some(0.7);
        req
    }

    #[test]
    fn thinking_levels_become_a_budget_on_top_of_the_answer() {
        for (level, budget) in [
            (Thinking::Minimal, 1024),
            (Thinking::Low, 4000),
            (Thinking::Medium, 8000),
            (Thinking::High, 16000),
        ] {
            let body = request_body(&thinking_request("claude-sonnet-4-5", Some(level)), true);
            assert_eq!(
                body["thinking"],
                json!({"type":"enabled","budget_tokens":budget}),
                "{level}"
            );
            // The answer keeps its room, and `budget_tokens` stays below `max_tokens`.
            assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS + budget, "{level}");
            assert!(body.get("temperature").is_none(), "{level}: {body}");

            let mut req = thinking_request("claude-opus-4-1-20250805", Some(level));
            req.max_tokens = Some(500);
            let body = request_body(&req, false);
            assert_eq!(body["max_tokens"], 500 + budget, "{level}");
            assert!(body["thinking"]["budget_tokens"].as_u64() < body["max_tokens"].as_u64());
        }
        // Off, or not asked: no thinking, and the request is as it always was.
        for thinking in [Some(Thinking::Off), None] {
            let body = request_body(&thinking_request("claude-sonnet-4-5", thinking), true);
            assert!(body.get("thinking").is_none(), "{thinking:?}");
            assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
            assert_eq!(body["temperature"], 0.7);
        }
    }

    #[test]
    fn only_models_with_extended_thinking_are_asked_to_think() {
        for model in [
            "claude-3-7-sonnet-20250219",
            "claude-3-7-sonnet-latest",
            "claude-sonnet-4-20250514",
            "claude-sonnet-4-5",
            "claude-opus-4-20250514",
            "claude-opus-4-1-20250805",
            "claude-haiku-4-5",
            "claude-haiku-4-5-20251001",
            "claude-opus-4-5",
            "claude-sonnet-5",
        ] {
            let body = request_body(&thinking_request(model, Some(Thinking::Low)), true);
            assert_eq!(body["thinking"]["budget_tokens"], 4000, "{model}");
        }
        for model in [
            "claude-3-5-sonnet-20241022",
            "claude-3-5-haiku-latest",
            "claude-3-opus-20240229",
            "claude-3-sonnet-20240229",
            "claude-3-haiku-20240307",
            "claude-2.1",
            "claude-2",
            "claude-instant-1.2",
            "mock-1",
        ] {
            let body = request_body(&thinking_request(model, Some(Thinking::High)), true);
            assert!(body.get("thinking").is_none(), "{model}");
            assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS, "{model}");
            assert_eq!(body["temperature"], 0.7, "{model}");
        }
    }

    fn tool_loop(reasoning: Vec<Value>) -> ChatRequest {
        let mut req = ChatRequest::new(
            ModelRef::new("anthropic", "claude-sonnet-4-5"),
            vec![
                ChatMessage::user("weather in Paris?"),
                ChatMessage {
                    tool_calls: vec![ToolCall {
                        id: "tu_1".into(),
                        name: "weather".into(),
                        arguments: json!({"city":"Paris"}),
                    }],
                    reasoning,
                    ..ChatMessage::assistant("Checking.")
                },
                ChatMessage::tool_result("tu_1", "sunny"),
            ],
        );
        req.tools = vec![ToolSpec {
            name: "weather".into(),
            description: "forecast".into(),
            parameters: json!({"type":"object"}),
        }];
        req.thinking = Some(Thinking::Medium);
        req
    }

    #[test]
    fn thinking_blocks_go_back_verbatim_before_the_tool_use() {
        let thought = json!({"type":"thinking","thinking":"Paris, so…","signature":"c2ln"});
        let redacted = json!({"type":"redacted_thinking","data":"b3BhcXVl"});
        let req = tool_loop(vec![thought.clone(), redacted.clone()]);
        let body = request_body(&req, true);
        assert_eq!(body["thinking"]["budget_tokens"], 8000);
        assert_eq!(
            body["messages"][1],
            json!({"role":"assistant","content":[
                thought,
                redacted,
                {"type":"text","text":"Checking."},
                {"type":"tool_use","id":"tu_1","name":"weather","input":{"city":"Paris"}}]})
        );
        // With thinking off they are not sent at all.
        let mut off = req.clone();
        off.thinking = Some(Thinking::Off);
        let body = request_body(&off, true);
        assert_eq!(body["messages"][1]["content"][0]["type"], "text");
        assert!(!body.to_string().contains("signature"), "{body}");
    }

    #[test]
    fn thinking_stays_off_where_the_api_would_refuse_it() {
        // A tool loop begun without thinking keeps it off to its end: its last assistant
        // message would have to start with a thinking block it does not have.
        let body = request_body(&tool_loop(Vec::new()), true);
        assert!(body.get("thinking").is_none(), "{body}");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        // A new user turn starts a new loop: the earlier, unthinking one no longer counts.
        let mut next = tool_loop(Vec::new());
        next.messages.push(ChatMessage::assistant("Sunny."));
        next.messages.push(ChatMessage::user("and Rome?"));
        let body = request_body(&next, true);
        assert_eq!(body["thinking"]["budget_tokens"], 8000);
        // Forced tool use is refused with thinking.
        for choice in [ToolChoice::Required, ToolChoice::Tool("weather".into())] {
            let mut req = thinking_request("claude-sonnet-4-5", Some(Thinking::High));
            req.tools = tool_loop(Vec::new()).tools;
            req.tool_choice = Some(choice.clone());
            let body = request_body(&req, true);
            assert!(body.get("thinking").is_none(), "{choice:?}");
            assert_eq!(body["temperature"], 0.7, "{choice:?}");
        }
        let mut auto = thinking_request("claude-sonnet-4-5", Some(Thinking::High));
        auto.tools = tool_loop(Vec::new()).tools;
        auto.tool_choice = Some(ToolChoice::Auto);
        assert_eq!(request_body(&auto, true)["thinking"]["type"], "enabled");
    }

    #[tokio::test]
    async fn stream_assembles_thinking_blocks_and_never_shows_them_as_text() {
        let text = sse(&[
            json!({"type":"message_start","message":{"usage":{"input_tokens":7,"output_tokens":1}}}),
            json!({"type":"content_block_start","index":0,"content_block":
                {"type":"thinking","thinking":"","signature":""}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user "}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"wants 東京."}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"RXVn"}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"aA=="}}),
            json!({"type":"content_block_stop","index":0}),
            json!({"type":"content_block_start","index":1,"content_block":
                {"type":"redacted_thinking","data":"b3BhcXVl"}}),
            json!({"type":"content_block_stop","index":1}),
            json!({"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}),
            json!({"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"Checking."}}),
            json!({"type":"content_block_stop","index":2}),
            json!({"type":"content_block_start","index":3,"content_block":
                {"type":"tool_use","id":"tu_1","name":"weather","input":{}}}),
            json!({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"city\":\"Tokyo\"}"}}),
            json!({"type":"content_block_stop","index":3}),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}),
            json!({"type":"message_stop"}),
        ]);
        for chunk in [5, 4096] {
            let events: Vec<_> =
                decode_fixture(split_bytes(&text, chunk), AnthropicDecoder::new("test"))
                    .await
                    .into_iter()
                    .map(Result::unwrap)
                    .collect();
            assert_eq!(
                events,
                vec![
                    StreamEvent::Reasoning(json!({
                        "type":"thinking","thinking":"The user wants 東京.","signature":"RXVnaA=="})),
                    StreamEvent::Reasoning(json!({"type":"redacted_thinking","data":"b3BhcXVl"})),
                    StreamEvent::Delta("Checking.".into()),
                    StreamEvent::ToolCall(ToolCall {
                        id: "tu_1".into(),
                        name: "weather".into(),
                        arguments: json!({"city":"Tokyo"}),
                    }),
                    StreamEvent::Done {
                        finish_reason: FinishReason::ToolCalls,
                        usage: Usage {
                            input_tokens: 7,
                            output_tokens: 30
                        },
                    },
                ],
                "chunk size {chunk}"
            );
        }
    }

    fn transcript() -> String {
        sse(&[
            json!({"type":"message_start","message":{"id":"m","type":"message","role":"assistant",
                "content":[],"model":"claude-x","usage":{"input_tokens":12,"output_tokens":1}}}),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            json!({"type":"ping"}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello "}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"日本"}}),
            json!({"type":"content_block_stop","index":0}),
            json!({"type":"content_block_start","index":1,"content_block":
                {"type":"tool_use","id":"tu_9","name":"weather","input":{}}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Os"}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"aka\"}"}}),
            json!({"type":"content_block_stop","index":1}),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},
                "usage":{"output_tokens":21}}),
            json!({"type":"message_stop"}),
        ])
    }

    #[tokio::test]
    async fn stream_yields_text_then_the_assembled_call_then_done() {
        for chunk in [3, 11, 4096] {
            let events: Vec<_> = decode_fixture(
                split_bytes(&transcript(), chunk),
                AnthropicDecoder::new("test"),
            )
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
            assert_eq!(
                events,
                vec![
                    StreamEvent::Delta("Hello ".into()),
                    StreamEvent::Delta("日本".into()),
                    StreamEvent::ToolCall(ToolCall {
                        id: "tu_9".into(),
                        name: "weather".into(),
                        arguments: json!({"city":"Osaka"}),
                    }),
                    StreamEvent::Done {
                        finish_reason: FinishReason::ToolCalls,
                        usage: Usage {
                            input_tokens: 12,
                            output_tokens: 21
                        },
                    },
                ],
                "chunk size {chunk}"
            );
        }
    }

    #[tokio::test]
    async fn an_error_event_ends_the_stream() {
        let text = sse(&[
            json!({"type":"message_start","message":{"usage":{"input_tokens":1,"output_tokens":0}}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}),
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"never"}}),
        ]);
        let events = decode_fixture(split_bytes(&text, 4096), AnthropicDecoder::new("test")).await;
        assert_eq!(events.len(), 2);
        let err = events[1].as_ref().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Upstream);
        assert!(err.message.contains("Overloaded"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_stream_without_message_stop_is_cut_short() {
        let text = sse(&[json!({"type":"content_block_delta","index":0,
            "delta":{"type":"text_delta","text":"a"}})]);
        let events = decode_fixture(split_bytes(&text, 4096), AnthropicDecoder::new("test")).await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].as_ref().unwrap_err().kind, ErrorKind::Upstream);
    }
}
