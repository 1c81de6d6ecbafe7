//! OpenAI-compatible chat completions at any base URL (OpenAI, vLLM, Ollama, DashScope's
//! compatible mode): request mapping (the run's thinking level as `reasoning_effort` for OpenAI's
//! reasoning models), answer parsing (a whole `chat.completion` is accepted even where a stream
//! was asked for), and tool calls assembled from deltas.

use std::collections::BTreeMap;

use async_trait::async_trait;
use openclaw_domain::Error;
use reqwest::header::AUTHORIZATION;
use reqwest::RequestBuilder;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

use super::transport::{
    cut_short, parse_arguments, stream_error, upstream_error, Failure, HttpConfig, SseDecoder,
    Upstream,
};
use super::types::{
    ChatMessage, ChatRequest, Completion, FinishReason, Role, StreamEvent, Thinking, ToolCall,
    ToolChoice, Usage,
};
use super::{temperature_json, ChatStream, ModelInfo, Provider};

pub const PROVIDER: &str = "openai";
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// A chat-completions endpoint. `base_url` is what the upstream documents as its OpenAI base
/// (it usually ends in `/v1`); paths are appended to it.
// Debug is safe to derive: the key inside `Upstream` is a `SecretString`.
#[derive(Debug)]
pub struct OpenAiCompatible {
    base_url: String,
    upstream: Upstream,
}

impl OpenAiCompatible {
    pub fn new(
        base_url: impl Into<String>,
        api_key: Option<SecretString>,
        http: reqwest::Client,
        config: HttpConfig,
    ) -> Self {
        OpenAiCompatible {
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

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        match self.upstream.key_header("Bearer ") {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        }
    }

    fn post(&self, body: &Value) -> RequestBuilder {
        let url = format!("{}/chat/completions", self.base_url);
        self.authorised(self.upstream.http.post(url).json(body))
    }
}

#[async_trait]
impl Provider for OpenAiCompatible {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn complete(&self, req: &ChatRequest) -> Result<Completion, Error> {
        let body = request_body(req, false);
        let answer: ChatResponse = self.upstream.json(|| self.post(&body)).await?;
        answer.into_completion(&req.model.model)
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, Error> {
        let body = request_body(req, true);
        self.upstream
            .sse(|| self.post(&body), || OpenAiDecoder::new(PROVIDER))
            .await
    }

    /// `POST /embeddings` (OpenAI's shape, which compatible servers share).
    async fn embed(&self, model: &str, inputs: &[String]) -> Result<Vec<Vec<f32>>, Error> {
        let url = format!("{}/embeddings", self.base_url);
        let body = json!({"model": model, "input": inputs});
        let answer: EmbeddingList = self
            .upstream
            .json(|| self.authorised(self.upstream.http.post(&url).json(&body)))
            .await?;
        let mut data = answer.data;
        data.sort_by_key(|e| e.index);
        if data.len() != inputs.len() {
            return Err(upstream_error(
                PROVIDER,
                None,
                format!(
                    "{PROVIDER} upstream returned {} embeddings for {} inputs",
                    data.len(),
                    inputs.len()
                ),
            ));
        }
        Ok(data.into_iter().map(|e| e.embedding).collect())
    }

    async fn models(&self) -> Result<Vec<ModelInfo>, Error> {
        let url = format!("{}/models", self.base_url);
        let list: ModelList = self
            .upstream
            .json(|| self.authorised(self.upstream.http.get(&url)))
            .await?;
        Ok(list
            .data
            .into_iter()
            .map(|m| ModelInfo {
                id: format!("{PROVIDER}/{}", m.id),
                // The provider it is served through, as for Anthropic's (S4 lists `openai`);
                // the upstream's own value (`system`, `openai`, a vLLM's `vllm`) says less.
                owned_by: PROVIDER.to_owned(),
                created: m.created,
            })
            .collect())
    }
}

#[derive(Deserialize)]
struct EmbeddingList {
    data: Vec<Embedding>,
}

#[derive(Deserialize)]
struct Embedding {
    #[serde(default)]
    index: usize,
    embedding: Vec<f32>,
}

/// The `POST /chat/completions` body. The provider prefix is not sent: the upstream knows its
/// models by their own names.
pub(crate) fn request_body(req: &ChatRequest, stream: bool) -> Value {
    let mut body = json!({
        "model": req.model.model,
        "messages": req.messages.iter().map(message_json).collect::<Vec<_>>(),
        "stream": stream,
    });
    if stream {
        // Without it a streamed answer carries no token counts, and quotas need them.
        body["stream_options"] = json!({ "include_usage": true });
    }
    // `tool_choice` without `tools` is a 400 upstream, so it goes only with them.
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    }
                })
            })
            .collect();
        if let Some(choice) = &req.tool_choice {
            body["tool_choice"] = match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            };
        }
    }
    if let Some(t) = req.temperature {
        body["temperature"] = temperature_json(t);
    }
    // `max_tokens` rather than `max_completion_tokens`: every compatible server (vLLM, Ollama,
    // DashScope) knows the former; OpenAI still accepts it for chat models.
    if let Some(n) = req.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if !req.stop.is_empty() {
        body["stop"] = json!(req.stop);
    }
    if let Some(effort) = req
        .thinking
        .and_then(|t| reasoning_effort(&req.model.model, t))
    {
        body["reasoning_effort"] = json!(effort);
    }
    body
}

