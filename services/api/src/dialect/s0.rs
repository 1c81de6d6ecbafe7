//! S0's views (the Chinese seed's camelCase shapes, enveloped under `/api/v1`): the answer of
//! `POST /message` and the `data: {"chunk": …}` frames of its stream.

use openclaw_engine::RunEventKind;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// `POST /message`'s answer (`data` of the envelope).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply<'a> {
    pub message_id: &'a str,
    pub text: &'a str,
    pub usage: Usage,
}

impl<'a> Reply<'a> {
    pub fn of(done: &'a openclaw_engine::Done) -> Self {
        Reply {
            message_id: &done.message_id,
            text: &done.content,
            usage: Usage {
                input_tokens: done.input_tokens,
                output_tokens: done.output_tokens,
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct FrameError<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

/// One frame of S0's stream (then `data: [DONE]`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Frame<'a> {
    Chunk { chunk: &'a str },
    Error { error: FrameError<'a> },
}

/// A run event as S0's stream shows it: its text and its failure, nothing else.
pub fn frame(kind: &RunEventKind) -> Option<Frame<'_>> {
    match kind {
        RunEventKind::Delta { text } => Some(Frame::Chunk { chunk: text }),
        RunEventKind::Error { code, message, .. } => Some(Frame::Error {
            error: FrameError { code, message },
        }),
        _ => None,
    }
}
