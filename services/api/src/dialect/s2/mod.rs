//! S2's views (the Korean seed's snake_case shapes): the assistant's reply, which
//! `POST /v1/message`, a message's status and the WebSocket's `response` frame all carry, and
//! the `data: {"type": …}` frames of its stream; its conversations, memory and skills in their
//! modules.

use openclaw_engine::RunEventKind;
use serde::Serialize;
use serde_json::Value;

mod conversation;
mod memory;
mod skill;

pub use conversation::*;
pub use memory::*;
pub use skill::*;

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

#[derive(Debug, Serialize)]
pub struct FrameError<'a> {
    pub code: &'a str,
    pub message: &'a str,
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
