//! Runs: their record (for polling and history), the per-session turn lease that keeps one
//! session's runs in order across replicas, the sweep of runs whose replica died, and usage per
//! tenant, day and model (written behind, in batches).

use chrono::{DateTime, Duration, Utc};
use openclaw_domain::{RunStatus, TenantId};
use serde_json::Value;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{NewMessage, Result, Store};

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct RunRecord {
    pub id: Uuid,
    pub session_id: Option<Uuid>,
    /// `None` for a stateless completion, which has no session.
    pub session_key: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    pub model: String,
    pub response: Option<String>,
    pub response_message_id: Option<Uuid>,
    pub finish_reason: Option<String>,
    pub error: Option<Value>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub latency_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// `Completed`, `Failed` or `Cancelled`.
    pub status: RunStatus,
    pub response: Option<String>,
    pub finish_reason: Option<String>,
    pub error: Option<Value>,
    pub input_tokens: i32,
    pub output_tokens: i32,
    pub latency_ms: i32,
}

#[derive(Debug, Clone, PartialEq, FromRow, serde::Serialize)]
pub struct UsageRow {
    pub day: chrono::NaiveDate,
    pub model: String,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

const RUN_COLUMNS: &str = "r.id, r.session_id, s.key AS session_key, r.status, r.model, r.response, \
    r.response_message_id, r.finish_reason, r.error, r.input_tokens, r.output_tokens, r.latency_ms, \
    r.created_at, r.finished_at";

/// A stateful run to start (`Store::begin_run`).
#[derive(Debug, Clone)]
pub struct BeginRun {
    /// The session's key; created on first use, with `new_session` as its id.
    pub key: String,
    pub new_session: Uuid,
    pub channel: Option<String>,
    pub agent_id: Option<String>,
    pub run: Uuid,
    /// The model the request named (resolved); else the session's, else `default_model`.
    pub model: Option<String>,
    pub default_model: String,
    pub user: NewMessage,
    pub lease: Duration,
    /// Messages of history to return once the turn is taken.
    pub history: i64,
    /// Also return what an agent run offers: skills, and whether there are memories to recall.
    pub agent_run: bool,
}

/// A message of a run's history, as the model gets it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Said {
    pub role: String,
    pub content: String,
}

/// A stateful run as `begin_run` recorded it.
#[derive(Debug, Clone, Deserialize)]
pub struct Begun {
    #[serde(rename = "session")]
    pub session_id: Uuid,
    pub key: String,
    pub model: String,
    /// Whether the run took the session's turn (then the user's message is recorded and
    /// `history` ends with it); if not, it waits and calls `take_turn`.
    pub took: bool,
    #[serde(default)]
    pub history: Vec<Said>,
    /// The tenant's enabled skills (agent runs).
    #[serde(default)]
    pub skills: Vec<String>,
    /// The tenant's HTTP skills among them.
    #[serde(default)]
    pub http_skills: Vec<crate::HttpSkillRecord>,
    /// Whether the tenant has any memories to recall.
    #[serde(default)]
    pub memories: bool,
}

/// An outbox event written with the change it reports.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub event: String,
    pub payload: Value,
}

