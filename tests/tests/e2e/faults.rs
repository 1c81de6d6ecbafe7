//! Faults under load, with real processes on loopback: two replicas, a worker and mock-llm over
//! a Postgres and a Redis of the test's own. Redis SIGKILLed answers no 5xx (limits go local,
//! then shared again once it is back); a Postgres fast restart answers no 500 (503 with
//! `Retry-After` while it is down) and loses nothing it answered 2xx for. (A replica killed
//! mid-stream is `runs::a_run_on_a_killed_replica_ends_failed_and_a_reader_on_another_hears_the_end`.)

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_tests::private::{PrivatePostgres, PrivateRedis};
use openclaw_tests::process::{
    free_port, openclaw, openclaw_bin, unthrottled_tenant_key, wait_until_up, workspace_bin, Child,
};
use openclaw_tests::{fresh_prefix, JWT_SECRET};
use serde_json::{json, Value};
use sqlx::Connection;
use uuid::Uuid;

/// What the load saw.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    /// (conversation, reply message id) of every message answered 200.
    replies: Vec<(String, Uuid)>,
    completions_ok: u64,
    /// Answers a client must never get: a 5xx other than 503, a 503 without `Retry-After`, a
    /// request that got no answer at all.
    wrong: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.replies.extend(other.replies);
        self.completions_ok += other.completions_ok;
        self.wrong.extend(other.wrong);
    }
}

/// One client: stateful messages in its own conversation and stateless completions, in turn,
/// across both replicas, until `stop`.
async fn client_loop(
    n: usize,
    bases: Vec<String>,
    chat_key: String,
    completion_key: String,
    stop: Arc<AtomicBool>,
) -> Tally {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let conversation = format!("load-{n}");
    let mut tally = Tally::default();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let base = &bases[(n + i) % bases.len()];
        let stateful = i % 2 == 0;
        i += 1;
        let sent = if stateful {
            client
                .post(format!("{base}/v1/message"))
                .bearer_auth(&chat_key)
                .json(&json!({"message": format!("hello {i}"), "conversation_id": conversation}))
                .send()
                .await
        } else {
            client
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(&completion_key)
                .json(&json!({"model": "openai/mock-1",
                              "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                tally.wrong.push(format!("{base}: no answer: {e:?}"));
                continue;
            }
        };
        let status = resp.status().as_u16();
        *tally.statuses.entry(status).or_default() += 1;
        let retry_after = resp.headers().contains_key("retry-after");
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        match status {
            200 if stateful => {
                let id = body["id"].as_str().unwrap_or_default();
                match id
                    .strip_prefix("msg_")
                    .and_then(|h| Uuid::parse_str(h).ok())
                {
                    Some(id) => tally.replies.push((conversation.clone(), id)),
                    None => tally.wrong.push(format!("a reply without an id: {body}")),
                }
            }
            200 => tally.completions_ok += 1,
            503 if retry_after => {
                // Told when to come back: a client's retry loop would wait; this one goes on.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => tally.wrong.push(format!("{status}: {body}")),
        }
    }
    tally
}

struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Tally>>,
}

impl Load {
    fn start(bases: &[String], chat_key: &str, completion_key: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..6)
            .map(|n| {
                tokio::spawn(client_loop(
                    n,
                    bases.to_vec(),
                    chat_key.to_string(),
                    completion_key.to_string(),
                    stop.clone(),
                ))
            })
            .collect();
        Load { stop, clients }
    }

    async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Tally::default();
        for c in self.clients {
            all.merge(c.await.unwrap());
        }
        all
    }
}

