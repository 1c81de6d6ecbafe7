//! S0's shapes (the Chinese seed's camelCase ones, enveloped under `/api/v1`): the answer of
//! `POST /message`, the `data: {"chunk": …}` frames of its stream, its sessions, its status and
//! skill list (supersets with S2's), and a skill call's body and answer.

use chrono::{DateTime, Utc};
use openclaw_engine::RunEventKind;
use openclaw_store::SessionRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FrameError;

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

/// `GET /api/v1/status`: a superset (API.md §1) — S0's envelope around its three sections
/// (taken from S2's), S2's sections beside it.
#[derive(Serialize)]
pub struct Status {
    pub success: bool,
    pub data: StatusData,
    #[serde(flatten)]
    pub s2: super::s2::Status,
}

#[derive(Serialize)]
pub struct StatusData {
    pub gateway: StatusGateway,
    pub models: super::s2::StatusModels,
    pub sessions: super::s2::StatusSessions,
}

#[derive(Serialize)]
pub struct StatusGateway {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime: u64,
}

impl Status {
    pub fn of(s2: super::s2::Status) -> Self {
        Status {
            success: true,
            data: StatusData {
                gateway: StatusGateway {
                    status: s2.status,
                    version: s2.version,
                    uptime: s2.uptime_seconds,
                },
                models: s2.models.clone(),
                sessions: s2.sessions.clone(),
            },
            s2,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillCall {
    #[serde(default)]
    pub args: Value,
    /// S0 names the session the call belongs to: the memory skills work in its conversation.
    #[serde(default)]
    pub session: Option<String>,
}
