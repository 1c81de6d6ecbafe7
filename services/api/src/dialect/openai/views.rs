//! OpenAI's answers: a run's end as one `chat.completion`, its events as
//! `chat.completion.chunk` frames, and the model objects of `/v1/models`.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::response::sse::Event;
use chrono::Utc;
use openclaw_engine::{ModelInfo, RunEvent, RunEventKind, Started};
use serde_json::{json, Value};

use super::request::arguments_text;
use crate::error::{ApiError, ApiResult};

/// What every chunk of one completion repeats.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    id: String,
    created: i64,
    model: String,
}

impl Meta {
    pub(crate) fn of(started: &Started) -> Meta {
        Meta {
            // The run's id inside, so a completion can be traced to its run and events.
            id: format!("chatcmpl-{}", started.run_id.simple()),
            created: Utc::now().timestamp(),
            model: started.model.clone(),
        }
    }
}

fn usage_json(input: u64, output: u64) -> Value {
    json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output})
}

fn tool_call_json(id: &str, name: &str, arguments: &Value) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments_text(arguments)}})
}

/// Reads the run to its end and answers as one `chat.completion`.
pub(crate) async fn completion(started: Started) -> ApiResult<Value> {
    let meta = Meta::of(&started);
    // Chat completions never set an executor: every call the model made goes to the client.
    let done = started.events.outcome().await.map_err(ApiError)?;
    let calls: Vec<Value> = done
        .calls
        .iter()
        .map(|(id, name, arguments)| tool_call_json(id, name, arguments))
        .collect();
    let mut message = json!({
        "role": "assistant",
        // OpenAI's null, not "", for a turn that only called tools.
        "content": if done.content.is_empty() && !calls.is_empty() { Value::Null } else { json!(done.content) },
        "refusal": null,
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(json!({
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": done.finish_reason}],
        "usage": usage_json(done.input_tokens, done.output_tokens),
        "system_fingerprint": null,
    }))
}

fn data(value: Value) -> Event {
    Event::default().data(value.to_string())
}

/// The run's events as `chat.completion.chunk` frames: the role first, then content and
/// tool-call deltas, a last chunk with the finish reason, the usage chunk if asked for, and
/// `[DONE]`. A failure is an `{"error": …}` frame, which the SDKs raise, and no `[DONE]`.
pub(crate) fn chunks(
    meta: Meta,
    include_usage: bool,
) -> impl Fn(&RunEvent) -> Vec<Event> + Send + 'static {
    // Tool calls are numbered in order across the stream, as OpenAI's `index` is.
    let next_tool = AtomicUsize::new(0);
    move |event: &RunEvent| {
        let chunk = |delta: Value, finish_reason: Option<&str>| {
            let mut c = json!({
                "id": meta.id,
                "object": "chat.completion.chunk",
                "created": meta.created,
                "model": meta.model,
                "system_fingerprint": null,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
            });
            // With usage asked for, OpenAI puts `usage: null` on every chunk but the last.
            if include_usage {
                c["usage"] = Value::Null;
            }
            data(c)
        };
        match &event.kind {
            RunEventKind::Start { .. } => {
                vec![chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            RunEventKind::Delta { text } => vec![chunk(json!({"content": text}), None)],
            RunEventKind::ToolResult { .. } => Vec::new(),
            RunEventKind::ToolCall {
                id,
                name,
                arguments,
            } => {
                let index = next_tool.fetch_add(1, Ordering::Relaxed);
                let mut call = tool_call_json(id, name, arguments);
                call["index"] = json!(index);
                vec![chunk(json!({"tool_calls": [call]}), None)]
            }
            RunEventKind::Done {
                finish_reason,
                input_tokens,
                output_tokens,
                ..
            } => {
                let mut frames = vec![chunk(json!({}), Some(finish_reason))];
                if include_usage {
                    frames.push(data(json!({
                        "id": meta.id,
                        "object": "chat.completion.chunk",
                        "created": meta.created,
                        "model": meta.model,
                        "system_fingerprint": null,
                        "choices": [],
                        "usage": usage_json(*input_tokens, *output_tokens),
                    })));
                }
                frames.push(Event::default().data("[DONE]"));
                frames
            }
            RunEventKind::Error {
                code,
                message,
                kind,
                ..
            } => {
                let (_, _, kind) = kind.parts();
                vec![data(
                    json!({"error": {"message": message, "type": kind, "code": code, "param": null}}),
                )]
            }
        }
    }
}

pub(crate) fn model_json(m: &ModelInfo) -> Value {
    // OpenAI's `created` is always an integer; 0 stands for "the upstream did not say".
    json!({"id": m.id, "object": "model", "created": m.created.unwrap_or(0), "owned_by": m.owned_by})
}