async fn metric(client: &reqwest::Client, metrics: &str, name: &str) -> f64 {
    let text = client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn redis_keys(redis: &PrivateRedis, prefix: &str) -> usize {
    let out = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "--scan", "--pattern"])
        .arg(format!("{prefix}*"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_postgres_restarted_under_load_answer_no_500_and_lose_nothing() {
    let pg = PrivatePostgres::start();
    let mut redis = PrivateRedis::start();
    let migrator = pg.url("openclaw");
    let app_db = openclaw_tests::services::app_role_url(&migrator);
    let prefix = fresh_prefix();
    let mock_port = free_port();
    let _mock = Child::spawn(
        Command::new(workspace_bin("openclaw-mock-llm", "mock-llm"))
            .env("MOCK_LLM_PORT", mock_port.to_string())
            .arg("--no-record")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let mock = format!("http://127.0.0.1:{mock_port}");
    wait_until_up(&format!("{mock}/v1/models")).await;
    let redis_url = redis.url();
    let env = [
        ("OPENCLAW_MIGRATOR_URL", migrator.as_str()),
        ("DATABASE_URL", app_db.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("OPENCLAW_REDIS_PREFIX", prefix.as_str()),
        ("OPENCLAW_JWT_SECRET", JWT_SECRET),
        ("OPENCLAW_BIND", "127.0.0.1"),
        ("OPENAI_BASE_URL", &format!("{mock}/v1")),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENCLAW_DEFAULT_MODEL", "openai/mock-1"),
        ("OPENCLAW_WRITE_BEHIND_MS", "50"),
        ("RUST_LOG", "error"),
    ];
    openclaw(&["migrate"], &env);
    let chat_key = unthrottled_tenant_key(&env, "pro");
    let completion_key = unthrottled_tenant_key(&env, "pro");

    let mut replicas = Vec::new();
    let mut bases = Vec::new();
    let mut metrics = Vec::new();
    let logs = std::env::temp_dir().join(format!("oc-faults-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&logs).unwrap();
    for n in 0..2 {
        let (port, metrics_port) = (free_port(), free_port());
        let log = std::fs::File::create(logs.join(format!("replica-{n}.log"))).unwrap();
        replicas.push(Child::spawn(
            Command::new(openclaw_bin())
                .arg("serve")
                .envs(env)
                .env("OPENCLAW_PORT", port.to_string())
                .env("OPENCLAW_METRICS_PORT", metrics_port.to_string())
                .env("RUST_LOG", "warn")
                .env("LOG_FORMAT", "json")
                .stdout(Stdio::null())
                .stderr(log),
        ));
        bases.push(format!("http://127.0.0.1:{port}"));
        metrics.push(format!("http://127.0.0.1:{metrics_port}"));
    }
    let _worker = Child::spawn(
        Command::new(openclaw_bin())
            .arg("worker")
            .envs(env)
            .env("OPENCLAW_WORKER_METRICS_PORT", free_port().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    for base in &bases {
        wait_until_up(&format!("{base}/health")).await;
    }
    let client = reqwest::Client::new();

    // Redis SIGKILLed under load, then back.
    let load = Load::start(&bases, &chat_key, &completion_key);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        redis_keys(&redis, &prefix) > 0,
        "limits are shared in Redis"
    );
    redis.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.restart();
    // Shared again: the replicas' cells reappear in the new, empty Redis.
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis_keys(&redis, &prefix) == 0 {
        assert!(
            Instant::now() < deadline,
            "the replicas never used Redis again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let through_redis = load.finish().await;
    let mut fallbacks = 0.0;
    for m in &metrics {
        fallbacks += metric(&client, m, "openclaw_rate_limit_fallback_total").await;
    }
    assert!(fallbacks > 0.0, "limits went local while Redis was away");
    assert!(
        through_redis.wrong.is_empty(),
        "Redis down: {:?} ({:?})",
        &through_redis.wrong[..through_redis.wrong.len().min(5)],
        through_redis.statuses
    );
    assert!(
        !through_redis.statuses.contains_key(&503),
        "Redis is not needed to answer: {:?}",
        through_redis.statuses
    );

    // Postgres restarted fast under load.
    let load = Load::start(&bases, &chat_key, &completion_key);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pg_ref = &pg;
    tokio::task::block_in_place(|| pg_ref.restart_fast());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let through_pg = load.finish().await;
    if !through_pg.wrong.is_empty() {
        eprintln!("replica logs: {}", logs.display());
    }
    assert!(
        through_pg.wrong.is_empty(),
        "Postgres restarted: {:?} ({:?})",
        &through_pg.wrong[..through_pg.wrong.len().min(5)],
        through_pg.statuses
    );
    assert!(
        through_pg.statuses.get(&200).copied().unwrap_or(0) > 0,
        "{:?}",
        through_pg.statuses
    );

    // Nothing answered 2xx is missing: every reply is in its conversation, and every
    // completion's run was written (behind, so it may take a moment).
    let mut all = through_redis;
    all.merge(through_pg);
    let mut db = sqlx::PgConnection::connect(&migrator).await.unwrap();
    let ids: Vec<Uuid> = all.replies.iter().map(|(_, id)| *id).collect();
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE id = ANY($1) AND role = 'assistant'",
    )
    .bind(&ids)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        stored as usize,
        ids.len(),
        "every reply answered 200 is stored"
    );
    let hash = openclaw_domain::ApiKeySecret::parse(&completion_key)
        .unwrap()
        .hash();
    let completion_tenant: Uuid =
        sqlx::query_scalar("SELECT tenant_id FROM api_keys WHERE key_hash = $1")
            .bind(hash.0.to_vec())
            .fetch_one(&mut db)
            .await
            .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let runs: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM runs WHERE tenant_id = $1 AND session_id IS NULL",
        )
        .bind(completion_tenant)
        .fetch_one(&mut db)
        .await
        .unwrap();
        if runs as u64 >= all.completions_ok {
            assert_eq!(runs as u64, all.completions_ok, "one run per completion");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{runs} runs recorded for {} completions answered 200",
            all.completions_ok
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(replicas);
}
