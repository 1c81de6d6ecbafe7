//! S3's shapes: the bodies of `POST /chat` and `POST /agents/spawn`, the chat's reply and the
//! `data: {"id","content"}` frames of its stream, and the spawned agent object (`/v1/agents`).

use chrono::{DateTime, Utc};
use openclaw_domain::AgentId;
use openclaw_engine::run::run_wire_id;
use openclaw_engine::RunEventKind;
use openclaw_store::JobRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FrameError;

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

/// A spawned agent (`GET /v1/agents/{id}` adds `children`).
#[derive(Debug, Serialize)]
pub struct Agent<'a> {
    pub id: String,
    pub object: &'static str,
    pub status: &'static str,
    pub task: &'a Value,
    pub model: &'a Value,
    pub skills: Value,
    /// Seconds.
    pub timeout: i32,
    pub result: &'a Option<Value>,
    pub error: &'a Option<Value>,
    pub parent_id: Option<String>,
    pub depth: i16,
    pub run_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl<'a> Agent<'a> {
    pub fn of(job: &'a JobRecord) -> Self {
        let p = &job.parameters;
        Agent {
            id: AgentId(job.id).to_string(),
            object: "agent",
            status: job.status.wire(),
            task: p.get("task").unwrap_or(&Value::Null),
            model: p.get("model").unwrap_or(&Value::Null),
            // A sub-agent's parameters may carry `null`: shown as none asked for.
            skills: p
                .get("skills")
                .filter(|s| !s.is_null())
                .cloned()
                .unwrap_or_else(|| Value::Array(Vec::new())),
            timeout: job.timeout_ms / 1000,
            result: &job.result,
            error: &job.error,
            parent_id: job.parent_id.map(|id| AgentId(id).to_string()),
            depth: job.depth,
            run_id: job.run_id.map(run_wire_id),
            created_at: job.created_at,
            updated_at: job.updated_at,
            started_at: job.started_at,
            completed_at: job.finished_at,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatContext {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub temperature: Option<f32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    #[serde(default, alias = "sessionId")]
    pub session_id: Option<String>,
    pub message: String,
    #[serde(default)]
    pub context: Option<ChatContext>,
    #[serde(default)]
    pub stream: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnAgent {
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub timeout: Option<i64>,
    #[serde(default)]
    pub skills: Option<Vec<String>>,
}
