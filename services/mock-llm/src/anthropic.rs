//! The Anthropic Messages wire format: the `message` object, the typed event stream and the
//! error body.

use std::borrow::Cow;

use serde::Serialize;

use crate::reply::Answer;
use crate::script::THINKING_SIGNATURE;
use crate::sse::{write_json, Frames};

pub(crate) fn message(id: &str, model: &str, answer: &Answer) -> Vec<u8> {
    let mut content = Vec::with_capacity(answer.tool_calls.len() + 2);
    if let Some(thinking) = &answer.thinking {
        content.push(Block::Thinking {
            thinking,
            signature: THINKING_SIGNATURE,
        });
    }
    if let Some(text) = &answer.text {
        content.push(Block::Text { text });
    }
    content.extend(answer.tool_calls.iter().map(|call| Block::ToolUse {
        id: &call.id,
        name: &call.name,
        input: call.input(),
    }));
    let message = MessageView {
        id,
        kind: "message",
        role: "assistant",
        model,
        content,
        stop_reason: Some(stop_reason(answer)),
        stop_sequence: (),
        usage: UsageView {
            input_tokens: answer.usage.input_tokens,
            output_tokens: answer.usage.output_tokens,
        },
    };
    serde_json::to_vec(&message).expect("serialising to a Vec cannot fail")
}

/// The events Anthropic sends: `message_start`, per content block a start, its deltas and a
/// stop (with one `ping` after the first start, as the real API does), `message_delta` with the
/// stop reason and output tokens, `message_stop`.
pub(crate) fn stream(id: &str, model: &str, answer: &Answer) -> Frames {
    let mut frames = Frames::default();
    event(&mut frames, false, "message_start", |buf| {
        buf.extend_from_slice(br#"{"type":"message_start","message":"#);
        write_json(
            buf,
            &MessageView {
                id,
                kind: "message",
                role: "assistant",
                model,
                content: Vec::new(),
                stop_reason: None,
                stop_sequence: (),
                usage: UsageView {
                    input_tokens: answer.usage.input_tokens,
                    output_tokens: answer.usage.output_tokens.min(1),
                },
            },
        );
        buf.push(b'}');
    });

    let mut index = 0;
    if let Some(thinking) = &answer.thinking {
        block_start(&mut frames, index, |buf| {
            buf.extend_from_slice(br#"{"type":"thinking","thinking":"","signature":""}"#);
        });
        block_delta(&mut frames, index, |buf| {
            buf.extend_from_slice(br#"{"type":"thinking_delta","thinking":"#);
            write_json(buf, thinking);
            buf.push(b'}');
        });
        block_delta(&mut frames, index, |buf| {
            buf.extend_from_slice(br#"{"type":"signature_delta","signature":"#);
            write_json(buf, &THINKING_SIGNATURE);
            buf.push(b'}');
        });
        block_stop(&mut frames, index);
        index += 1;
    }
    if let Some(text) = &answer.text {
        block_start(&mut frames, index, |buf| {
            buf.extend_from_slice(br#"{"type":"text","text":""}"#);
        });
        for piece in answer.split(text) {
            block_delta(&mut frames, index, |buf| {
                buf.extend_from_slice(br#"{"type":"text_delta","text":"#);
                write_json(buf, &piece);
                buf.push(b'}');
            });
        }
        block_stop(&mut frames, index);
        index += 1;
    }
    for call in &answer.tool_calls {
        block_start(&mut frames, index, |buf| {
            buf.extend_from_slice(br#"{"type":"tool_use","id":"#);
            write_json(buf, &call.id);
            buf.extend_from_slice(br#","name":"#);
            write_json(buf, &call.name);
            buf.extend_from_slice(br#","input":{}}"#);
        });
        let arguments = call.arguments_text();
        for piece in answer.split(&arguments) {
            block_delta(&mut frames, index, |buf| {
                buf.extend_from_slice(br#"{"type":"input_json_delta","partial_json":"#);
                write_json(buf, &piece);
                buf.push(b'}');
            });
        }
        block_stop(&mut frames, index);
        index += 1;
    }

    event(&mut frames, false, "message_delta", |buf| {
        buf.extend_from_slice(br#"{"type":"message_delta","delta":{"stop_reason":"#);
        write_json(buf, &stop_reason(answer));
        buf.extend_from_slice(br#","stop_sequence":null},"usage":{"output_tokens":"#);
        write_json(buf, &answer.usage.output_tokens);
        buf.extend_from_slice(b"}}");
    });
    event(&mut frames, false, "message_stop", |buf| {
        buf.extend_from_slice(br#"{"type":"message_stop"}"#);
    });
    frames
}

/// `{"type":"error","error":{"type","message"}}` with the error type Anthropic uses for the
/// status.
pub(crate) fn error_body(status: u16, message: &str) -> Vec<u8> {
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    };
    let body = ErrorBody {
        kind: "error",
        error: ErrorView { kind, message },
    };
    serde_json::to_vec(&body).expect("serialising to a Vec cannot fail")
}

fn stop_reason(answer: &Answer) -> &'static str {
    if answer.calls_tools() {
        "tool_use"
    } else {
        "end_turn"
    }
}

fn event(frames: &mut Frames, content: bool, name: &str, write_data: impl FnOnce(&mut Vec<u8>)) {
    frames.push(content, |buf| {
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\ndata: ");
        write_data(buf);
        buf.extend_from_slice(b"\n\n");
    });
}

fn block_start(frames: &mut Frames, index: usize, write_block: impl FnOnce(&mut Vec<u8>)) {
    event(frames, false, "content_block_start", |buf| {
        buf.extend_from_slice(br#"{"type":"content_block_start","index":"#);
        write_json(buf, &index);
        buf.extend_from_slice(br#","content_block":"#);
        write_block(buf);
        buf.push(b'}');
    });
    if index == 0 {
        event(frames, false, "ping", |buf| {
            buf.extend_from_slice(br#"{"type":"ping"}"#);
        });
    }
}

fn block_delta(frames: &mut Frames, index: usize, write_delta: impl FnOnce(&mut Vec<u8>)) {
    event(frames, true, "content_block_delta", |buf| {
        buf.extend_from_slice(br#"{"type":"content_block_delta","index":"#);
        write_json(buf, &index);
        buf.extend_from_slice(br#","delta":"#);
        write_delta(buf);
        buf.push(b'}');
    });
}

fn block_stop(frames: &mut Frames, index: usize) {
    event(frames, false, "content_block_stop", |buf| {
        buf.extend_from_slice(br#"{"type":"content_block_stop","index":"#);
        write_json(buf, &index);
        buf.push(b'}');
    });
}

// `()` serialises as the `null` Anthropic always sends for `stop_sequence`.
#[derive(Serialize)]
struct MessageView<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Block<'a>>,
    stop_reason: Option<&'static str>,
    stop_sequence: (),
    usage: UsageView,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Cow<'a, serde_json::Value>,
    },
}

#[derive(Serialize)]
struct UsageView {
    input_tokens: u32,
    output_tokens: u32,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: ErrorView<'a>,
}

#[derive(Serialize)]
struct ErrorView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}
