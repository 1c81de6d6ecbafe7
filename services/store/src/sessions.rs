//! Sessions (S2 calls them conversations) and their messages. Everything is addressed by the
//! tenant and the session's client-visible key; expired sessions are treated as gone.

use chrono::{DateTime, Duration, Utc};
use openclaw_domain::TenantId;
use serde_json::Value;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct SessionRecord {
    pub id: Uuid,
    pub key: String,
    pub label: Option<String>,
    pub agent_id: String,
    pub model: Option<String>,
    pub channel: String,
    pub context: Value,
    pub summary: Option<String>,
    pub message_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// `None`: generate `session_…`.
    pub key: Option<String>,
    pub label: Option<String>,
    pub agent_id: Option<String>,
    pub model: Option<String>,
    pub channel: Option<String>,
    pub context: Option<Value>,
    pub ttl: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct MessageRecord {
    pub id: Uuid,
    pub seq: i64,
    pub role: String,
    pub content: String,
    pub tool_calls: Option<Value>,
    pub tool_call_id: Option<String>,
    pub run_id: Option<Uuid>,
    pub model: Option<String>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    /// What the client said about the sender (S2's `metadata`), on user messages.
    pub metadata: Option<Value>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// `None`: a fresh UUID v7.
    pub id: Option<Uuid>,
    pub role: String,
    pub content: String,
    pub tool_calls: Option<Value>,
    pub tool_call_id: Option<String>,
    pub run_id: Option<Uuid>,
    pub model: Option<String>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub channel: Option<String>,
    /// On the last activity (last message, else creation).
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// Why a session could not be created or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// `create_session` with a key the tenant already uses.
    KeyTaken,
    /// The session's ttl has passed: it accepts nothing more.
    Expired,
}

/// A session's columns. Until a summary is set, the conversation is summed up by what it was
/// started with: its first user message, cut at 100 characters (one index probe on
/// `(tenant_id, session_id, seq)`).
const COLUMNS: &str = "id, key, label, agent_id, model, channel, context, \
     coalesce(summary, (SELECT left(m.content, 100) FROM messages m \
        WHERE m.tenant_id = sessions.tenant_id AND m.session_id = sessions.id \
          AND m.role = 'user' ORDER BY m.seq LIMIT 1)) AS summary, \
     message_count, created_at, updated_at, last_message_at, expires_at";
const LIVE: &str = "(expires_at IS NULL OR expires_at > now())";

pub fn generate_key() -> String {
    format!("session_{}", Uuid::now_v7().simple())
}

impl Store {
    /// Creates a session; `KeyTaken` if the tenant already has one with that key (an expired
    /// one is replaced: its history is gone for the client anyway).
    pub async fn create_session(
        &self,
        tenant: TenantId,
        new: NewSession,
    ) -> Result<std::result::Result<SessionRecord, SessionRefusal>> {
        let key = new.key.clone().unwrap_or_else(generate_key);
        self.in_tenant(tenant, async |c| {
            sqlx::query(&format!(
                "DELETE FROM sessions WHERE tenant_id = $1 AND key = $2 AND NOT {LIVE}"
            ))
            .bind(tenant.as_uuid())
            .bind(&key)
            .execute(&mut *c)
            .await?;
            let row: Option<SessionRecord> = sqlx::query_as(&format!(
                "INSERT INTO sessions (tenant_id, id, key, label, agent_id, model, channel, context, expires_at) \
                 VALUES ($1, $2, $3, $4, coalesce($5, 'default'), $6, coalesce($7, 'api'), coalesce($8, '{{}}'::jsonb), \
                         now() + $9 * interval '1 second') \
                 ON CONFLICT (tenant_id, key) DO NOTHING RETURNING {COLUMNS}"
            ))
            .bind(tenant.as_uuid())
            .bind(Uuid::now_v7())
            .bind(&key)
            .bind(new.label)
            .bind(new.agent_id)
            .bind(new.model)
            .bind(new.channel)
            .bind(new.context)
            .bind(new.ttl.map(|d| d.num_seconds() as f64))
            .fetch_optional(&mut *c)
            .await?;
            Ok(row.ok_or(SessionRefusal::KeyTaken))
        })
        .await
    }

    /// The session named `key`, created with `defaults` on first use (S0's `"session":"default"`,
    /// S3's `"session_id":"user_123"`). `Expired` once its ttl has passed.
    pub async fn ensure_session(
        &self,
        tenant: TenantId,
        key: &str,
        defaults: NewSession,
    ) -> Result<std::result::Result<SessionRecord, SessionRefusal>> {
        let row: SessionRecord = self
            .in_tenant(tenant, async |c| {
                sqlx::query(
                    "INSERT INTO sessions (tenant_id, id, key, label, agent_id, model, channel, context) \
                     VALUES ($1, $2, $3, $4, coalesce($5, 'default'), $6, coalesce($7, 'api'), coalesce($8, '{}'::jsonb)) \
                     ON CONFLICT (tenant_id, key) DO NOTHING",
                )
                .bind(tenant.as_uuid())
                .bind(Uuid::now_v7())
                .bind(key)
                .bind(defaults.label)
                .bind(defaults.agent_id)
                .bind(defaults.model)
                .bind(defaults.channel)
                .bind(defaults.context)
                .execute(&mut *c)
                .await?;
                Ok(sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 AND key = $2"
                ))
                .bind(tenant.as_uuid())
                .bind(key)
                .fetch_one(c)
                .await?)
            })
            .await?;
        if row.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Ok(Err(SessionRefusal::Expired));
        }
        Ok(Ok(row))
    }

    /// A live session by key.
    pub async fn get_session(&self, tenant: TenantId, key: &str) -> Result<Option<SessionRecord>> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 AND key = $2 AND {LIVE}"
            ))
            .bind(tenant.as_uuid())
            .bind(key)
            .fetch_optional(c)
            .await?)
        })
        .await
    }

    /// Live sessions, most recently active first, and how many match in all.
    pub async fn list_sessions(
        &self,
        tenant: TenantId,
        f: &SessionFilter,
    ) -> Result<(Vec<SessionRecord>, i64)> {
        let filter = format!(
            "tenant_id = $1 AND {LIVE} AND ($2::text IS NULL OR channel = $2) \
             AND ($3::timestamptz IS NULL OR coalesce(last_message_at, created_at) >= $3) \
             AND ($4::timestamptz IS NULL OR coalesce(last_message_at, created_at) < $4)"
        );
        self.in_tenant(tenant, async |c| {
            let rows: Vec<SessionRecord> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM sessions WHERE {filter} \
                 ORDER BY coalesce(last_message_at, created_at) DESC, id DESC LIMIT $5 OFFSET $6"
            ))
            .bind(tenant.as_uuid())
            .bind(&f.channel)
            .bind(f.since)
            .bind(f.until)
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(&mut *c)
            .await?;
            let total: i64 =
                sqlx::query_scalar(&format!("SELECT count(*) FROM sessions WHERE {filter}"))
                    .bind(tenant.as_uuid())
                    .bind(&f.channel)
                    .bind(f.since)
                    .bind(f.until)
                    .fetch_one(&mut *c)
                    .await?;
            Ok((rows, total))
        })
        .await
    }

    /// Deletes a live session and its messages; false when there is none.
    pub async fn delete_session(&self, tenant: TenantId, key: &str) -> Result<bool> {
        self.in_tenant(tenant, async |c| {
            let done = sqlx::query(&format!(
                "DELETE FROM sessions WHERE tenant_id = $1 AND key = $2 AND {LIVE}"
            ))
            .bind(tenant.as_uuid())
            .bind(key)
            .execute(&mut *c)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    /// Appends a message. The session row is locked while its next sequence number is taken,
    /// so concurrent writers to one session get a total order.
    pub async fn append_message(
        &self,
        tenant: TenantId,
        session: Uuid,
        m: NewMessage,
    ) -> Result<MessageRecord> {
        self.in_tenant(tenant, async |c| {
            insert_message(c, tenant, session, m).await
        })
        .await
    }

    /// Messages in order, from the first; `limit + 1` are read to tell whether more remain.
    /// A conversation's first messages: at most `limit`, and no more than `max_bytes` of them
    /// (content, tool calls and metadata) beyond the first, which always comes — a thousand
    /// messages of a megabyte each must not be read into one answer. `true`: there are more.
    pub async fn list_messages(
        &self,
        tenant: TenantId,
        session: Uuid,
        limit: i64,
        max_bytes: i64,
    ) -> Result<(Vec<MessageRecord>, bool)> {
        use sqlx::{FromRow, Row};
        self.in_tenant(tenant, async |c| {
            // `before`: the bytes of the messages ahead of each; `total`: the conversation's
            // messages (computed before the limit). Only rows within the budget are read whole.
            let rows = sqlx::query(
                "WITH page AS ( \
                   SELECT seq, count(*) OVER () AS total, \
                          sum(octet_length(content) + coalesce(octet_length(tool_calls::text), 0) \
                              + coalesce(octet_length(metadata::text), 0)) \
                          OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before \
                     FROM messages WHERE tenant_id = $1 AND session_id = $2 ORDER BY seq LIMIT $3) \
                 SELECT m.id, m.seq, m.role, m.content, m.tool_calls, m.tool_call_id, m.run_id, m.model, \
                        m.input_tokens, m.output_tokens, m.metadata, m.created_at, page.total \
                   FROM page JOIN messages m \
                     ON m.tenant_id = $1 AND m.session_id = $2 AND m.seq = page.seq \
                  WHERE page.before IS NULL OR page.before < $4 ORDER BY m.seq",
            )
            .bind(tenant.as_uuid())
            .bind(session)
            .bind(limit)
            .bind(max_bytes)
            .fetch_all(&mut *c)
            .await?;
            let total: i64 = rows.first().map_or(Ok(0), |r| r.try_get("total"))?;
            let messages = rows
                .iter()
                .map(MessageRecord::from_row)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let more = (messages.len() as i64) < total;
            Ok((messages, more))
        })
        .await
    }

    /// Deletes sessions whose ttl passed more than `grace` ago, across tenants (the worker's
    /// sweep). Returns how many went.
    pub async fn purge_expired_sessions(&self, grace: Duration) -> Result<u64> {
        let mut tx = self.system_tx().await?;
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at < now() - $1 * interval '1 second'")
                .bind(grace.num_seconds() as f64)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

/// Appends a message in the transaction `c` is in. The session row is locked while its next
/// sequence number is taken, so concurrent writers to one session get a total order.
pub(crate) async fn insert_message(
    c: &mut PgConnection,
    tenant: TenantId,
    session: Uuid,
    m: NewMessage,
) -> Result<MessageRecord> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE sessions SET next_seq = next_seq + 1, message_count = message_count + 1, \
         last_message_at = now(), updated_at = now() \
         WHERE tenant_id = $1 AND id = $2 RETURNING next_seq - 1",
    )
    .bind(tenant.as_uuid())
    .bind(session)
    .fetch_one(&mut *c)
    .await?;
    let row = sqlx::query_as(
        "INSERT INTO messages (tenant_id, session_id, id, seq, role, content, tool_calls, tool_call_id, \
         run_id, model, input_tokens, output_tokens, metadata) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         RETURNING id, seq, role, content, tool_calls, tool_call_id, run_id, model, input_tokens, \
         output_tokens, metadata, created_at",
    )
    .bind(tenant.as_uuid())
    .bind(session)
    .bind(m.id.unwrap_or_else(Uuid::now_v7))
    .bind(seq)
    .bind(m.role)
    .bind(m.content)
    .bind(m.tool_calls)
    .bind(m.tool_call_id)
    .bind(m.run_id)
    .bind(m.model)
    .bind(m.input_tokens)
    .bind(m.output_tokens)
    .bind(m.metadata)
    .fetch_one(c)
    .await?;
    Ok(row)
}
