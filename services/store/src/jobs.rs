//! The durable job queue behind tasks, spawned agents and async messages, and the outbox of
//! events it writes for webhooks. Workers claim with `FOR UPDATE SKIP LOCKED`, fairest tenant
//! first; `attempts` fences every write a worker makes, so a worker that lost its lease (paused,
//! partitioned, presumed dead) cannot end or touch a job another worker has since claimed.

use chrono::{DateTime, Duration, Utc};
use openclaw_domain::memory::MemoryAccess;
use openclaw_domain::{JobStatus, TenantId};
use serde_json::{json, Value};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::{Result, Store, StoreError};

/// The NOTIFY channel a worker listens on; a commit that queues a job signals it.
pub const JOBS_CHANNEL: &str = "openclaw_jobs";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// `POST /v1/tasks`.
    Task,
    /// `POST /v1/agents/spawn`, and the sub-agents an agent spawns.
    Agent,
    /// An S2 message sent with `wait_for_response: false`; its id is the run's.
    Message,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Task => "task",
            JobKind::Agent => "agent",
            JobKind::Message => "message",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "task" => Some(JobKind::Task),
            "agent" => Some(JobKind::Agent),
            "message" => Some(JobKind::Message),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub kind: JobKind,
    pub name: String,
    pub job_type: String,
    pub parameters: Value,
    pub priority: i32,
    pub timeout_ms: i32,
    pub max_attempts: i32,
    pub run_id: Option<Uuid>,
    /// The session the job belongs to (`None`: the tenant's); a sub-agent takes its parent's.
    pub session_key: Option<String>,
    /// What its runs may do with memory: what the creating credential could.
    pub memory_access: MemoryAccess,
}

/// A sub-agent's place in its family: it runs inside `root`'s job.
#[derive(Debug, Clone, Copy)]
pub struct Lineage {
    pub parent: Uuid,
    pub root: Uuid,
    pub depth: i16,
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct JobRecord {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    #[sqlx(rename = "type")]
    pub job_type: String,
    pub parameters: Value,
    pub priority: i32,
    pub timeout_ms: i32,
    #[sqlx(try_from = "String")]
    pub status: JobStatus,
    pub progress: i16,
    pub result: Option<Value>,
    pub error: Option<Value>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub root_id: Option<Uuid>,
    pub depth: i16,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub session_key: Option<String>,
    #[sqlx(try_from = "String")]
    pub memory_access: MemoryAccess,
}

impl JobRecord {
    pub fn tenant(&self) -> TenantId {
        TenantId(self.tenant_id)
    }

    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }
}

/// A job queued again keeps no run of its own until the next attempt starts one; an async
/// message's run is the job's for good, and a job that ended keeps its last.
const REQUEUED_RUN: &str =
    "run_id = CASE WHEN kind = 'message' OR attempts >= max_attempts THEN run_id END";

const JOB_COLUMNS: &str = "jobs.tenant_id, jobs.id, jobs.kind, jobs.name, jobs.type, jobs.parameters, \
    jobs.priority, jobs.timeout_ms, jobs.status, jobs.progress, jobs.result, jobs.error, jobs.attempts, \
    jobs.max_attempts, jobs.run_id, jobs.parent_id, jobs.root_id, jobs.depth, jobs.created_at, \
    jobs.updated_at, jobs.started_at, jobs.finished_at, jobs.session_key, jobs.memory_access";

/// How a worker ends its attempt at a job.
#[derive(Debug, Clone)]
pub enum JobEnd {
    Completed(Value),
    Failed(Value),
    /// A retryable failure: queue the job again after `after`, unless its attempts are spent
    /// (then it fails with `error`).
    Retry {
        error: Value,
        after: Duration,
    },
    /// The worker is going away: queue the job again at once, without spending an attempt.
    HandBack,
}