/// `reasoning_effort` for `thinking` on `model`, or `None` to send nothing: other models (and
/// other compatible servers' models) reject the parameter or mean something else by it.
fn reasoning_effort(model: &str, thinking: Thinking) -> Option<&'static str> {
    // gpt-5-chat is GPT-5's non-reasoning model: "'reasoning.effort' is not supported with this
    // model".
    let gpt5 = model.starts_with("gpt-5") && !model.starts_with("gpt-5-chat");
    // o1-mini and o1-preview predate the parameter and refuse it ("Unknown parameter").
    let o_series = ["o1", "o3", "o4"].iter().any(|p| model.starts_with(p))
        && !model.starts_with("o1-mini")
        && !model.starts_with("o1-preview");
    if !gpt5 && !o_series {
        return None;
    }
    // GPT-5.1 and later replaced `minimal` with `none` ("Supported values are: 'none', 'low',
    // 'medium', and 'high'"); GPT-5 itself has `minimal` and no `none`.
    let has_none = model
        .strip_prefix("gpt-5.")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    match thinking {
        Thinking::Low => Some("low"),
        Thinking::Medium => Some("medium"),
        Thinking::High => Some("high"),
        Thinking::Minimal if gpt5 && !has_none => Some("minimal"),
        // The o-series' least is `low`, and GPT-5.1's nearest above `none`.
        Thinking::Minimal => Some("low"),
        Thinking::Off if has_none => Some("none"),
        // GPT-5 cannot stop reasoning; `minimal` is as close as it comes.
        Thinking::Off if gpt5 => Some("minimal"),
        // The o-series cannot stop reasoning either: their own default stands.
        Thinking::Off => None,
    }
}

fn message_json(m: &ChatMessage) -> Value {
    let mut v = json!({ "role": m.role.as_str(), "content": m.content });
    if m.role == Role::Assistant && !m.tool_calls.is_empty() {
        if m.content.is_empty() {
            v["content"] = Value::Null;
        }
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| {
                // A verbatim (non-JSON) argument string goes back as it came.
                let arguments = match &c.arguments {
                    Value::String(raw) => raw.clone(),
                    other => other.to_string(),
                };
                json!({
                    "id": c.id,
                    "type": "function",
                    "function": { "name": c.name, "arguments": arguments },
                })
            })
            .collect();
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
    }
    v
}

fn finish_reason(name: &str) -> FinishReason {
    match name {
        // The pre-tools spelling of the same thing.
        "function_call" => FinishReason::ToolCalls,
        other => FinishReason::from_name(other),
    }
}

#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ChatResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: WireMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    name: String,
    /// A JSON-encoded string per the spec; some servers send the object itself.
    #[serde(default)]
    arguments: Value,
}

fn arguments_value(raw: Value) -> Value {
    match raw {
        Value::String(s) => parse_arguments(&s),
        Value::Null => json!({}),
        other => other,
    }
}

impl ChatResponse {
    fn into_completion(self, requested_model: &str) -> Result<Completion, Error> {
        let Some(choice) = self.choices.into_iter().next() else {
            return Err(upstream_error(
                PROVIDER,
                None,
                format!("{PROVIDER} upstream answered without a choice"),
            ));
        };
        let tool_calls: Vec<ToolCall> = choice
            .message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, c)| ToolCall {
                id: c.id.unwrap_or_else(|| format!("call_{i}")),
                name: c.function.name,
                arguments: arguments_value(c.function.arguments),
            })
            .collect();
        let finish_reason = match choice.finish_reason.as_deref() {
            Some(name) => finish_reason(name),
            None if !tool_calls.is_empty() => FinishReason::ToolCalls,
            None => FinishReason::Stop,
        };
        Ok(Completion {
            content: choice.message.content.unwrap_or_default(),
            tool_calls,
            finish_reason,
            usage: self.usage.map(Usage::from).unwrap_or_default(),
            model: self.model.unwrap_or_else(|| requested_model.to_owned()),
            reasoning: Vec::new(),
        })
    }
}

