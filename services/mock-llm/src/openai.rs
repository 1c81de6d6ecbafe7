//! The OpenAI chat-completions wire format: the `chat.completion` object, the
//! `chat.completion.chunk` event stream and the error body.

use std::borrow::Cow;

use serde::Serialize;

use crate::reply::Answer;
use crate::script::Usage;
use crate::sse::{write_json, Frames};

pub(crate) fn completion(id: &str, created: u64, model: &str, answer: &Answer) -> Vec<u8> {
    let tool_calls = answer
        .tool_calls
        .iter()
        .map(|call| ToolCallView {
            id: &call.id,
            kind: "function",
            function: FunctionView {
                name: &call.name,
                arguments: call.arguments_text(),
            },
        })
        .collect();
    let completion = Completion {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [Choice {
            index: 0,
            message: MessageView {
                role: "assistant",
                content: answer.text.as_deref(),
                tool_calls,
                refusal: (),
            },
            logprobs: (),
            finish_reason: finish_reason(answer),
        }],
        usage: answer.usage.into(),
    };
    serde_json::to_vec(&completion).expect("serialising to a Vec cannot fail")
}

/// The events OpenAI sends: a role delta, content deltas, per tool call a delta with its id and
/// name then argument deltas, a delta with the finish reason, the usage chunk when asked for,
/// and `[DONE]`.
pub(crate) fn stream(
    id: &str,
    created: u64,
    model: &str,
    answer: &Answer,
    include_usage: bool,
) -> Frames {
    let chunk = ChunkWriter::new(id, created, model, include_usage);
    let mut frames = Frames::default();

    let role_delta: &[u8] = if answer.text.is_some() {
        br#"{"role":"assistant","content":""}"#
    } else {
        br#"{"role":"assistant","content":null}"#
    };
    chunk.delta(&mut frames, false, None, |buf| {
        buf.extend_from_slice(role_delta);
    });

    if let Some(text) = &answer.text {
        for piece in answer.split(text) {
            chunk.delta(&mut frames, true, None, |buf| {
                buf.extend_from_slice(br#"{"content":"#);
                write_json(buf, &piece);
                buf.push(b'}');
            });
        }
    }

    for (index, call) in answer.tool_calls.iter().enumerate() {
        chunk.delta(&mut frames, true, None, |buf| {
            buf.extend_from_slice(br#"{"tool_calls":[{"index":"#);
            write_json(buf, &index);
            buf.extend_from_slice(br#","id":"#);
            write_json(buf, &call.id);
            buf.extend_from_slice(br#","type":"function","function":{"name":"#);
            write_json(buf, &call.name);
            buf.extend_from_slice(br#","arguments":""}}]}"#);
        });
        let arguments = call.arguments_text();
        for piece in answer.split(&arguments) {
            chunk.delta(&mut frames, true, None, |buf| {
                buf.extend_from_slice(br#"{"tool_calls":[{"index":"#);
                write_json(buf, &index);
                buf.extend_from_slice(br#","function":{"arguments":"#);
                write_json(buf, &piece);
                buf.extend_from_slice(b"}}]}");
            });
        }
    }

    chunk.delta(&mut frames, false, Some(finish_reason(answer)), |buf| {
        buf.extend_from_slice(b"{}");
    });

    if include_usage {
        frames.push(false, |buf| {
            buf.extend_from_slice(&chunk.head);
            buf.extend_from_slice(br#""choices":[],"usage":"#);
            write_json(buf, &UsageView::from(answer.usage));
            buf.extend_from_slice(b"}\n\n");
        });
    }

    frames.push(false, |buf| buf.extend_from_slice(b"data: [DONE]\n\n"));
    frames
}

/// `{"error":{"message","type","param":null,"code"}}` with the type and code OpenAI uses for
/// the status.
pub(crate) fn error_body(status: u16, message: &str) -> Vec<u8> {
    let (kind, code) = match status {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        404 => ("invalid_request_error", Some("model_not_found")),
        429 => ("requests", Some("rate_limit_exceeded")),
        500..=599 => ("server_error", None),
        _ => ("invalid_request_error", None),
    };
    let body = ErrorBody {
        error: ErrorView {
            message,
            kind,
            param: (),
            code,
        },
    };
    serde_json::to_vec(&body).expect("serialising to a Vec cannot fail")
}

fn finish_reason(answer: &Answer) -> &'static str {
    if answer.calls_tools() {
        "tool_calls"
    } else {
        "stop"
    }
}

/// Writes chunks around a head serialised once per response: every chunk of a stream shares its
/// id, timestamp and model.
struct ChunkWriter {
    head: Vec<u8>,
    /// OpenAI sends `"usage":null` on every chunk but the last when usage was asked for.
    usage_null: bool,
}

impl ChunkWriter {
    fn new(id: &str, created: u64, model: &str, include_usage: bool) -> Self {
        let mut head = Vec::with_capacity(96 + model.len());
        head.extend_from_slice(br#"data: {"id":"#);
        write_json(&mut head, &id);
        head.extend_from_slice(br#","object":"chat.completion.chunk","created":"#);
        write_json(&mut head, &created);
        head.extend_from_slice(br#","model":"#);
        write_json(&mut head, &model);
        head.push(b',');
        Self {
            head,
            usage_null: include_usage,
        }
    }

    fn delta(
        &self,
        frames: &mut Frames,
        content: bool,
        finish_reason: Option<&str>,
        write_delta: impl FnOnce(&mut Vec<u8>),
    ) {
        frames.push(content, |buf| {
            buf.extend_from_slice(&self.head);
            buf.extend_from_slice(br#""choices":[{"index":0,"delta":"#);
            write_delta(buf);
            buf.extend_from_slice(br#","logprobs":null,"finish_reason":"#);
            write_json(buf, &finish_reason);
            buf.extend_from_slice(b"}]");
            if self.usage_null {
                buf.extend_from_slice(br#","usage":null"#);
            }
            buf.extend_from_slice(b"}\n\n");
        });
    }
}

// `()` fields serialise as the `null`s OpenAI always sends.
#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: UsageView,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: MessageView<'a>,
    logprobs: (),
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct MessageView<'a> {
    role: &'static str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallView<'a>>,
    refusal: (),
}

#[derive(Serialize)]
struct ToolCallView<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionView<'a>,
}

#[derive(Serialize)]
struct FunctionView<'a> {
    name: &'a str,
    arguments: Cow<'a, str>,
}

#[derive(Serialize)]
struct UsageView {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
}

impl From<Usage> for UsageView {
    fn from(usage: Usage) -> Self {
        Self {
            prompt_tokens: usage.input_tokens,
            completion_tokens: usage.output_tokens,
            total_tokens: usage.input_tokens.saturating_add(usage.output_tokens),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorView<'a>,
}

#[derive(Serialize)]
struct ErrorView<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    param: (),
    code: Option<&'static str>,
}