/// A run that ended without a session (a stateless completion), for the write-behind batch.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    pub tenant: TenantId,
    pub id: Uuid,
    pub model: String,
    /// The user's last words.
    pub message: String,
    pub outcome: RunOutcome,
    pub created_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// Usage to add to a tenant's day and model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageKey {
    pub tenant: TenantId,
    pub day: chrono::NaiveDate,
    pub model: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageDelta {
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// A run the sweep ended because the replica running it stopped renewing its lease.
#[derive(Debug, Clone, FromRow)]
pub struct Orphan {
    pub tenant_id: Uuid,
    pub id: Uuid,
}

fn message_json(m: &NewMessage) -> Value {
    json!({
        "id": m.id.unwrap_or_else(Uuid::now_v7),
        "role": m.role,
        "content": m.content,
        "tool_calls": m.tool_calls,
        "tool_call_id": m.tool_call_id,
        "run_id": m.run_id,
        "model": m.model,
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
        "metadata": m.metadata,
    })
}

fn millis(d: Duration) -> f64 {
    d.num_milliseconds() as f64
}

impl Store {
    /// Starts a stateful run in one round trip (`openclaw_run_begin`): the session (created on
    /// first use), the run's row under a lease, the turn and the user's message if the turn is
    /// free, and the history. `Err(Expired)` for a session past its ttl.
    pub async fn begin_run(
        &self,
        tenant: TenantId,
        b: &BeginRun,
    ) -> Result<std::result::Result<Begun, crate::SessionRefusal>> {
        let raw: Value = sqlx::query_scalar(
            "SELECT openclaw_run_begin($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(tenant.as_uuid())
        .bind(&b.key)
        .bind(b.new_session)
        .bind(&b.channel)
        .bind(&b.agent_id)
        .bind(b.run)
        .bind(&b.model)
        .bind(&b.default_model)
        .bind(message_json(&b.user))
        .bind(millis(b.lease))
        .bind(b.history as i32)
        .bind(b.agent_run)
        .fetch_one(self.pool())
        .await?;
        if raw.get("refusal").is_some() {
            return Ok(Err(crate::SessionRefusal::Expired));
        }
        serde_json::from_value(raw)
            .map(Ok)
            .map_err(|e| crate::StoreError::Corrupt(format!("openclaw_run_begin: {e}")))
    }

    /// Records a run that a worker will execute (an async message) and queues its job, in one
    /// commit: the run is pollable as `processing` from the moment the client hears of it.
    pub async fn enqueue_run(
        &self,
        tenant: TenantId,
        session: Uuid,
        run: Uuid,
        model: &str,
        job: crate::NewJob,
    ) -> Result<()> {
        self.in_tenant(tenant, async |c| {
            sqlx::query(
                "INSERT INTO runs (tenant_id, id, session_id, model) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant.as_uuid())
            .bind(run)
            .bind(session)
            .bind(model)
            .execute(&mut *c)
            .await?;
            crate::jobs::queue_in(c, tenant, &job).await?;
            Ok(())
        })
        .await
    }

    /// Whether the user's message of `run` is in its session already (a resumed run must not
    /// record it twice).
    pub async fn run_user_message_exists(
        &self,
        tenant: TenantId,
        session: Uuid,
        run: Uuid,
    ) -> Result<bool> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE tenant_id = $1 AND session_id = $2 \
                 AND run_id = $3 AND role = 'user')",
            )
            .bind(tenant.as_uuid())
            .bind(session)
            .bind(run)
            .fetch_one(c)
            .await?)
        })
        .await
    }

    /// Takes the session's turn for `run` and records the user's message (unless an earlier
    /// attempt at the run already did), if the turn is free: then the last `history` messages,
    /// in one round trip. `None`: another run holds the turn.
    pub async fn take_turn(
        &self,
        tenant: TenantId,
        session: Uuid,
        run: Uuid,
        user: Option<NewMessage>,
        lease: Duration,
        history: i64,
    ) -> Result<Option<Vec<Said>>> {
        #[derive(Deserialize)]
        struct Turn {
            took: bool,
            #[serde(default)]
            history: Vec<Said>,
        }
        let raw: Value = sqlx::query_scalar("SELECT openclaw_run_turn($1, $2, $3, $4, $5, $6)")
            .bind(tenant.as_uuid())
            .bind(session)
            .bind(run)
            .bind(user.as_ref().map(message_json))
            .bind(millis(lease))
            .bind(history as i32)
            .fetch_one(self.pool())
            .await?;
        let turn: Turn = serde_json::from_value(raw)
            .map_err(|e| crate::StoreError::Corrupt(format!("openclaw_run_turn: {e}")))?;
        Ok(turn.took.then_some(turn.history))
    }

    /// Ends a stateful run in one round trip (`openclaw_run_end`): its outcome, its reply
    /// joining the history, the outbox events it reports and the turn's release. A run already
    /// ended (by the sweep) keeps its first outcome; returns the reply's id and whether this
    /// call ended the run. Usage is not counted here: it goes through the write-behind batch,
    /// so no request waits on a tenant's hot usage row.
    pub async fn end_run(
        &self,
        tenant: TenantId,
        session: Uuid,
        run: Uuid,
        reply: Option<NewMessage>,
        o: &RunOutcome,
        outbox: &[OutboxEvent],
    ) -> Result<(Option<Uuid>, bool)> {
        let reply = reply.map(|m| NewMessage {
            id: Some(m.id.unwrap_or_else(Uuid::now_v7)),
            ..m
        });
        let ended: bool = sqlx::query_scalar(
            "SELECT openclaw_run_end($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(tenant.as_uuid())
        .bind(session)
        .bind(run)
        .bind(reply.as_ref().map(message_json))
        .bind(o.status.as_str())
        .bind(&o.response)
        .bind(&o.finish_reason)
        .bind(&o.error)
        .bind(o.input_tokens)
        .bind(o.output_tokens)
        .bind(o.latency_ms)
        .bind(serde_json::to_value(outbox).unwrap_or_default())
        .fetch_one(self.pool())
        .await?;
        Ok((reply.and_then(|m| m.id).filter(|_| ended), ended))
    }

    /// Extends a running run's lease and, when it holds one, its session's turn; false if the
    /// turn is no longer its own (another run took it after a lapse).
    pub async fn renew_run(
        &self,
        tenant: TenantId,
        run: Uuid,
        turn: Option<Uuid>,
        lease: Duration,
    ) -> Result<bool> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_scalar(
                "WITH r AS (UPDATE runs SET lease_until = now() + $4 * interval '1 millisecond' \
                         WHERE tenant_id = $1 AND id = $2 AND lease_until IS NOT NULL), \
                  t AS (UPDATE sessions SET turn_until = now() + $4 * interval '1 millisecond' \
                         WHERE tenant_id = $1 AND id = $3 AND turn_run = $2 RETURNING 1) \
             SELECT $3::uuid IS NULL OR EXISTS (SELECT 1 FROM t)",
            )
            .bind(tenant.as_uuid())
            .bind(run)
            .bind(turn)
            .bind(millis(lease))
            .fetch_one(c)
            .await?)
        })
        .await
    }

    /// Deletes up to `batch` runs that finished before `before`, across tenants (the worker's
    /// retention sweep); returns how many. Their conversation's messages stay: only the run's
    /// own record (`GET /v1/runs/{id}`) goes.
    pub async fn purge_finished_runs(&self, before: DateTime<Utc>, batch: i64) -> Result<u64> {
        self.in_system(async |c| {
            let done = sqlx::query(
                "DELETE FROM runs WHERE (tenant_id, id) IN ( \
                     SELECT tenant_id, id FROM runs WHERE finished_at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(batch)
            .execute(c)
            .await?;
            Ok(done.rows_affected())
        })
        .await
    }

    /// Ends, failed, up to `limit` runs whose lease lapsed (their replica died), releasing their
    /// sessions' turns; across tenants. Several sweepers at once skip each other's rows.
    pub async fn sweep_runs(&self, limit: i64) -> Result<Vec<Orphan>> {
        let mut tx = self.system_tx().await?;
        let rows = sqlx::query_as(
            "WITH lost AS (SELECT tenant_id, id FROM runs \
                            WHERE status = 'processing' AND lease_until < now() \
                            ORDER BY lease_until LIMIT $1 FOR UPDATE SKIP LOCKED), \
                  ended AS (UPDATE runs r SET status = 'failed', finished_at = now(), lease_until = NULL, \
                              error = jsonb_build_object('code', 'internal_error', 'message', \
                                'the run was lost: the replica executing it stopped') \
                              FROM lost WHERE r.tenant_id = lost.tenant_id AND r.id = lost.id \
                              RETURNING r.tenant_id, r.id, r.session_id), \
                  freed AS (UPDATE sessions s SET turn_run = NULL, turn_until = NULL FROM ended \
                             WHERE s.tenant_id = ended.tenant_id AND s.id = ended.session_id \
                               AND s.turn_run = ended.id) \
             SELECT tenant_id, id FROM ended",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// The write-behind batch in one statement: stateless runs' records and usage per tenant,
    /// day and model (one upsert row each, however many runs it sums). Rows of tenants deleted
    /// meanwhile are dropped rather than failing the batch.
    pub async fn write_behind(
        &self,
        runs: &[FinishedRun],
        usage: &[(UsageKey, UsageDelta)],
    ) -> Result<()> {
        let ids: Vec<Uuid> = runs.iter().map(|r| r.id).collect();
        let tenants: Vec<Uuid> = runs.iter().map(|r| r.tenant.as_uuid()).collect();
        let statuses: Vec<&str> = runs.iter().map(|r| r.outcome.status.as_str()).collect();
        let models: Vec<&str> = runs.iter().map(|r| r.model.as_str()).collect();
        let messages: Vec<&str> = runs.iter().map(|r| r.message.as_str()).collect();
        let responses: Vec<Option<&str>> =
            runs.iter().map(|r| r.outcome.response.as_deref()).collect();
        let finish: Vec<Option<&str>> = runs
            .iter()
            .map(|r| r.outcome.finish_reason.as_deref())
            .collect();
        let errors: Vec<Option<Value>> = runs.iter().map(|r| r.outcome.error.clone()).collect();
        let input: Vec<i32> = runs.iter().map(|r| r.outcome.input_tokens).collect();
        let output: Vec<i32> = runs.iter().map(|r| r.outcome.output_tokens).collect();
        let latency: Vec<i32> = runs.iter().map(|r| r.outcome.latency_ms).collect();
        let created: Vec<DateTime<Utc>> = runs.iter().map(|r| r.created_at).collect();
        let finished: Vec<DateTime<Utc>> = runs.iter().map(|r| r.finished_at).collect();
        let u_tenants: Vec<Uuid> = usage.iter().map(|(k, _)| k.tenant.as_uuid()).collect();
        let u_days: Vec<chrono::NaiveDate> = usage.iter().map(|(k, _)| k.day).collect();
        let u_models: Vec<&str> = usage.iter().map(|(k, _)| k.model.as_str()).collect();
        let u_requests: Vec<i64> = usage.iter().map(|(_, d)| d.requests).collect();
        let u_input: Vec<i64> = usage.iter().map(|(_, d)| d.input_tokens).collect();
        let u_output: Vec<i64> = usage.iter().map(|(_, d)| d.output_tokens).collect();
        // `openclaw_write_behind` switches to the system role inside the call: the batch spans
        // tenants, and stays one round trip.
        sqlx::query(
            "SELECT openclaw_write_behind($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19)",
        )
        .bind(&tenants)
        .bind(&ids)
        .bind(&statuses)
        .bind(&models)
        .bind(&messages)
        .bind(&responses)
        .bind(&finish)
        .bind(&errors)
        .bind(&input)
        .bind(&output)
        .bind(&latency)
        .bind(&created)
        .bind(&finished)
        .bind(&u_tenants)
        .bind(&u_days)
        .bind(&u_models)
        .bind(&u_requests)
        .bind(&u_input)
        .bind(&u_output)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn get_run(&self, tenant: TenantId, run: Uuid) -> Result<Option<RunRecord>> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(&format!(
                "SELECT {RUN_COLUMNS} FROM runs r LEFT JOIN sessions s \
                 ON s.tenant_id = r.tenant_id AND s.id = r.session_id \
                 WHERE r.tenant_id = $1 AND r.id = $2"
            ))
            .bind(tenant.as_uuid())
            .bind(run)
            .fetch_optional(c)
            .await?)
        })
        .await
    }

    /// The last `n` messages of a session, oldest first: a run's history.
    pub async fn recent_messages(
        &self,
        tenant: TenantId,
        session: Uuid,
        n: i64,
    ) -> Result<Vec<crate::MessageRecord>> {
        let mut rows: Vec<crate::MessageRecord> = self
            .in_tenant(tenant, async |c| {
                Ok(sqlx::query_as(
                    "SELECT id, seq, role, content, tool_calls, tool_call_id, run_id, model, input_tokens, \
                     output_tokens, metadata, created_at FROM messages WHERE tenant_id = $1 \
                     AND session_id = $2 ORDER BY seq DESC LIMIT $3",
                )
                .bind(tenant.as_uuid())
                .bind(session)
                .bind(n)
                .fetch_all(c)
                .await?)
            })
            .await?;
        rows.reverse();
        Ok(rows)
    }

    /// Usage per day and model, newest day first, for days in `[since, until)`.
    pub async fn usage(
        &self,
        tenant: TenantId,
        since: chrono::NaiveDate,
        until: chrono::NaiveDate,
    ) -> Result<Vec<UsageRow>> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(
                "SELECT day, model, requests, input_tokens, output_tokens FROM usage_daily \
                 WHERE tenant_id = $1 AND day >= $2 AND day < $3 ORDER BY day DESC, model",
            )
            .bind(tenant.as_uuid())
            .bind(since)
            .bind(until)
            .fetch_all(c)
            .await?)
        })
        .await
    }
}

/// Adds one model request and its tokens to the tenant's usage of the day.
async fn count_usage(
    c: &mut PgConnection,
    tenant: TenantId,
    model: &str,
    input_tokens: i64,
    output_tokens: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO usage_daily (tenant_id, day, model, requests, input_tokens, output_tokens) \
         VALUES ($1, (now() AT TIME ZONE 'utc')::date, $2, 1, $3, $4) \
         ON CONFLICT (tenant_id, day, model) DO UPDATE SET requests = usage_daily.requests + 1, \
         input_tokens = usage_daily.input_tokens + $3, output_tokens = usage_daily.output_tokens + $4",
    )
    .bind(tenant.as_uuid())
    .bind(model)
    .bind(input_tokens)
    .bind(output_tokens)
    .execute(c)
    .await?;
    Ok(())
}

impl Store {
    /// Accounts a model call made outside a run (memory compaction's folds).
    pub async fn record_usage(
        &self,
        tenant: TenantId,
        model: &str,
        input_tokens: i64,
        output_tokens: i64,
    ) -> Result<()> {
        self.in_tenant(tenant, async |c| {
            count_usage(c, tenant, model, input_tokens, output_tokens).await
        })
        .await
    }
}
