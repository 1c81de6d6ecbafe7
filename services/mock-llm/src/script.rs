//! The public vocabulary of the mock: how a test scripts one answer, what the server records of
//! each request, and how the server is configured.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

/// How the mock answers one request. Every field is optional in JSON (`{}` is the default echo),
/// so the same shape works in [`crate::MockLlm::push`], the `x-mock-script` header and
/// `POST /_mock/scripts`.
///
/// The server-wide latencies of [`Options`] still apply to a scripted answer; the script's
/// delays are added to them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Script {
    /// Reply text; `None` is the default echo (or no text at all when `tool_calls` is set).
    pub text: Option<String>,
    /// If non-empty, the reply asks for these tool calls (finish reason `tool_calls` /
    /// stop reason `tool_use`), after `text` if both are set.
    pub tool_calls: Vec<ToolCall>,
    /// Anthropic format only: the reply starts with a `thinking` block of this text, signed
    /// with [`THINKING_SIGNATURE`] (streamed as a `thinking_delta` and a `signature_delta`), as
    /// a model with extended thinking answers. The OpenAI format ignores it.
    pub thinking: Option<String>,
    /// Overrides the word-count stand-in for token usage.
    pub usage: Option<Usage>,
    /// Answer with this HTTP status and a provider-shaped error body instead of a reply.
    pub status: Option<u16>,
    /// Message of the error body (a generic one when `None`).
    pub error_message: Option<String>,
    /// `Retry-After` seconds on the error response.
    pub retry_after_secs: Option<u64>,
    /// Delay before the response headers.
    pub delay_ms: u64,
    /// Streaming: delay between the headers and the first event.
    pub ttft_ms: u64,
    /// Streaming: delay before each content chunk after the first.
    pub token_delay_ms: u64,
    /// Streaming: split the text (and each tool call's arguments) into this many chunks instead
    /// of one chunk per word.
    pub chunks: Option<usize>,
    /// Accept the request and never answer; the client has to give up.
    pub hang: bool,
    /// Streaming: send this many content chunks (text or tool-call deltas), then drop the
    /// connection without ending the stream. Ignored by non-streaming requests.
    pub disconnect_after_chunks: Option<usize>,
    /// Answer a streaming request with the whole JSON reply, as some proxies and small servers
    /// do whatever they are asked.
    pub no_stream: bool,
    /// Answer with exactly this body and no `Content-Type`, with `status` (200 when `None`),
    /// instead of a reply: an upstream that sends what a client does not expect.
    pub raw_body: Option<String>,
}

/// The signature of every scripted `thinking` block, which a client must send back verbatim.
pub const THINKING_SIGNATURE: &str = "bW9jay1zaWduYXR1cmU=";

/// A tool call the reply asks for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments object. A JSON string is taken as the raw arguments text, which lets a
    /// script send malformed arguments on purpose.
    pub arguments: serde_json::Value,
}

impl ToolCall {
    /// The arguments as text, which is how OpenAI sends them and how both formats stream them.
    pub(crate) fn arguments_text(&self) -> Cow<'_, str> {
        match &self.arguments {
            serde_json::Value::String(raw) => Cow::Borrowed(raw),
            value => Cow::Owned(value.to_string()),
        }
    }

    /// The arguments as a JSON value, which is how Anthropic sends a complete `tool_use` block.
    pub(crate) fn input(&self) -> Cow<'_, serde_json::Value> {
        match &self.arguments {
            serde_json::Value::String(raw) => {
                serde_json::from_str(raw).map_or(Cow::Borrowed(&self.arguments), Cow::Owned)
            }
            value => Cow::Borrowed(value),
        }
    }
}

/// Token counts reported in the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// One request received on `/v1/chat/completions` or `/v1/messages`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub path: String,
    /// Header names are lower-case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The JSON body, or the raw body as a JSON string when it was not valid JSON.
    pub body: serde_json::Value,
}

impl RecordedRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Server-wide configuration; the latencies apply to every streamed or non-streamed answer.
#[derive(Clone, Debug)]
pub struct Options {
    /// 0 picks a random free port.
    pub port: u16,
    pub bind: IpAddr,
    pub delay_ms: u64,
    pub ttft_ms: u64,
    pub token_delay_ms: u64,
    /// Default chunk count for streamed text when a script does not set one.
    pub chunks: Option<usize>,
    /// Streaming: each word of the reply text becomes a chunk whose text is the Unix time in
    /// microseconds at which it is sent, then a space, so a client behind a gateway can measure
    /// each chunk's latency. (The reply's chunk count is then fixed, tool-call arguments
    /// included.)
    pub timestamp_chunks: bool,
    /// Keep every request for [`crate::MockLlm::requests`]; turn off for benchmarks, where the
    /// list would grow without bound.
    pub record_requests: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            port: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            delay_ms: 0,
            ttft_ms: 0,
            token_delay_ms: 0,
            chunks: None,
            timestamp_chunks: false,
            record_requests: true,
        }
    }
}
