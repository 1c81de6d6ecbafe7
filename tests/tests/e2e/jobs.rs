//! End-to-end: the job queue across real processes — two API replicas and two workers on one
//! Postgres and Redis, with mock-llm upstream. A task made on one replica runs on a worker and
//! reads the same on the other; a worker killed mid-job loses nothing and the job completes once;
//! a cancelled task stops; a tenant flooding the queue does not starve another; SIGTERM drains.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openclaw_tests::process::{
    exit_of, free_port, kill, openclaw, openclaw_bin, unthrottled_tenant_key, wait_until_up,
    workspace_bin, Child,
};
use openclaw_tests::{fresh_prefix, services};
use serde_json::{json, Value};

struct Cluster {
    env: Vec<(String, String)>,
    client: reqwest::Client,
    mock: String,
    db: sqlx::PgPool,
}

impl Cluster {
    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    async fn replica(&self) -> (Child, String) {
        let port = free_port();
        let child = Child::spawn(
            Command::new(openclaw_bin())
                .arg("serve")
                .envs(self.env())
                .env("OPENCLAW_PORT", port.to_string())
                .env("OPENCLAW_METRICS_PORT", free_port().to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let base = format!("http://127.0.0.1:{port}");
        wait_until_up(&format!("{base}/health")).await;
        (child, base)
    }

    /// A worker whose stderr is kept (its logs say how it stopped).
    fn worker(&self, drain_secs: u64) -> Child {
        Child::spawn(
            Command::new(openclaw_bin())
                .arg("worker")
                .envs(self.env())
                .env("OPENCLAW_WORKER_METRICS_PORT", free_port().to_string())
                .env("OPENCLAW_WORKER_DRAIN_SECS", drain_secs.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        )
    }

    async fn script(&self, script: Value) {
        let resp = self
            .client
            .post(format!("{}/_mock/scripts", self.mock))
            .json(&script)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "mock script refused");
    }

    async fn create_task(&self, base: &str, key: &str, body: Value) -> String {
        let resp = self
            .client
            .post(format!("{base}/v1/tasks"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        let task: Value = resp.json().await.unwrap();
        assert_eq!(task["status"], "pending");
        task["id"].as_str().unwrap().to_string()
    }

    async fn task(&self, base: &str, key: &str, id: &str) -> Value {
        self.client
            .get(format!("{base}/v1/tasks/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls (as S1's clients do) until the task has status `want`.
    async fn until(&self, base: &str, key: &str, id: &str, want: &str, within: Duration) -> Value {
        let started = Instant::now();
        loop {
            let task = self.task(base, key, id).await;
            if task["status"] == want {
                return task;
            }
            assert!(
                started.elapsed() < within,
                "task {id} not {want} within {within:?}: {task}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The worker holding a job, from the queue itself: `<host>-<pid>-<salt>`.
    async fn holder_pid(&self, task_id: &str) -> u32 {
        let id = uuid::Uuid::parse_str(task_id.trim_start_matches("task_")).unwrap();
        let worker: String = sqlx::query_scalar("SELECT worker FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db)
            .await
            .unwrap();
        worker.rsplit('-').nth(1).unwrap().parse().unwrap()
    }

    async fn attempts_of(&self, task_id: &str) -> i32 {
        let id = uuid::Uuid::parse_str(task_id.trim_start_matches("task_")).unwrap();
        sqlx::query_scalar("SELECT attempts FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    async fn completions_of(&self, task_id: &str) -> i64 {
        let id = uuid::Uuid::parse_str(task_id.trim_start_matches("task_")).unwrap();
        sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE event = 'task.completed' AND payload->>'job_id' = $1",
        )
        .bind(id.to_string())
        .fetch_one(&self.db)
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn jobs_cross_replicas_and_workers_survive_a_killed_worker_cancel_fairly_and_drain() {
    let svc = services::get().await;
    let db = svc.fresh_database().await;
    let redis = svc.redis_url.clone().expect("Redis for end-to-end tests");
    // Every model call takes 300 ms unless a script says otherwise: jobs last long enough to
    // be caught running.
    let mock_port = free_port();
    let _mock = Child::spawn(
        Command::new(workspace_bin("openclaw-mock-llm", "mock-llm"))
            .env("MOCK_LLM_PORT", mock_port.to_string())
            .env("MOCK_LLM_DELAY_MS", "300")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let mock = format!("http://127.0.0.1:{mock_port}");
    wait_until_up(&format!("{mock}/v1/models")).await;
    let env: Vec<(String, String)> = [
        ("OPENCLAW_MIGRATOR_URL", db.clone()),
        ("DATABASE_URL", svc.app_url(&db)),
        ("REDIS_URL", redis),
        ("OPENCLAW_REDIS_PREFIX", fresh_prefix()),
        ("OPENCLAW_BIND", "127.0.0.1".into()),
        ("OPENAI_BASE_URL", format!("{mock}/v1")),
        ("OPENAI_API_KEY", "sk-test".into()),
        ("OPENCLAW_DEFAULT_MODEL", "openai/mock-1".into()),
        // Short, so a killed worker's job returns soon; not so short that a machine busy with
        // builds misses a heartbeat and loses a live attempt's lease (seen at 3 s).
        ("OPENCLAW_JOB_LEASE_SECS", "5".into()),
        ("OPENCLAW_JOB_POLL_MS", "200".into()),
        ("OPENCLAW_WORKER_CONCURRENCY", "2".into()),
        ("RUST_LOG", "warn,openclaw_worker=info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let borrowed: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    openclaw(&["migrate"], &borrowed);
    let alice = unthrottled_tenant_key(&borrowed, "pro");
    let bob = unthrottled_tenant_key(&borrowed, "pro");
    let cluster = Cluster {
        env,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        mock,
        db: sqlx::PgPool::connect(&db).await.unwrap(),
    };
    let (_a, a) = cluster.replica().await;
    let (_b, b) = cluster.replica().await;
    let mut w1 = cluster.worker(10);
    let mut w2 = cluster.worker(10);

    // S1's example on replica A, polled on replica B.
    let id = cluster
        .create_task(
            &a,
            &alice,
            json!({"name": "数据处理任务", "type": "data-processing", "parameters": {"input_file": "data.csv"}}),
        )
        .await;
    let done = cluster
        .until(&b, &alice, &id, "completed", Duration::from_secs(20))
        .await;
    assert_eq!(done["progress"], 100);
    assert!(
        done["result"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("data.csv")),
        "{done}"
    );

    // A worker killed mid-job: the other worker completes it, and it completes once.
    cluster
        // Long enough (8 s) that the job is still running when its worker is killed, even on a
        // machine busy enough to delay the test's polling.
        .script(json!({"text": "slow and steady wins", "chunks": 8, "token_delay_ms": 1000}))
        .await;
    let id = cluster
        .create_task(
            &a,
            &alice,
            json!({"name": "long", "type": "agent", "parameters": {"message": "go"}}),
        )
        .await;
    cluster
        .until(&b, &alice, &id, "running", Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let pid = cluster.holder_pid(&id).await;
    let attempts_at_kill = cluster.attempts_of(&id).await;
    let (victim, survivor) = if pid == w1.pid() {
        (&mut w1, &w2)
    } else {
        (&mut w2, &w1)
    };
    assert!(pid == victim.pid(), "the job is held by one of our workers");
    kill(victim, "-KILL");
    let done = cluster
        .until(&b, &alice, &id, "completed", Duration::from_secs(30))
        .await;
    // One attempt more than when its worker died (a busy machine may have cost the first
    // attempt its lease before the kill; the kill must still cost exactly one).
    assert_eq!(done["attempts"], attempts_at_kill + 1, "{done}");
    assert_eq!(cluster.holder_pid(&id).await, survivor.pid());
    assert_eq!(
        cluster.completions_of(&id).await,
        1,
        "completed exactly once"
    );
    let mut w3 = cluster.worker(1);
    let survivor_is_w1 = survivor.pid() == w1.pid();

    // Cancelling a running task on replica B stops its run on whichever worker has it.
    cluster
        .script(json!({"text": "this will not be finished", "chunks": 40, "token_delay_ms": 500}))
        .await;
    let id = cluster
        .create_task(
            &a,
            &alice,
            json!({"name": "doomed", "type": "agent", "parameters": {"message": "go"}}),
        )
        .await;
    let running = cluster
        .until(&a, &alice, &id, "running", Duration::from_secs(10))
        .await;
    let _ = running;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let resp = cluster
        .client
        .delete(format!("{b}/v1/tasks/{id}"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cancelled_at = Instant::now();
    let task = cluster.task(&a, &alice, &id).await;
    assert_eq!(task["status"], "cancelled");
    let run_id =
        uuid::Uuid::parse_str(task["run_id"].as_str().unwrap().trim_start_matches("run_")).unwrap();
    loop {
        let status: String = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_one(&cluster.db)
            .await
            .unwrap();
        if status == "cancelled" {
            break;
        }
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(5),
            "the run went on after its task was cancelled: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Fairness: Alice floods the queue; Bob's one task starts at the next free slot instead of
    // after Alice's backlog (4 slots, 300 ms per job: Alice's 40 take about 3 s).
    let mut flood = Vec::new();
    for i in 0..40 {
        flood.push(
            cluster
                .create_task(&a, &alice, json!({"name": format!("flood {i}"), "type": "agent", "parameters": {"message": "x"}}))
                .await,
        );
    }
    let bobs = cluster
        .create_task(
            &b,
            &bob,
            json!({"name": "bob's", "type": "agent", "parameters": {"message": "hello"}}),
        )
        .await;
    cluster
        .until(&b, &bob, &bobs, "completed", Duration::from_secs(30))
        .await;
    // From the queue's own timestamps: how many of Alice's tasks were started after Bob's was
    // queued and before it started. Bob has no task running, so each slot that frees should go
    // to him; only a claim already under way when his task arrived can still pick some of hers
    // (at most a worker's two slots, three workers). First come, first served would have
    // started her whole backlog first.
    let bob_id = uuid::Uuid::parse_str(bobs.trim_start_matches("task_")).unwrap();
    let (overtook, still_queued): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE a.started_at > b.created_at AND a.started_at < b.started_at), \
                count(*) FILTER (WHERE a.started_at IS NULL OR a.started_at >= b.started_at) \
         FROM jobs a, jobs b WHERE b.id = $1 AND a.name LIKE 'flood %'",
    )
    .bind(bob_id)
    .fetch_one(&cluster.db)
    .await
    .unwrap();
    assert!(
        overtook <= 6,
        "{overtook} of Alice's tasks started while Bob's waited"
    );
    assert!(
        still_queued > 0,
        "Alice's backlog was not even waiting: the test proves nothing"
    );
    for id in &flood {
        cluster
            .until(&a, &alice, id, "completed", Duration::from_secs(60))
            .await;
    }

    // SIGTERM with a job running past the drain period: the worker hands it back and exits 0;
    // another worker completes it, in its first attempt.
    let (draining, other) = if survivor_is_w1 {
        (&mut w3, &mut w1)
    } else {
        (&mut w3, &mut w2)
    };
    kill(other, "-STOP"); // only the draining worker may claim the next job
    cluster
        .script(json!({"text": "handed back and finished elsewhere", "chunks": 10, "token_delay_ms": 400}))
        .await;
    let id = cluster
        .create_task(
            &a,
            &alice,
            json!({"name": "handover", "type": "agent", "parameters": {"message": "go"}}),
        )
        .await;
    cluster
        .until(&a, &alice, &id, "running", Duration::from_secs(10))
        .await;
    assert_eq!(cluster.holder_pid(&id).await, draining.pid());
    kill(draining, "-TERM");
    let (status, logs) = exit_of(draining, Duration::from_secs(15)).await;
    assert!(status.success(), "worker exit {status:?}:\n{logs}");
    assert!(logs.contains("worker stopped"), "{logs}");
    kill(other, "-CONT");
    let done = cluster
        .until(&b, &alice, &id, "completed", Duration::from_secs(30))
        .await;
    assert_eq!(done["attempts"], 1, "a hand-back spends no attempt: {done}");
    assert_eq!(cluster.holder_pid(&id).await, other.pid());
    assert_eq!(cluster.completions_of(&id).await, 1);

    // Every run ended, the killed worker's and the handed-back one's included.
    let unended: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = 'processing'")
        .fetch_one(&cluster.db)
        .await
        .unwrap();
    assert_eq!(unended, 0, "runs left processing");

    // And a worker with nothing to do stops at once and cleanly.
    kill(other, "-TERM");
    let (status, logs) = exit_of(other, Duration::from_secs(15)).await;
    assert!(status.success(), "worker exit {status:?}:\n{logs}");
    assert!(
        logs.contains("worker draining") && logs.contains("worker stopped"),
        "{logs}"
    );
}