#[derive(Debug, Deserialize)]
struct ModelList {
    #[serde(default)]
    data: Vec<WireModel>,
}

#[derive(Debug, Deserialize)]
struct WireModel {
    id: String,
    #[serde(default)]
    created: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<DeltaToolCall>>,
}

#[derive(Debug, Deserialize)]
struct DeltaToolCall {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<DeltaFunction>,
}

#[derive(Debug, Deserialize)]
struct DeltaFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Streamed chunks to events. Tool calls arrive as fragments keyed by `index` (the id and
/// name in the first, the arguments spread over many); they are emitted whole when the
/// choice finishes.
pub(crate) struct OpenAiDecoder {
    provider: &'static str,
    calls: BTreeMap<u64, PartialCall>,
    emitted_calls: usize,
    finish: Option<FinishReason>,
    usage: Usage,
}

impl OpenAiDecoder {
    pub fn new(provider: &'static str) -> Self {
        OpenAiDecoder {
            provider,
            calls: BTreeMap::new(),
            emitted_calls: 0,
            finish: None,
            usage: Usage::default(),
        }
    }

    fn flush_calls(&mut self, out: &mut Vec<StreamEvent>) {
        for (index, call) in std::mem::take(&mut self.calls) {
            self.emitted_calls += 1;
            out.push(StreamEvent::ToolCall(ToolCall {
                id: call.id.unwrap_or_else(|| format!("call_{index}")),
                name: call.name,
                arguments: parse_arguments(&call.arguments),
            }));
        }
    }

    fn done(&mut self, out: &mut Vec<StreamEvent>) {
        self.flush_calls(out);
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
}

impl SseDecoder for OpenAiDecoder {
    fn event(
        &mut self,
        _name: &str,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Failure> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done(out);
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            tracing::warn!(provider = self.provider, error = %e, "unreadable stream chunk");
            Failure::fatal(upstream_error(
                self.provider,
                None,
                format!("{} upstream sent an unreadable stream chunk", self.provider),
            ))
        })?;
        if let Some(error) = chunk.error {
            return Err(stream_error(self.provider, &error));
        }
        for choice in chunk.choices {
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::Delta(text));
                }
                for (position, fragment) in
                    delta.tool_calls.unwrap_or_default().into_iter().enumerate()
                {
                    let index = fragment.index.unwrap_or(position as u64);
                    let call = self.calls.entry(index).or_default();
                    if let Some(id) = fragment.id.filter(|id| !id.is_empty()) {
                        call.id = Some(id);
                    }
                    if let Some(function) = fragment.function {
                        if let Some(name) = function.name {
                            call.name.push_str(&name);
                        }
                        if let Some(arguments) = function.arguments {
                            call.arguments.push_str(&arguments);
                        }
                    }
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(finish_reason(&reason));
                // Every fragment is in once the choice finishes: the calls are complete now,
                // before the usage chunk and `[DONE]` that may follow.
                self.flush_calls(out);
            }
        }
        if let Some(usage) = chunk.usage {
            self.usage = usage.into();
        }
        Ok(())
    }

    fn eof(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Failure> {
        // Some servers close after the finishing chunk without `[DONE]`; that is an answer.
        if self.finish.is_some() {
            self.done(out);
            return Ok(());
        }
        Err(cut_short(self.provider))
    }

    /// Some proxies and small servers answer `stream: true` with one `chat.completion` body:
    /// it is the same answer, so it becomes the events its stream would have carried.
    fn whole_answer(&mut self, body: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), Failure> {
        let answer: WholeAnswer = serde_json::from_slice(body).map_err(|e| {
            tracing::warn!(provider = self.provider, error = %e, "unreadable whole answer");
            Failure::fatal(upstream_error(
                self.provider,
                None,
                format!(
                    "{} upstream answered a stream request with JSON that is not a chat completion",
                    self.provider
                ),
            ))
        })?;
        if let Some(error) = answer.error {
            return Err(stream_error(self.provider, &error));
        }
        // A stream's events carry no model name, so none is needed here.
        let completion = answer
            .completion
            .into_completion("")
            .map_err(Failure::fatal)?;
        if !completion.content.is_empty() {
            out.push(StreamEvent::Delta(completion.content));
        }
        out.extend(completion.tool_calls.into_iter().map(StreamEvent::ToolCall));
        out.push(StreamEvent::Done {
            finish_reason: completion.finish_reason,
            usage: completion.usage,
        });
        Ok(())
    }
}

