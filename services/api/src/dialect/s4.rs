//! S4's shapes (the OpenClaw gateway's camelCase ones): the run request, the answer of
//! `POST /v1/agent/run`, and the run events that `/v1/agent/run/stream` (SSE) and WebSocket's
//! `chat.run` both send, rendered once here so the two transports carry the same fields; and the
//! session object.

use chrono::{DateTime, Utc};
use openclaw_engine::RunEventKind;
use openclaw_store::SessionRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    pub fn of(input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            prompt_tokens: input_tokens,
            completion_tokens: output_tokens,
            total_tokens: input_tokens + output_tokens,
        }
    }
}

/// `POST /v1/agent/run`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunView<'a> {
    pub run_id: &'a str,
    pub session_key: &'a str,
    pub response: &'a str,
    pub usage: Usage,
}

/// One run event in S4's words.
#[derive(Debug, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum EventView<'a> {
    Delta {
        session_key: &'a str,
        run_id: &'a str,
        delta: &'a str,
    },
    ToolCall {
        run_id: &'a str,
        call_id: &'a str,
        tool: &'a str,
        params: &'a Value,
    },
    ToolResult {
        run_id: &'a str,
        call_id: &'a str,
        tool: &'a str,
        result: &'a Value,
        is_error: bool,
    },
    Done {
        session_key: &'a str,
        run_id: &'a str,
        content: &'a str,
        finish_reason: &'a str,
        usage: Usage,
    },
    Error {
        run_id: &'a str,
        code: &'a str,
        message: &'a str,
    },
}

impl EventView<'_> {
    /// The SSE event name (`delta`, `tool_call`, `tool_result`, `done`, `error`).
    pub fn sse_name(&self) -> &'static str {
        match self {
            EventView::Delta { .. } => "delta",
            EventView::ToolCall { .. } => "tool_call",
            EventView::ToolResult { .. } => "tool_result",
            EventView::Done { .. } => "done",
            EventView::Error { .. } => "error",
        }
    }

    /// The WebSocket frame type (`chat.delta`, `tool.call`, `tool.result`, `chat.done`, `error`).
    pub fn ws_type(&self) -> &'static str {
        match self {
            EventView::Delta { .. } => "chat.delta",
            EventView::ToolCall { .. } => "tool.call",
            EventView::ToolResult { .. } => "tool.result",
            EventView::Done { .. } => "chat.done",
            EventView::Error { .. } => "error",
        }
    }
}

/// A run event as S4 shows it; `None` for what S4 does not show (the start).
pub fn event<'a>(
    kind: &'a RunEventKind,
    run_id: &'a str,
    session_key: &'a str,
) -> Option<EventView<'a>> {
    Some(match kind {
        RunEventKind::Start { .. } => return None,
        RunEventKind::Delta { text } => EventView::Delta {
            session_key,
            run_id,
            delta: text,
        },
        RunEventKind::ToolCall {
            id,
            name,
            arguments,
        } => EventView::ToolCall {
            run_id,
            call_id: id,
            tool: name,
            params: arguments,
        },
        RunEventKind::ToolResult {
            id,
            name,
            output,
            is_error,
        } => EventView::ToolResult {
            run_id,
            call_id: id,
            tool: name,
            result: output,
            is_error: *is_error,
        },
        RunEventKind::Done {
            content,
            finish_reason,
            input_tokens,
            output_tokens,
            ..
        } => EventView::Done {
            session_key,
            run_id,
            content,
            finish_reason,
            usage: Usage::of(*input_tokens, *output_tokens),
        },
        RunEventKind::Error { code, message, .. } => EventView::Error {
            run_id,
            code,
            message,
        },
    })
}

/// S4's run `options`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentOptions {
    #[serde(default)]
    pub thinking: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub temperature: Option<f32>,
}

/// S4's `POST /agent/run` body (and WebSocket `chat.run`'s params).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRunBody {
    pub message: String,
    #[serde(default, alias = "sessionKey", alias = "session_id")]
    pub session_key: Option<String>,
    #[serde(default, alias = "agentId")]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub options: Option<AgentOptions>,
    #[serde(default)]
    pub stream: Option<bool>,
}

/// A session (`/v1/sessions`, WebSocket `session.list` and `session.get`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session<'a> {
    pub session_key: &'a str,
    pub agent_id: &'a str,
    pub channel: &'a str,
    pub label: Option<&'a str>,
    pub model: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub message_count: i32,
    /// Only when one session is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<&'a Value>,
}

impl<'a> Session<'a> {
    pub fn of(s: &'a SessionRecord) -> Self {
        Session {
            session_key: &s.key,
            agent_id: &s.agent_id,
            channel: &s.channel,
            label: s.label.as_deref(),
            model: s.model.as_deref(),
            created_at: s.created_at,
            updated_at: s.updated_at,
            last_message_at: s.last_message_at,
            expires_at: s.expires_at,
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

/// What deleting a session answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDeleted<'a> {
    pub session_key: &'a str,
    pub deleted: bool,
}

/// `GET /status`.
#[derive(Serialize)]
pub struct Status {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime: u64,
    pub gateway: StatusGateway,
    /// `{<type>: <state>}`; empty until the tenant connects channels.
    pub channels: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct StatusGateway {
    pub port: u16,
    pub bind: String,
    pub auth: &'static str,
}
