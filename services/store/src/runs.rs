//! Runs: their record (for polling and history), the per-session turn lease that keeps one
//! session's runs in order across replicas, and usage per tenant, day and model.

use chrono::{DateTime, Duration, Utc};
use openclaw_domain::TenantId;
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

use crate::sessions::insert_message;
use crate::{MessageRecord, NewMessage, Result, Store};

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct RunRecord {
    pub id: Uuid,
    pub session_id: Uuid,
    pub session_key: String,
    pub status: String,
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
    /// `completed`, `failed` or `cancelled`.
    pub status: &'static str,
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

impl Store {
    /// Records a new run and, if the session's turn is free, takes it and records the user's
    /// message — one commit, before the model is called. Returns whether the turn was taken;
    /// if not, the run waits and calls `take_turn`.
    pub async fn begin_run(
        &self,
        tenant: TenantId,
        session: Uuid,
        run: Uuid,
        model: &str,
        user: NewMessage,
        lease: Duration,
    ) -> Result<bool> {
        let mut tx = self.tenant_tx(tenant).await?;
        sqlx::query("INSERT INTO runs (tenant_id, id, session_id, model) VALUES ($1, $2, $3, $4)")
            .bind(tenant.as_uuid())
            .bind(run)
            .bind(session)
            .bind(model)
            .execute(&mut *tx)
            .await?;
        let took = claim_turn(&mut tx, tenant, session, run, lease).await?;
        if took {
            insert_message(&mut tx, tenant, session, user).await?;
        }
        tx.commit().await?;
        Ok(took)
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
        let mut tx = self.tenant_tx(tenant).await?;
        sqlx::query("INSERT INTO runs (tenant_id, id, session_id, model) VALUES ($1, $2, $3, $4)")
            .bind(tenant.as_uuid())
            .bind(run)
            .bind(session)
            .bind(model)
            .execute(&mut *tx)
            .await?;
        crate::jobs::queue_in(&mut tx, tenant, &job).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the user's message of `run` is in its session already (a resumed run must not
    /// record it twice).
    pub async fn run_user_message_exists(
        &self,
        tenant: TenantId,
        session: Uuid,
        run: Uuid,
    ) -> Result<bool> {
        let mut tx = self.tenant_tx(tenant).await?;
        let exists = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE tenant_id = $1 AND session_id = $2 \
             AND run_id = $3 AND role = 'user')",
        )
        .bind(tenant.as_uuid())
        .bind(session)
        .bind(run)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(exists)
    }

    /// Takes the session's turn for `run` and records the user's message (unless an earlier
    /// attempt at the run already did), if the turn is free.
    pub async fn take_turn(
        &self,
        tenant: TenantId,
        session: Uuid,
        run: Uuid,
        user: Option<NewMessage>,
        lease: Duration,
    ) -> Result<bool> {
        let mut tx = self.tenant_tx(tenant).await?;
        let took = claim_turn(&mut tx, tenant, session, run, lease).await?;
        if let (true, Some(user)) = (took, user) {
            insert_message(&mut tx, tenant, session, user).await?;
        }
        tx.commit().await?;
        Ok(took)
    }

    /// Ends a run in one commit: its reply (if any) joins the history, its outcome and usage are
    /// recorded, and the session's turn is released. A run already ended (an abort racing
    /// completion) keeps its first outcome; returns the reply and whether this call ended it.
    pub async fn end_run(
        &self,
        tenant: TenantId,
        session: Uuid,
        run: Uuid,
        model: &str,
        reply: Option<NewMessage>,
        o: &RunOutcome,
    ) -> Result<(Option<MessageRecord>, bool)> {
        let mut tx = self.tenant_tx(tenant).await?;
        let reply = match reply {
            Some(m) => Some(insert_message(&mut tx, tenant, session, m).await?),
            None => None,
        };
        let done = sqlx::query(
            "UPDATE runs SET status = $3, response = $4, response_message_id = $5, finish_reason = $6, \
             error = $7, input_tokens = $8, output_tokens = $9, latency_ms = $10, finished_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND status = 'processing'",
        )
        .bind(tenant.as_uuid())
        .bind(run)
        .bind(o.status)
        .bind(&o.response)
        .bind(reply.as_ref().map(|m| m.id))
        .bind(&o.finish_reason)
        .bind(&o.error)
        .bind(o.input_tokens)
        .bind(o.output_tokens)
        .bind(o.latency_ms)
        .execute(&mut *tx)
        .await?;
        let ended = done.rows_affected() == 1;
        if ended {
            count_usage(
                &mut tx,
                tenant,
                model,
                o.input_tokens.into(),
                o.output_tokens.into(),
            )
            .await?;
        }
        sqlx::query(
            "UPDATE sessions SET turn_run = NULL, turn_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND turn_run = $3",
        )
        .bind(tenant.as_uuid())
        .bind(session)
        .bind(run)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((reply, ended))
    }

    pub async fn get_run(&self, tenant: TenantId, run: Uuid) -> Result<Option<RunRecord>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM runs r JOIN sessions s ON s.tenant_id = r.tenant_id AND s.id = r.session_id \
             WHERE r.tenant_id = $1 AND r.id = $2"
        ))
        .bind(tenant.as_uuid())
        .bind(run)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Extends `run`'s hold on its session's turn; false if it no longer holds it.
    pub async fn renew_turn(
        &self,
        tenant: TenantId,
        session: Uuid,
        run: Uuid,
        lease: Duration,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET turn_until = now() + $4 * interval '1 millisecond' \
             WHERE tenant_id = $1 AND id = $2 AND turn_run = $3",
        )
        .bind(tenant.as_uuid())
        .bind(session)
        .bind(run)
        .bind(lease.num_milliseconds() as f64)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The last `n` messages of a session, oldest first: a run's history.
    pub async fn recent_messages(
        &self,
        tenant: TenantId,
        session: Uuid,
        n: i64,
    ) -> Result<Vec<crate::MessageRecord>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let mut rows: Vec<crate::MessageRecord> = sqlx::query_as(
            "SELECT id, seq, role, content, tool_calls, tool_call_id, run_id, model, input_tokens, \
             output_tokens, created_at FROM messages WHERE tenant_id = $1 AND session_id = $2 \
             ORDER BY seq DESC LIMIT $3",
        )
        .bind(tenant.as_uuid())
        .bind(session)
        .bind(n)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
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
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query_as(
            "SELECT day, model, requests, input_tokens, output_tokens FROM usage_daily \
             WHERE tenant_id = $1 AND day >= $2 AND day < $3 ORDER BY day DESC, model",
        )
        .bind(tenant.as_uuid())
        .bind(since)
        .bind(until)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }
}

/// Takes the session's turn for `run` inside `tx` if it is free (or lapsed, or already `run`'s).
async fn claim_turn(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    tenant: TenantId,
    session: Uuid,
    run: Uuid,
    lease: Duration,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET turn_run = $3, turn_until = now() + $4 * interval '1 millisecond' \
         WHERE tenant_id = $1 AND id = $2 AND (turn_run IS NULL OR turn_run = $3 OR turn_until < now())",
    )
    .bind(tenant.as_uuid())
    .bind(session)
    .bind(run)
    .bind(lease.num_milliseconds() as f64)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds one model request and its tokens to the tenant's usage of the day.
async fn count_usage(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
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
    .execute(&mut **tx)
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
        let mut tx = self.tenant_tx(tenant).await?;
        count_usage(&mut tx, tenant, model, input_tokens, output_tokens).await?;
        tx.commit().await?;
        Ok(())
    }
}