/// A `chat.completion` sent whole where a stream was asked for, or the error object some
/// servers send in its place with a 2xx status.
#[derive(Debug, Deserialize)]
struct WholeAnswer {
    #[serde(default)]
    error: Option<Value>,
    #[serde(flatten)]
    completion: ChatResponse,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::transport::tests::{decode_fixture, split_bytes};
    use crate::provider::types::{ModelRef, ToolSpec};
    use openclaw_domain::ErrorKind;

    fn sse(chunks: &[Value]) -> String {
        let mut s: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
        s.push_str("data: [DONE]\n\n");
        s
    }

    fn delta(content: &str) -> Value {
        json!({"choices":[{"index":0,"delta":{"content":content},"finish_reason":null}]})
    }

    #[test]
    fn body_has_the_openai_shape() {
        let mut req = ChatRequest::new(
            ModelRef::parse("openai/meta-llama/Llama-3").unwrap(),
            vec![
                ChatMessage::system("be brief"),
                ChatMessage::user("weather?"),
                ChatMessage {
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "weather".into(),
                        arguments: json!({"city":"Paris"}),
                    }],
                    ..ChatMessage::assistant("")
                },
                ChatMessage::tool_result("call_1", "sunny"),
            ],
        );
        req.tools = vec![ToolSpec {
            name: "weather".into(),
            description: "forecast".into(),
            parameters: json!({"type":"object"}),
        }];
        req.tool_choice = Some(ToolChoice::Tool("weather".into()));
        req.temperature = Some(0.7);
        req.max_tokens = Some(64);
        req.stop = vec!["END".into()];
        let body = request_body(&req, true);
        assert_eq!(
            body,
            json!({
                "model": "meta-llama/Llama-3",
                "stream": true,
                "stream_options": {"include_usage": true},
                "messages": [
                    {"role":"system","content":"be brief"},
                    {"role":"user","content":"weather?"},
                    {"role":"assistant","content":null,"tool_calls":[
                        {"id":"call_1","type":"function",
                         "function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
                    {"role":"tool","content":"sunny","tool_call_id":"call_1"},
                ],
                "tools": [{"type":"function","function":{
                    "name":"weather","description":"forecast","parameters":{"type":"object"}}}],
                "tool_choice": {"type":"function","function":{"name":"weather"}},
                "temperature": 0.7,
                "max_tokens": 64,
                "stop": ["END"],
            })
        );
        let plain = request_body(
            &ChatRequest::new(ModelRef::new("openai", "m"), vec![]),
            false,
        );
        assert!(plain.get("stream_options").is_none());
        assert!(plain.get("tools").is_none());
        assert!(plain.get("temperature").is_none());
    }

    fn effort(model: &str, thinking: Option<Thinking>) -> Option<Value> {
        let mut req = ChatRequest::new(
            ModelRef::new("openai", model),
            vec![ChatMessage::user("hi")],
        );
        req.thinking = thinking;
        request_body(&req, true).get("reasoning_effort").cloned()
    }

    #[test]
    fn thinking_is_reasoning_effort_for_reasoning_models_only() {
        use Thinking::*;
        let levels = [Off, Minimal, Low, Medium, High];
        let table: [(&str, [Option<&str>; 5]); 7] = [
            (
                "gpt-5",
                [
                    Some("minimal"),
                    Some("minimal"),
                    Some("low"),
                    Some("medium"),
                    Some("high"),
                ],
            ),
            (
                "gpt-5-mini-2025-08-07",
                [
                    Some("minimal"),
                    Some("minimal"),
                    Some("low"),
                    Some("medium"),
                    Some("high"),
                ],
            ),
            (
                "gpt-5.1",
                [
                    Some("none"),
                    Some("low"),
                    Some("low"),
                    Some("medium"),
                    Some("high"),
                ],
            ),
            (
                "o3-mini",
                [None, Some("low"), Some("low"), Some("medium"), Some("high")],
            ),
            (
                "o1",
                [None, Some("low"), Some("low"), Some("medium"), Some("high")],
            ),
            (
                "o4-mini",
                [None, Some("low"), Some("low"), Some("medium"), Some("high")],
            ),
            ("gpt-4o", [None; 5]),
        ];
        for (model, want) in table {
            for (level, want) in levels.into_iter().zip(want) {
                assert_eq!(
                    effort(model, Some(level)),
                    want.map(|w| json!(w)),
                    "{model} {level}"
                );
            }
            assert_eq!(effort(model, None), None, "{model} without thinking");
        }
        // Models that reject the parameter, and other servers' models, get nothing.
        for model in [
            "gpt-5-chat-latest",
            "o1-mini",
            "o1-preview",
            "gpt-4.1",
            "mock-1",
            "meta-llama/Llama-3",
            "qwen3.5-plus",
        ] {
            for level in levels {
                assert_eq!(effort(model, Some(level)), None, "{model} {level}");
            }
        }
        // The rest of the body is as without thinking, and the model keeps its own name.
        let mut req = ChatRequest::new(ModelRef::new("openai", "o3-mini"), vec![]);
        req.max_tokens = Some(64);
        let plain = request_body(&req, false);
        req.thinking = Some(High);
        let mut thinking = request_body(&req, false);
        assert_eq!(thinking["reasoning_effort"], "high");
        thinking.as_object_mut().unwrap().remove("reasoning_effort");
        assert_eq!(thinking, plain);
    }

    #[test]
    fn reasoning_blocks_are_not_sent_to_openai() {
        let mut req = ChatRequest::new(
            ModelRef::new("openai", "gpt-5"),
            vec![ChatMessage {
                reasoning: vec![json!({"type":"thinking","thinking":"hm","signature":"sig"})],
                ..ChatMessage::assistant("ok")
            }],
        );
        req.thinking = Some(Thinking::Medium);
        let body = request_body(&req, true);
        assert_eq!(
            body["messages"],
            json!([{"role":"assistant","content":"ok"}])
        );
    }

    #[test]
    fn non_stream_answer_parses_text_tools_and_usage() {
        let answer: ChatResponse = serde_json::from_value(json!({
            "id":"x","object":"chat.completion","model":"gpt-4o-2024",
            "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
                {"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},
                {"id":"call_b","type":"function","function":{"name":"g","arguments":"not json"}}]},
                "finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}
        }))
        .unwrap();
        let c = answer.into_completion("gpt-4o").unwrap();
        assert_eq!(c.content, "");
        assert_eq!(c.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 11,
                output_tokens: 7
            }
        );
        assert_eq!(c.model, "gpt-4o-2024");
        assert_eq!(c.tool_calls[0].arguments, json!({"x":1}));
        assert_eq!(c.tool_calls[1].arguments, json!("not json"));

        let empty: ChatResponse = serde_json::from_value(json!({"choices":[]})).unwrap();
        assert_eq!(
            empty.into_completion("m").unwrap_err().kind,
            ErrorKind::Upstream
        );
    }

    #[tokio::test]
    async fn deltas_stream_in_order_with_usage_after_the_finish() {
        let text = sse(&[
            json!({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}),
            delta("Hel"),
            delta("lo, "),
            delta("世界"),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}),
            json!({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}),
        ]);
        // 7-byte chunks split lines, events and the CJK characters themselves.
        let events = decode_fixture(split_bytes(&text, 7), OpenAiDecoder::new("test")).await;
        let events: Vec<_> = events.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            events,
            vec![
                StreamEvent::Delta("Hel".into()),
                StreamEvent::Delta("lo, ".into()),
                StreamEvent::Delta("世界".into()),
                StreamEvent::Done {
                    finish_reason: FinishReason::Stop,
                    usage: Usage {
                        input_tokens: 5,
                        output_tokens: 3
                    },
                },
            ]
        );
    }

    #[tokio::test]
    async fn tool_calls_are_assembled_by_index_and_emitted_whole() {
        let call = |index: u64, id: Option<&str>, name: Option<&str>, args: &str| {
            let mut f = json!({"arguments": args});
            if let Some(n) = name {
                f["name"] = json!(n);
            }
            let mut c = json!({"index": index, "type": "function", "function": f});
            if let Some(id) = id {
                c["id"] = json!(id);
            }
            json!({"choices":[{"index":0,"delta":{"tool_calls":[c]}}]})
        };
        let text = sse(&[
            delta("Let me check."),
            call(0, Some("call_w"), Some("weather"), ""),
            call(1, Some("call_t"), Some("time"), "{\"tz\":"),
            call(0, None, None, "{\"city\":"),
            call(0, None, None, "\"Paris\"}"),
            call(1, None, None, "\"CET\"}"),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
            json!({"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}),
        ]);
        let events: Vec<_> = decode_fixture(split_bytes(&text, 13), OpenAiDecoder::new("test"))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            events,
            vec![
                StreamEvent::Delta("Let me check.".into()),
                StreamEvent::ToolCall(ToolCall {
                    id: "call_w".into(),
                    name: "weather".into(),
                    arguments: json!({"city":"Paris"}),
                }),
                StreamEvent::ToolCall(ToolCall {
                    id: "call_t".into(),
                    name: "time".into(),
                    arguments: json!({"tz":"CET"}),
                }),
                StreamEvent::Done {
                    finish_reason: FinishReason::ToolCalls,
                    usage: Usage {
                        input_tokens: 9,
                        output_tokens: 4
                    },
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_stream_cut_short_is_an_upstream_error() {
        let text = format!("data: {}\n\n", delta("partial"));
        let events = decode_fixture(split_bytes(&text, 5), OpenAiDecoder::new("test")).await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], Ok(StreamEvent::Delta("partial".into())));
        assert_eq!(events[1].as_ref().unwrap_err().kind, ErrorKind::Upstream);
    }

    #[tokio::test]
    async fn finish_without_done_still_completes() {
        let text = format!(
            "data: {}\n\ndata: {}\n\n",
            delta("ok"),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})
        );
        let events = decode_fixture(split_bytes(&text, 64), OpenAiDecoder::new("test")).await;
        assert_eq!(
            events.last().unwrap(),
            &Ok(StreamEvent::Done {
                finish_reason: FinishReason::Length,
                usage: Usage::default()
            })
        );
    }

    fn whole_answer(body: &str) -> Result<Vec<StreamEvent>, Error> {
        let mut out = Vec::new();
        OpenAiDecoder::new("test")
            .whole_answer(body.as_bytes(), &mut out)
            .map(|()| out)
            .map_err(|f| f.error)
    }

    #[test]
    fn a_whole_answer_becomes_the_events_of_its_stream() {
        let body = json!({
            "object":"chat.completion",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Let me check.",
                "tool_calls":[{"id":"call_w","type":"function",
                    "function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
                "finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}
        });
        assert_eq!(
            whole_answer(&body.to_string()).unwrap(),
            vec![
                StreamEvent::Delta("Let me check.".into()),
                StreamEvent::ToolCall(ToolCall {
                    id: "call_w".into(),
                    name: "weather".into(),
                    arguments: json!({"city":"Paris"}),
                }),
                StreamEvent::Done {
                    finish_reason: FinishReason::ToolCalls,
                    usage: Usage {
                        input_tokens: 9,
                        output_tokens: 4
                    },
                },
            ]
        );
        // No text is no `Delta`, as in a stream; without usage the counts are zero.
        let silent = json!({"choices":[{"message":{"content":""},"finish_reason":"length"}]});
        assert_eq!(
            whole_answer(&silent.to_string()).unwrap(),
            vec![StreamEvent::Done {
                finish_reason: FinishReason::Length,
                usage: Usage::default()
            }]
        );
    }

    #[test]
    fn a_whole_answer_that_is_an_error_or_not_a_completion_is_an_upstream_error() {
        let err = whole_answer(r#"{"error":{"message":"boom","type":"invalid_request_error"}}"#)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Upstream);
        assert!(err.message.contains("boom"), "{}", err.message);
        for body in [r#"{"choices": [ oops"#, r#"{"choices":"many"}"#, "{}"] {
            let err = whole_answer(body).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Upstream, "{body}");
        }
    }

    #[tokio::test]
    async fn an_error_chunk_ends_the_stream_with_its_message() {
        let text = format!(
            "data: {}\n\ndata: {}\n\n",
            delta("a"),
            json!({"error":{"message":"boom","type":"server_error"}})
        );
        let events = decode_fixture(split_bytes(&text, 64), OpenAiDecoder::new("test")).await;
        assert_eq!(events.len(), 2);
        let err = events[1].as_ref().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Upstream);
        assert!(err.message.contains("boom"), "{}", err.message);
    }
}
