//! S1's shapes: the task body and object (`/v1/tasks`, as its create, read and list answers
//! show it), the session `POST /v1/sessions` creates, a session message's body and reply, and a
//! tool call's body and answer.

use chrono::{DateTime, Utc};
use openclaw_domain::TaskId;
use openclaw_engine::run::run_wire_id;
use openclaw_store::{JobRecord, SessionRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A task.
#[derive(Debug, Serialize)]
pub struct Task<'a> {
    pub id: String,
    pub object: &'static str,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub job_type: &'a str,
    /// `pending`, `running`, `completed`, `failed`, `cancelled`.
    pub status: &'static str,
    pub progress: i16,
    pub parameters: &'a Value,
    pub priority: i32,
    /// Seconds.
    pub timeout: i32,
    pub result: &'a Option<Value>,
    pub error: &'a Option<Value>,
    pub attempts: i32,
    pub run_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl<'a> Task<'a> {
    pub fn of(job: &'a JobRecord) -> Self {
        Task {
            id: TaskId(job.id).to_string(),
            object: "task",
            name: &job.name,
            job_type: &job.job_type,
            status: job.status.wire(),
            progress: job.progress,
            parameters: &job.parameters,
            priority: job.priority,
            timeout: job.timeout_ms / 1000,
            result: &job.result,
            error: &job.error,
            attempts: job.attempts,
            run_id: job.run_id.map(run_wire_id),
            created_at: job.created_at,
            updated_at: job.updated_at,
            started_at: job.started_at,
            completed_at: job.finished_at,
        }
    }
}

/// `POST /v1/sessions`' answer.
#[derive(Debug, Serialize)]
pub struct SessionCreated<'a> {
    pub session_id: &'a str,
    pub label: Option<&'a str>,
    pub agent_id: &'a str,
    pub model: Option<&'a str>,
    pub channel: &'a str,
    pub context: &'a Value,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl<'a> SessionCreated<'a> {
    pub fn of(s: &'a SessionRecord) -> Self {
        SessionCreated {
            session_id: &s.key,
            label: s.label.as_deref(),
            agent_id: &s.agent_id,
            model: s.model.as_deref(),
            channel: &s.channel,
            context: &s.context,
            created_at: s.created_at,
            expires_at: s.expires_at,
        }
    }
}

/// `POST /v1/tools/{name}/execute`'s answer.
#[derive(Debug, Serialize)]
pub struct ToolResult<'a> {
    pub result: &'a Value,
    pub metadata: ToolMetadata<'a>,
}

#[derive(Debug, Serialize)]
pub struct ToolMetadata<'a> {
    /// Milliseconds.
    pub execution_time: f64,
    /// Not measured per call: in-process skills share the server's heap.
    pub memory_used: Option<u64>,
    pub skill: &'a str,
    pub version: &'a str,
}

/// `POST /v1/sessions/{id}/messages`' answer: the assistant's message.
#[derive(Debug, Serialize)]
pub struct SessionReply<'a> {
    pub message_id: &'a str,
    pub content: &'a str,
    pub role: &'static str,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionMessageBody {
    pub content: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub job_type: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub priority: Option<i64>,
    /// Seconds.
    #[serde(default)]
    pub timeout: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    #[serde(default)]
    pub parameters: Option<Value>,
}
