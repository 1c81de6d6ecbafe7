//! S2's shapes (the Korean seed's snake_case ones): the `POST /message` body (S0's too), the
//! assistant's reply, which `POST /v1/message`, a message's status and the WebSocket's
//! `response` frame all carry, and the `data: {"type": …}` frames of its stream; its
//! conversations, memory, skills and status in their modules.

use openclaw_engine::RunEventKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FrameError;

mod conversation;
mod memory;
mod skill;
mod status;

pub use conversation::*;
pub use memory::*;
pub use skill::*;
pub use status::*;

#[derive(Debug, Serialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub total: u64,
}

impl Tokens {
    pub fn of(input: u64, output: u64) -> Tokens {
        Tokens {
            input,
            output,
            total: input + output,
        }
    }
}

/// The assistant's reply.
#[derive(Debug, Serialize)]
pub struct Reply<'a> {
    pub id: &'a str,
    pub conversation_id: &'a str,
    pub role: &'static str,
    pub content: &'a str,
    pub skills_used: &'a [String],
    pub tokens: Tokens,
    pub latency_ms: u64,
    pub model: &'a str,
}

impl<'a> Reply<'a> {
    pub fn of(done: &'a openclaw_engine::Done, conversation_id: &'a str, model: &'a str) -> Self {
        Reply {
            id: &done.message_id,
            conversation_id,
            role: "assistant",
            content: &done.content,
            skills_used: &done.tools_used,
            tokens: Tokens::of(done.input_tokens, done.output_tokens),
            latency_ms: done.latency_ms,
            model,
        }
    }
}

/// One frame of S2's stream.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame<'a> {
    Start {
        conversation_id: &'a str,
    },
    Token {
        content: &'a str,
    },
    SkillCall {
        skill: &'a str,
        status: &'static str,
    },
    SkillResult {
        skill: &'a str,
        /// `completed` or `failed`.
        status: &'static str,
        result: &'a Value,
    },
    End {
        tokens: EndTokens,
    },
    Error {
        error: FrameError<'a>,
    },
}

/// The token counts S2's `end` frame shows (no total).
#[derive(Debug, Serialize)]
pub struct EndTokens {
    pub input: u64,
    pub output: u64,
}

/// A run event as S2's stream shows it.
pub fn frame(kind: &RunEventKind) -> Frame<'_> {
    match kind {
        RunEventKind::Start { session_key, .. } => Frame::Start {
            conversation_id: session_key,
        },
        RunEventKind::Delta { text } => Frame::Token { content: text },
        RunEventKind::ToolCall { name, .. } => Frame::SkillCall {
            skill: name,
            status: "invoking",
        },
        RunEventKind::ToolResult {
            name,
            output,
            is_error,
            ..
        } => Frame::SkillResult {
            skill: name,
            status: if *is_error { "failed" } else { "completed" },
            result: output,
        },
        RunEventKind::Done {
            input_tokens,
            output_tokens,
            ..
        } => Frame::End {
            tokens: EndTokens {
                input: *input_tokens,
                output: *output_tokens,
            },
        },
        RunEventKind::Error { code, message, .. } => Frame::Error {
            error: FrameError { code, message },
        },
    }
}

/// `POST /message` with `wait_for_response: false`: 202 and where to poll.
#[derive(Debug, Serialize)]
pub struct Accepted<'a> {
    pub id: &'a str,
    pub status: &'static str,
    pub conversation_id: &'a str,
    pub poll_url: String,
}

/// `GET /message/{id}/status`: the run's status, its reply once completed, its error once
/// failed.
#[derive(Debug, Serialize)]
pub struct MessageStatus<'a> {
    pub id: String,
    pub status: &'static str,
    pub conversation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Reply<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a Value>,
}

/// One body for both seeds that document `POST /message`: S2 sends `message`, S0 `text`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, alias = "conversationId")]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default, alias = "waitForResponse")]
    pub wait_for_response: Option<bool>,
    #[serde(default, alias = "timeoutMs")]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default, alias = "sessionKey", alias = "session_id")]
    pub session: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
}
