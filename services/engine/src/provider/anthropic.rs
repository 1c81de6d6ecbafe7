//! Anthropic's Messages API: system prompt and tool_use/tool_result mapping, answer parsing,
//! and the content-block event stream turned into `StreamEvent`s.

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
    ChatRequest, Completion, FinishReason, Role, StreamEvent, ToolCall, ToolChoice, Usage,
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

/// The `POST /v1/messages` body. System messages become the top-level `system`; tool results
/// are `tool_result` blocks of a user turn; consecutive turns of one role are merged, because
/// the API wants user and assistant to alternate.
pub(crate) fn request_body(req: &ChatRequest, stream: bool) -> Value {
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
                let mut blocks: Vec<Value> =
                    (!m.content.is_empty()).then(text).into_iter().collect();
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
    let mut body = json!({
        "model": req.model.model,
        "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
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
    if let Some(t) = req.temperature {
        body["temperature"] = temperature_json(t);
    }
    if !req.stop.is_empty() {
        body["stop_sequences"] = json!(req.stop);
    }
    body
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
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

impl MessagesResponse {
    fn into_completion(self, requested_model: &str) -> Completion {
        let mut content = String::new();
        let mut tool_calls = Vec::new();
        for block in self.content {
            match block {
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
        }
    }
}

enum OpenBlock {
    Text,
    Tool {
        id: String,
        name: String,
        json: String,
        initial: Value,
    },
}

/// Messages-API events to `StreamEvent`s: text deltas pass straight through; a tool_use
/// block's `input_json_delta`s are gathered and the call emitted at `content_block_stop`.
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
        if let Some(OpenBlock::Tool {
            id,
            name,
            json,
            initial,
        }) = self.blocks.remove(&index)
        {
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
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let text = |k: &str| {
                            block
                                .get(k)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
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
                    // Thinking and other block kinds carry nothing a run uses.
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
                {"type":"thinking","thinking":"hm"},
                {"type":"text","text":"Let me look."},
                {"type":"tool_use","id":"tu_1","name":"weather","input":{"city":"Paris"}}],
            "stop_reason":"tool_use",
            "usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":8}
        }))
        .unwrap();
        let c = answer.into_completion("claude");
        assert_eq!(c.content, "Let me look.");
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
