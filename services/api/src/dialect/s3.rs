//! S3's views (`POST /chat`): the reply and the `data: {"id","content"}` frames of its stream.

use chrono::{DateTime, Utc};
use openclaw_engine::RunEventKind;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// `POST /chat`'s answer.
#[derive(Debug, Serialize)]
pub struct Reply<'a> {
    pub id: &'a str,
    pub content: &'a str,
    pub model: &'a str,
    pub usage: Usage,
    pub timestamp: DateTime<Utc>,
    pub session_id: &'a str,
}

#[derive(Debug, Serialize)]
pub struct FrameError<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

/// One frame of S3's stream (then `data: [DONE]`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Frame<'a> {
    Content {
        id: &'a str,
        content: &'a str,
    },
    Done {
        id: &'a str,
        content: &'static str,
        done: bool,
        usage: Usage,
    },
    Error {
        error: FrameError<'a>,
    },
}

/// A run event as S3's stream shows it (`id`: the run's wire id).
pub fn frame<'a>(kind: &'a RunEventKind, id: &'a str) -> Option<Frame<'a>> {
    match kind {
        RunEventKind::Delta { text } => Some(Frame::Content { id, content: text }),
        RunEventKind::Done {
            input_tokens,
            output_tokens,
            ..
        } => Some(Frame::Done {
            id,
            content: "",
            done: true,
            usage: Usage {
                input_tokens: *input_tokens,
                output_tokens: *output_tokens,
            },
        }),
        RunEventKind::Error { code, message, .. } => Some(Frame::Error {
            error: FrameError { code, message },
        }),
        RunEventKind::Start { .. }
        | RunEventKind::ToolCall { .. }
        | RunEventKind::ToolResult { .. } => None,
    }
}
