//! S2's conversations (`/conversations`): the list, one with its messages, and a delete.

use chrono::{DateTime, Utc};
use openclaw_engine::run::run_wire_id;
use openclaw_store::{MessageRecord, SessionRecord};
use serde::Serialize;
use serde_json::Value;

use super::EndTokens;

/// A conversation as `/conversations` lists it.
#[derive(Debug, Serialize)]
pub struct Conversation<'a> {
    pub id: &'a str,
    pub channel: &'a str,
    pub created_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub message_count: i32,
    /// The first thing the user said.
    pub summary: Option<&'a str>,
}

impl<'a> Conversation<'a> {
    pub fn of(s: &'a SessionRecord) -> Self {
        Conversation {
            id: &s.key,
            channel: &s.channel,
            created_at: s.created_at,
            last_message_at: s.last_message_at,
            message_count: s.message_count,
            summary: s.summary.as_deref(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Conversations<'a> {
    pub conversations: Vec<Conversation<'a>>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// One conversation with its messages, from the first.
#[derive(Debug, Serialize)]
pub struct ConversationDetail<'a> {
    #[serde(flatten)]
    pub conversation: Conversation<'a>,
    pub label: Option<&'a str>,
    pub agent_id: &'a str,
    pub model: Option<&'a str>,
    pub messages: Vec<Message<'a>>,
    pub has_more: bool,
}

impl<'a> ConversationDetail<'a> {
    pub fn of(s: &'a SessionRecord, messages: &'a [MessageRecord], has_more: bool) -> Self {
        ConversationDetail {
            conversation: Conversation::of(s),
            label: s.label.as_deref(),
            agent_id: &s.agent_id,
            model: s.model.as_deref(),
            messages: messages.iter().map(Message::of).collect(),
            has_more,
        }
    }
}

/// A message of a conversation: what the assistant's carry (model, tokens, tool calls) and what
/// the client said about the sender of a user's (`metadata`) only where there is one.
#[derive(Debug, Serialize)]
pub struct Message<'a> {
    pub id: String,
    pub role: &'a str,
    pub content: &'a str,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<EndTokens>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<&'a Value>,
}

impl<'a> Message<'a> {
    pub fn of(m: &'a MessageRecord) -> Self {
        let counted = m.input_tokens.is_some() || m.output_tokens.is_some();
        Message {
            id: format!("msg_{}", m.id.simple()),
            role: &m.role,
            content: &m.content,
            created_at: m.created_at,
            model: m.model.as_deref(),
            tokens: counted.then(|| EndTokens {
                input: m.input_tokens.unwrap_or(0).max(0) as u64,
                output: m.output_tokens.unwrap_or(0).max(0) as u64,
            }),
            tool_calls: m.tool_calls.as_ref(),
            run_id: m.run_id.map(run_wire_id),
            metadata: m.metadata.as_ref(),
        }
    }
}

/// What deleting a conversation answers.
#[derive(Debug, Serialize)]
pub struct Deleted<'a> {
    pub id: &'a str,
    pub deleted: bool,
}