/// One attempt a worker holds, as reported by its heartbeat.
#[derive(Debug, Clone, Copy)]
pub struct Held {
    pub tenant: TenantId,
    pub id: Uuid,
    pub attempt: i32,
    pub progress: i16,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// Cancelled now; `was_running` says a worker must be told to stop.
    Cancelled {
        job: JobRecord,
        was_running: bool,
    },
    /// It had already ended; nothing changed.
    AlreadyEnded(JobRecord),
    NotFound,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueStats {
    pub queued: i64,
    pub running: i64,
    /// Age of the oldest job that could run now, in seconds (0 when none waits).
    pub oldest_queued_secs: f64,
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct OutboxRecord {
    pub id: Uuid,
    pub event: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

/// The webhook event for a job reaching `status`, if it has one (API.md §5.7).
fn event_for(kind: &str, status: &str) -> Option<&'static str> {
    match (kind, status) {
        ("task", "completed") => Some("task.completed"),
        ("task", "failed") => Some("task.failed"),
        ("agent", "queued") => Some("agent.spawned"),
        ("agent", "completed") => Some("agent.completed"),
        ("agent", "failed") => Some("agent.error"),
        _ => None,
    }
}

/// What an outbox event says of a job; the webhooks issue renders the delivered body from it.
fn job_payload(job: &JobRecord) -> Value {
    json!({
        "job_id": job.id,
        "kind": job.kind,
        "name": job.name,
        "type": job.job_type,
        "status": job.status.as_str(),
        "result": job.result,
        "error": job.error,
        "parent_id": job.parent_id,
        "run_id": job.run_id,
    })
}

async fn record_event(c: &mut PgConnection, job: &JobRecord, status_for_event: &str) -> Result<()> {
    let Some(event) = event_for(&job.kind, status_for_event) else {
        return Ok(());
    };
    sqlx::query("INSERT INTO outbox (tenant_id, id, event, payload) VALUES ($1, $2, $3, $4)")
        .bind(job.tenant_id)
        .bind(Uuid::now_v7())
        .bind(event)
        .bind(job_payload(job))
        .execute(c)
        .await?;
    Ok(())
}

fn millis(d: Duration) -> f64 {
    d.num_milliseconds() as f64
}

impl Store {
    /// Queues a job and wakes the workers (NOTIFY is delivered at commit).
    pub async fn enqueue_job(&self, tenant: TenantId, job: NewJob) -> Result<JobRecord> {
        self.in_tenant(tenant, async |c| queue_in(c, tenant, &job).await)
            .await
    }

    /// Queues a job of a type a tenant may have only one of unfinished (memory compaction,
    /// kept unique by an index): `Err` with the one already queued or running instead.
    pub async fn enqueue_job_once(
        &self,
        tenant: TenantId,
        job: NewJob,
    ) -> Result<std::result::Result<JobRecord, JobRecord>> {
        // The unfinished one may end between the refused insert and the read: then try again.
        for _ in 0..3 {
            // A refused insert is an `Err` out of `in_tenant`, so its transaction is rolled back.
            match self
                .in_tenant(tenant, async |c| queue_in(c, tenant, &job).await)
                .await
            {
                Ok(record) => return Ok(Ok(record)),
                Err(StoreError::Db(sqlx::Error::Database(e))) if e.is_unique_violation() => {}
                Err(e) => return Err(e),
            }
            let existing: Option<JobRecord> = self
                .in_tenant(tenant, async |c| {
                    Ok(sqlx::query_as(&format!(
                        "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND type = $2 \
                         AND status IN ('queued', 'running') ORDER BY created_at LIMIT 1"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(&job.job_type)
                    .fetch_optional(c)
                    .await?)
                })
                .await?;
            if let Some(existing) = existing {
                return Ok(Err(existing));
            }
        }
        Err(StoreError::Corrupt(format!(
            "cannot queue a `{}` job nor find the unfinished one",
            job.job_type
        )))
    }

    /// Records a sub-agent that `worker` runs at once inside its root's job: it is created
    /// running, never queued, and shares the root's lease.
    pub async fn start_subagent(
        &self,
        tenant: TenantId,
        job: NewJob,
        lineage: Lineage,
        worker: &str,
    ) -> Result<JobRecord> {
        self.in_tenant(tenant, async |c| {
            let record = insert_job(c, tenant, &job, Some(lineage), Some(worker)).await?;
            record_event(c, &record, "queued").await?;
            Ok(record)
        })
        .await
    }

    pub async fn get_job(
        &self,
        tenant: TenantId,
        kind: JobKind,
        id: Uuid,
    ) -> Result<Option<JobRecord>> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2 AND kind = $3"
            ))
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(kind.as_str())
            .fetch_optional(c)
            .await?)
        })
        .await
    }

    /// A page of a tenant's jobs of one kind (of one session's only, when `session` is given),
    /// newest first, and how many match in all.
    pub async fn list_jobs(
        &self,
        tenant: TenantId,
        kind: JobKind,
        status: Option<&str>,
        session: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobRecord>, i64)> {
        self.in_tenant(tenant, async |c| {
            let rows = sqlx::query_as(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND kind = $2 \
                 AND ($3::text IS NULL OR status = $3) \
                 AND ($6::text IS NULL OR session_key = $6) \
                 ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
            ))
            .bind(tenant.as_uuid())
            .bind(kind.as_str())
            .bind(status)
            .bind(limit)
            .bind(offset)
            .bind(session)
            .fetch_all(&mut *c)
            .await?;
            let total: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM jobs WHERE tenant_id = $1 AND kind = $2 \
                 AND ($3::text IS NULL OR status = $3) \
                 AND ($4::text IS NULL OR session_key = $4)",
            )
            .bind(tenant.as_uuid())
            .bind(kind.as_str())
            .bind(status)
            .bind(session)
            .fetch_one(&mut *c)
            .await?;
            Ok((rows, total))
        })
        .await
    }

    /// Sub-agents an agent spawned, oldest first.
    pub async fn job_children(&self, tenant: TenantId, parent: Uuid) -> Result<Vec<JobRecord>> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND parent_id = $2 \
                 ORDER BY created_at, id"
            ))
            .bind(tenant.as_uuid())
            .bind(parent)
            .fetch_all(c)
            .await?)
        })
        .await
    }

    /// Cancels a job that has not ended, with every sub-agent under it. A running one keeps
    /// running until its worker hears of it (control channel at once, else its next heartbeat);
    /// whatever that worker reports afterwards is refused, so `cancelled` is final.
    /// `session`: only a job of that session (a session-limited caller's); another is
    /// `NotFound`.
    pub async fn cancel_job(
        &self,
        tenant: TenantId,
        kind: JobKind,
        id: Uuid,
        session: Option<&str>,
    ) -> Result<CancelOutcome> {
        self.in_tenant(tenant, async |c| {
            let before: Option<JobRecord> = sqlx::query_as(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2 AND kind = $3 \
                 AND ($4::text IS NULL OR session_key = $4) FOR UPDATE"
            ))
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(kind.as_str())
            .bind(session)
            .fetch_optional(&mut *c)
            .await?;
            let Some(before) = before else {
                return Ok(CancelOutcome::NotFound);
            };
            if before.is_terminal() {
                return Ok(CancelOutcome::AlreadyEnded(before));
            }
            let was_running = before.status == JobStatus::Running;
            let job: JobRecord = sqlx::query_as(&format!(
                "UPDATE jobs SET status = 'cancelled', lease_until = NULL, updated_at = now(), \
                 finished_at = now(), error = $3 WHERE tenant_id = $1 AND id = $2 RETURNING {JOB_COLUMNS}"
            ))
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(json!({"code": "cancelled", "message": "cancelled by the client"}))
            .fetch_one(&mut *c)
            .await?;
            sqlx::query(
                "WITH RECURSIVE family AS ( \
                     SELECT id FROM jobs WHERE tenant_id = $1 AND parent_id = $2 \
                     UNION SELECT j.id FROM jobs j JOIN family f ON j.parent_id = f.id WHERE j.tenant_id = $1) \
                 UPDATE jobs SET status = 'cancelled', updated_at = now(), finished_at = now(), error = $3 \
                 WHERE tenant_id = $1 AND id IN (SELECT id FROM family) AND status IN ('queued', 'running')",
            )
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(json!({"code": "cancelled", "message": "its parent was cancelled"}))
            .execute(&mut *c)
            .await?;
            // A queued async message has a run that no worker will now start: it ends here.
            if let (false, Some(run), JobKind::Message) = (was_running, job.run_id, kind) {
                sqlx::query(
                    "UPDATE runs SET status = 'cancelled', finished_at = now(), error = $3 \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'processing'",
                )
                .bind(tenant.as_uuid())
                .bind(run)
                .bind(json!({"code": "cancelled", "message": "the run was aborted before it started"}))
                .execute(&mut *c)
                .await?;
            }
            Ok(CancelOutcome::Cancelled { job, was_running })
        })
        .await
    }

    /// Claims the next job for `worker` (see [`Store::claim_jobs`]).
    pub async fn claim_job(&self, worker: &str, lease: Duration) -> Result<Option<JobRecord>> {
        Ok(self.claim_jobs(worker, lease, 1).await?.into_iter().next())
    }

    /// Claims up to `n` jobs for `worker` in one statement. Each queued job gets a slot number:
    /// its tenant's running jobs plus its rank among the tenant's queued ones (priority, then
    /// age). Jobs past their tenant's cap, or of a suspended tenant, are skipped; the rest are
    /// taken lowest slot first, so tenants take turns — one with 10 000 queued jobs gets its
    /// second slot only after every waiting tenant has had its first. Claims racing in the same
    /// instant can overshoot a cap by what the other claims take (each sees the others' rows
    /// only after commit).
    pub async fn claim_jobs(
        &self,
        worker: &str,
        lease: Duration,
        n: i64,
    ) -> Result<Vec<JobRecord>> {
        let mut tx = self.system_tx().await?;
        let rows = sqlx::query_as(&format!(
            "WITH busy AS ( \
                 SELECT tenant_id, count(*)::int AS running FROM jobs \
                 WHERE status = 'running' AND root_id IS NULL GROUP BY tenant_id), \
             ranked AS ( \
                 SELECT j.tenant_id, j.id, j.priority, j.run_after, \
                     coalesce(b.running, 0) + row_number() OVER ( \
                         PARTITION BY j.tenant_id ORDER BY j.priority DESC, j.run_after, j.id) AS slot, \
                     openclaw_job_cap(t.tier, t.limits) AS cap \
                 FROM jobs j \
                 JOIN tenants t ON t.id = j.tenant_id \
                 LEFT JOIN busy b ON b.tenant_id = j.tenant_id \
                 WHERE j.status = 'queued' AND j.run_after <= now() AND t.status = 'active'), \
             next AS ( \
                 SELECT j.tenant_id, j.id FROM jobs j \
                 JOIN ranked r ON r.tenant_id = j.tenant_id AND r.id = j.id \
                 WHERE r.slot <= r.cap \
                 ORDER BY r.slot, r.priority DESC, r.run_after, r.id \
                 LIMIT $3 FOR UPDATE OF j SKIP LOCKED) \
             UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, worker = $1, \
                 lease_until = now() + $2 * interval '1 millisecond', \
                 started_at = coalesce(jobs.started_at, now()), updated_at = now() \
             FROM next WHERE jobs.tenant_id = next.tenant_id AND jobs.id = next.id \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(worker)
        .bind(millis(lease))
        .bind(n)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Renews the leases of the attempts `worker` holds and saves their progress; returns the
    /// ids it still holds. Anything missing was cancelled or taken over: stop working on it.
    pub async fn heartbeat_jobs(
        &self,
        worker: &str,
        held: &[Held],
        lease: Duration,
    ) -> Result<Vec<Uuid>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.system_tx().await?;
        let tenants: Vec<Uuid> = held.iter().map(|h| h.tenant.as_uuid()).collect();
        let ids: Vec<Uuid> = held.iter().map(|h| h.id).collect();
        let attempts: Vec<i32> = held.iter().map(|h| h.attempt).collect();
        let progress: Vec<i16> = held.iter().map(|h| h.progress).collect();
        let still = sqlx::query_scalar(
            "UPDATE jobs SET progress = GREATEST(jobs.progress, h.progress), \
                 lease_until = CASE WHEN jobs.root_id IS NULL \
                     THEN now() + $6 * interval '1 millisecond' END \
             FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::smallint[]) AS h(tenant_id, id, attempt, progress) \
             WHERE jobs.tenant_id = h.tenant_id AND jobs.id = h.id AND jobs.attempts = h.attempt \
               AND jobs.worker = $1 AND jobs.status = 'running' \
             RETURNING jobs.id",
        )
        .bind(worker)
        .bind(&tenants)
        .bind(&ids)
        .bind(&attempts)
        .bind(&progress)
        .bind(millis(lease))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(still)
    }

    /// Notes the run executing an attempt, so clients can follow its events.
    pub async fn set_job_run(
        &self,
        tenant: TenantId,
        id: Uuid,
        attempt: i32,
        run: Uuid,
    ) -> Result<bool> {
        self.in_tenant(tenant, async |c| {
            let done = sqlx::query(
                "UPDATE jobs SET run_id = $4, updated_at = now() \
                 WHERE tenant_id = $1 AND id = $2 AND attempts = $3 AND status = 'running'",
            )
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(attempt)
            .bind(run)
            .execute(&mut *c)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    /// Ends `worker`'s attempt at a job, with its outbox event in the same commit. Returns the
    /// job as it now stands, or `None` if the attempt was no longer this worker's to end
    /// (cancelled, or taken over after its lease lapsed): then nothing changed.
    pub async fn end_job(
        &self,
        tenant: TenantId,
        id: Uuid,
        worker: &str,
        attempt: i32,
        end: JobEnd,
    ) -> Result<Option<JobRecord>> {
        self.in_tenant(tenant, async |c| {
            let fence = "WHERE tenant_id = $1 AND id = $2 AND worker = $3 AND attempts = $4 \
                         AND status = 'running'";
            let updated: Option<JobRecord> = match end {
                JobEnd::Completed(result) => {
                    sqlx::query_as(&format!(
                        "UPDATE jobs SET status = 'completed', progress = 100, result = $5, error = NULL, \
                         lease_until = NULL, finished_at = now(), updated_at = now() {fence} \
                         RETURNING {JOB_COLUMNS}"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id)
                    .bind(worker)
                    .bind(attempt)
                    .bind(result)
                    .fetch_optional(&mut *c)
                    .await?
                }
                JobEnd::Failed(error) => {
                    sqlx::query_as(&format!(
                        "UPDATE jobs SET status = 'failed', error = $5, lease_until = NULL, \
                         finished_at = now(), updated_at = now() {fence} RETURNING {JOB_COLUMNS}"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id)
                    .bind(worker)
                    .bind(attempt)
                    .bind(error)
                    .fetch_optional(&mut *c)
                    .await?
                }
                JobEnd::Retry { error, after } => {
                    sqlx::query_as(&format!(
                        "UPDATE jobs SET error = $5, lease_until = NULL, updated_at = now(), \
                         status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
                         finished_at = CASE WHEN attempts >= max_attempts THEN now() END, \
                         worker = CASE WHEN attempts >= max_attempts THEN worker END, \
                         {REQUEUED_RUN}, \
                         run_after = now() + $6 * interval '1 millisecond' {fence} \
                         RETURNING {JOB_COLUMNS}"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id)
                    .bind(worker)
                    .bind(attempt)
                    .bind(error)
                    .bind(millis(after))
                    .fetch_optional(&mut *c)
                    .await?
                }
                JobEnd::HandBack => {
                    sqlx::query_as(&format!(
                        "UPDATE jobs SET status = 'queued', attempts = attempts - 1, worker = NULL, \
                         run_id = CASE WHEN kind = 'message' THEN run_id END, \
                         lease_until = NULL, run_after = now(), updated_at = now() {fence} \
                         RETURNING {JOB_COLUMNS}"
                    ))
                    .bind(tenant.as_uuid())
                    .bind(id)
                    .bind(worker)
                    .bind(attempt)
                    .fetch_optional(&mut *c)
                    .await?
                }
            };
            let Some(job) = updated else {
                return Ok(None);
            };
            if job.root_id.is_none() && job.kind == "agent" {
                // Sub-agents live inside their root's attempt: whatever of them still runs
                // ends here.
                fail_subagents(c, &job, "the agent that spawned this one ended first").await?;
            }
            if job.status == JobStatus::Queued {
                sqlx::query("SELECT pg_notify($1, '')")
                    .bind(JOBS_CHANNEL)
                    .execute(&mut *c)
                    .await?;
            } else {
                record_event(c, &job, job.status.as_str()).await?;
            }
            Ok(Some(job))
        })
        .await
    }

    /// Takes back jobs whose worker stopped renewing its lease (it died, or lost the database):
    /// they are queued again, or fail once their attempts are spent; sub-agents running inside
    /// them fail, and an async message that fails takes its run with it. Returns the jobs taken
    /// back. Any worker may call this; running it twice at once is harmless.
    pub async fn reap_jobs(&self) -> Result<Vec<JobRecord>> {
        let mut tx = self.system_tx().await?;
        // The lost attempt's run ends too: nothing else will end it. An async message's run is
        // the job's own and is resumed by the next attempt, unless there is none.
        let lost: Vec<JobRecord> = sqlx::query_as(&format!(
            "WITH lost AS ( \
                 SELECT tenant_id, id, run_id, kind, attempts >= max_attempts AS spent FROM jobs \
                 WHERE status = 'running' AND root_id IS NULL AND lease_until < now() \
                 FOR UPDATE SKIP LOCKED), \
             lost_runs AS ( \
                 UPDATE runs SET status = 'failed', finished_at = now(), error = $2 FROM lost \
                 WHERE runs.tenant_id = lost.tenant_id AND runs.id = lost.run_id \
                   AND runs.status = 'processing' AND (lost.kind <> 'message' OR lost.spent)) \
             UPDATE jobs SET updated_at = now(), lease_until = NULL, run_after = now(), \
                 status = CASE WHEN lost.spent THEN 'failed' ELSE 'queued' END, \
                 finished_at = CASE WHEN lost.spent THEN now() END, \
                 error = CASE WHEN lost.spent THEN $1::jsonb ELSE jobs.error END, \
                 worker = CASE WHEN lost.spent THEN jobs.worker END, \
                 run_id = CASE WHEN lost.spent OR lost.kind = 'message' THEN jobs.run_id END \
             FROM lost WHERE jobs.tenant_id = lost.tenant_id AND jobs.id = lost.id \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(json!({"code": "worker_lost", "message": "the worker running this job stopped, and its attempts are spent"}))
        .bind(json!({"code": "worker_lost", "message": "the worker running this run stopped"}))
        .fetch_all(&mut *tx)
        .await?;
        for job in &lost {
            if job.kind == "agent" {
                fail_subagents(
                    &mut tx,
                    job,
                    "the worker running this agent's root job stopped",
                )
                .await?;
            }
            if job.status == JobStatus::Failed {
                record_event(&mut tx, job, "failed").await?;
            }
        }
        if lost.iter().any(|j| j.status == JobStatus::Queued) {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(JOBS_CHANNEL)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(lost)
    }

    /// Deletes up to `batch` jobs that ended before `before` (their tasks and agents then read
    /// as not found); returns how many. Sub-agents go with their root.
    pub async fn purge_finished_jobs(&self, before: DateTime<Utc>, batch: i64) -> Result<u64> {
        let mut tx = self.system_tx().await?;
        let done = sqlx::query(
            "DELETE FROM jobs WHERE (tenant_id, id) IN ( \
                 SELECT tenant_id, id FROM jobs WHERE finished_at < $1 \
                 AND status IN ('completed', 'failed', 'cancelled') LIMIT $2)",
        )
        .bind(before)
        .bind(batch)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Deletes up to `batch` outbox events recorded before `before`, across tenants (the
    /// worker's retention sweep): a tenant with no webhook to deliver them to must not grow the
    /// table for ever.
    pub async fn purge_outbox(&self, before: DateTime<Utc>, batch: i64) -> Result<u64> {
        let mut tx = self.system_tx().await?;
        let done = sqlx::query(
            "DELETE FROM outbox WHERE (tenant_id, id) IN ( \
                 SELECT tenant_id, id FROM outbox WHERE created_at < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(batch)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Records a run that will never start as failed (its job could not launch it).
    pub async fn fail_unstarted_run(
        &self,
        tenant: TenantId,
        run: Uuid,
        error: Value,
    ) -> Result<()> {
        self.in_tenant(tenant, async |c| {
            sqlx::query(
                "UPDATE runs SET status = 'failed', finished_at = now(), error = $3 \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'processing'",
            )
            .bind(tenant.as_uuid())
            .bind(run)
            .bind(error)
            .execute(&mut *c)
            .await?;
            Ok(())
        })
        .await
    }

    /// Queue depth, running jobs and the age of the oldest runnable job, for metrics.
    pub async fn queue_stats(&self) -> Result<QueueStats> {
        let mut tx = self.system_tx().await?;
        let (queued, running, oldest): (i64, i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'queued'), \
                    count(*) FILTER (WHERE status = 'running' AND root_id IS NULL), \
                    EXTRACT(EPOCH FROM now() - min(run_after) FILTER (WHERE status = 'queued' \
                        AND run_after <= now()))::float8 \
             FROM jobs WHERE status IN ('queued', 'running')",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(QueueStats {
            queued,
            running,
            oldest_queued_secs: oldest.unwrap_or(0.0),
        })
    }

    /// A tenant's outbox events, oldest first (the webhooks issue delivers them).
    pub async fn outbox_events(&self, tenant: TenantId) -> Result<Vec<OutboxRecord>> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_as(
                "SELECT id, event, payload, created_at FROM outbox WHERE tenant_id = $1 \
                 ORDER BY created_at, id",
            )
            .bind(tenant.as_uuid())
            .fetch_all(c)
            .await?)
        })
        .await
    }

    /// Jobs of a tenant not ended yet, for the per-tenant cap on what a tenant may queue.
    pub async fn unfinished_jobs(&self, tenant: TenantId) -> Result<i64> {
        self.in_tenant(tenant, async |c| {
            Ok(sqlx::query_scalar(
                "SELECT count(*) FROM jobs WHERE tenant_id = $1 AND status IN ('queued', 'running')",
            )
            .bind(tenant.as_uuid())
            .fetch_one(c)
            .await?)
        })
        .await
    }
}

/// Fails whatever still runs under a root agent whose attempt has ended.
async fn fail_subagents(c: &mut PgConnection, root: &JobRecord, why: &str) -> Result<()> {
    sqlx::query(
        "UPDATE jobs SET status = 'failed', updated_at = now(), finished_at = now(), error = $3 \
         WHERE tenant_id = $1 AND root_id = $2 AND status IN ('queued', 'running')",
    )
    .bind(root.tenant_id)
    .bind(root.id)
    .bind(json!({"code": "parent_ended", "message": why}))
    .execute(c)
    .await?;
    Ok(())
}

/// Queues `job` in the transaction `c` is in, with its outbox event and the wake-up for workers.
pub(crate) async fn queue_in(
    c: &mut PgConnection,
    tenant: TenantId,
    job: &NewJob,
) -> Result<JobRecord> {
    let record = insert_job(c, tenant, job, None, None).await?;
    record_event(c, &record, "queued").await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(JOBS_CHANNEL)
        .execute(c)
        .await?;
    Ok(record)
}

async fn insert_job(
    c: &mut PgConnection,
    tenant: TenantId,
    job: &NewJob,
    lineage: Option<Lineage>,
    running_on: Option<&str>,
) -> Result<JobRecord> {
    let record = sqlx::query_as(&format!(
        "INSERT INTO jobs (tenant_id, id, kind, name, type, parameters, priority, timeout_ms, \
             max_attempts, run_id, parent_id, root_id, depth, status, worker, attempts, started_at, \
             session_key, memory_access) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             CASE WHEN $14::text IS NULL THEN 'queued' ELSE 'running' END, $14, \
             CASE WHEN $14::text IS NULL THEN 0 ELSE 1 END, \
             CASE WHEN $14::text IS NULL THEN NULL ELSE now() END, \
             coalesce($15, (SELECT p.session_key FROM jobs p WHERE p.tenant_id = $1 AND p.id = $11)), \
             $16) \
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(tenant.as_uuid())
    .bind(job.id)
    .bind(job.kind.as_str())
    .bind(&job.name)
    .bind(&job.job_type)
    .bind(&job.parameters)
    .bind(job.priority)
    .bind(job.timeout_ms)
    .bind(job.max_attempts)
    .bind(job.run_id)
    .bind(lineage.map(|l| l.parent))
    .bind(lineage.map(|l| l.root))
    .bind(lineage.map_or(0, |l| l.depth))
    .bind(running_on)
    .bind(&job.session_key)
    .bind(job.memory_access.as_str())
    .fetch_one(c)
    .await?;
    Ok(record)
}
