//! S0's views (the Chinese seed's camelCase shapes, enveloped under `/api/v1`): the answer of
//! `POST /message`, the `data: {"chunk": …}` frames of its stream, its sessions, its skill list
//! and a skill's execution.

use chrono::{DateTime, Utc};
use openclaw_engine::RunEventKind;
use openclaw_store::SessionRecord;
use serde::Serialize;
use serde_json::Value;

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

/// S0's session object. S0's page lists sessions by `label`: one the client never named (the
/// `default` session a message created) is shown by its key.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub created_at: DateTime<Utc>,
    pub message_count: i32,
    /// Only when one session is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<&'a Value>,
}

impl<'a> Session<'a> {
    pub fn of(s: &'a SessionRecord) -> Self {
        Session {
            id: &s.key,
            label: s.label.as_deref().unwrap_or(&s.key),
            created_at: s.created_at,
            message_count: s.message_count,
            context: None,
        }
    }

    pub fn with_context(s: &'a SessionRecord) -> Self {
        Session {
            context: Some(&s.context),
            ..Session::of(s)
        }
    }
}

/// `POST /sessions`' answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCreated<'a> {
    pub session_id: &'a str,
    pub label: Option<&'a str>,
    pub created_at: DateTime<Utc>,
}

impl<'a> SessionCreated<'a> {
    pub fn of(s: &'a SessionRecord) -> Self {
        SessionCreated {
            session_id: &s.key,
            label: s.label.as_deref(),
            created_at: s.created_at,
        }
    }
}

/// What a delete answers.
#[derive(Debug, Serialize)]
pub struct Deleted {
    pub deleted: bool,
}

/// `GET /api/v1/skills`: a superset (API.md §1) — S0's envelope (`data.skills[{name,
/// description, enabled, version}]`, S2's objects) beside S2's `skills` and `total`.
#[derive(Debug, Serialize)]
pub struct Skills<'a> {
    pub success: bool,
    pub data: SkillsData<'a>,
    #[serde(flatten)]
    pub s2: super::s2::Skills<'a>,
}

#[derive(Debug, Serialize)]
pub struct SkillsData<'a> {
    pub skills: &'a [super::s2::Installed<'a>],
}

impl<'a> Skills<'a> {
    pub fn of(skills: &'a [super::s2::Installed<'a>]) -> Self {
        Skills {
            success: true,
            data: SkillsData { skills },
            s2: super::s2::Skills {
                skills,
                total: skills.len(),
            },
        }
    }
}

/// `POST /skills/{name}/execute`'s answer: `result` is the skill's sentence where it has one
/// (S0 shows "北京今天晴,温度 20-28°C"; weather's `summary`), else its output; the structured
/// output is beside it as `output`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillResult<'a> {
    pub result: &'a Value,
    pub output: &'a Value,
    /// Seconds.
    pub execution_time: f64,
    pub skill: &'a str,
    pub version: &'a str,
}

impl<'a> SkillResult<'a> {
    pub fn of(output: &'a Value, execution_time: f64, skill: &'a str, version: &'a str) -> Self {
        let result = match output.get("summary") {
            Some(sentence @ Value::String(_)) => sentence,
            _ => output,
        };
        SkillResult {
            result,
            output,
            execution_time,
            skill,
            version,
        }
    }
}
