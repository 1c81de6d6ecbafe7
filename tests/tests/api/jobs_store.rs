//! The job queue's storage: fair claims under tier caps, leases and the fencing of stale
//! workers, retries with back-off, hand-backs, cancellation, and the outbox written with each
//! state change. No worker runs here: the tests play the workers.

use std::time::Duration;

use openclaw_domain::{TenantId, Tier};
use openclaw_store::{CancelOutcome, JobEnd, JobKind, NewJob, Store};
use openclaw_tests::{spawn_with, AppOptions, TestApp};
use serde_json::json;
use uuid::Uuid;

async fn app() -> TestApp {
    spawn_with(AppOptions {
        worker: None,
        ..Default::default()
    })
    .await
}

fn task(name: &str) -> NewJob {
    NewJob {
        id: Uuid::now_v7(),
        kind: JobKind::Task,
        name: name.into(),
        job_type: "noop".into(),
        parameters: json!({}),
        priority: 0,
        timeout_ms: 60_000,
        max_attempts: 2,
        run_id: None,
        session_key: None,
        memory_access: Default::default(),
    }
}

async fn tenant(app: &TestApp, tier: Tier) -> TenantId {
    app.create_tenant(tier).await.id.parse().unwrap()
}

async fn events(store: &Store, tenant: TenantId) -> Vec<String> {
    store
        .outbox_events(tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

#[tokio::test]
async fn the_sql_job_cap_matches_the_tiers_concurrent_runs() {
    let app = app().await;
    for tier in Tier::ALL {
        let cap: i32 = sqlx::query_scalar("SELECT openclaw_job_cap($1, '{}'::jsonb)")
            .bind(tier.as_str())
            .fetch_one(&app.sql)
            .await
            .unwrap();
        assert_eq!(cap as u32, tier.limits().concurrent_requests, "{tier:?}");
    }
    let cap: i32 =
        sqlx::query_scalar("SELECT openclaw_job_cap('pro', '{\"concurrent_requests\": 3}'::jsonb)")
            .fetch_one(&app.sql)
            .await
            .unwrap();
    assert_eq!(cap, 3, "an operator override wins");
}

#[tokio::test]
async fn claims_take_turns_between_tenants_and_respect_each_tenants_cap() {
    let app = app().await;
    let store = &app.store;
    let flood = tenant(&app, Tier::Pro).await;
    let other = tenant(&app, Tier::Pro).await;
    app.set_limits(&flood.to_string(), json!({"concurrent_requests": 2}))
        .await;
    for i in 0..6 {
        store
            .enqueue_job(flood, task(&format!("f{i}")))
            .await
            .unwrap();
    }
    // Higher priority within a tenant goes first; priority never jumps the fairness order.
    let urgent = NewJob {
        priority: 50,
        ..task("urgent")
    };
    store.enqueue_job(flood, urgent).await.unwrap();
    for i in 0..2 {
        store
            .enqueue_job(other, task(&format!("o{i}")))
            .await
            .unwrap();
    }
    let lease = chrono::Duration::seconds(30);
    let mut order = Vec::new();
    while let Some(job) = store.claim_job("w", lease).await.unwrap() {
        order.push(job.name);
    }
    assert_eq!(
        order,
        ["urgent", "o0", "f0", "o1"],
        "fair, then capped at 2 for the flooder"
    );

    let mut running = store
        .list_jobs(flood, JobKind::Task, Some("running"), None, 10, 0)
        .await
        .unwrap()
        .0;
    let done = running.remove(0);
    store
        .end_job(
            flood,
            done.id,
            "w",
            done.attempts,
            JobEnd::Completed(json!({})),
        )
        .await
        .unwrap()
        .expect("the holder ends its attempt");
    let next = store.claim_job("w", lease).await.unwrap().unwrap();
    assert_eq!(next.name, "f1", "a freed slot goes to the next job in line");
}

#[tokio::test]
async fn a_batch_claim_takes_turns_between_tenants_within_their_caps() {
    let app = app().await;
    let store = &app.store;
    let a = tenant(&app, Tier::Pro).await;
    let b = tenant(&app, Tier::Pro).await;
    let c = tenant(&app, Tier::Pro).await;
    app.set_limits(&a.to_string(), json!({"concurrent_requests": 3}))
        .await;
    for i in 0..6 {
        store.enqueue_job(a, task(&format!("a{i}"))).await.unwrap();
    }
    for i in 0..2 {
        store.enqueue_job(b, task(&format!("b{i}"))).await.unwrap();
    }
    store.enqueue_job(c, task("c0")).await.unwrap();
    let claimed = store
        .claim_jobs("w", chrono::Duration::seconds(30), 5)
        .await
        .unwrap();
    let mut names: Vec<String> = claimed.into_iter().map(|j| j.name).collect();
    names.sort();
    assert_eq!(
        names,
        ["a0", "a1", "b0", "b1", "c0"],
        "every tenant's first job, then second ones"
    );
    let rest = store
        .claim_jobs("w", chrono::Duration::seconds(30), 10)
        .await
        .unwrap();
    let names: Vec<String> = rest.into_iter().map(|j| j.name).collect();
    assert_eq!(names, ["a2"], "the flooder stops at its cap of 3");
}

#[tokio::test]
async fn a_lapsed_lease_hands_the_job_to_another_worker_and_fences_the_first() {
    let app = app().await;
    let store = &app.store;
    let t = tenant(&app, Tier::Free).await;
    let job = store.enqueue_job(t, task("fenced")).await.unwrap();
    let first = store
        .claim_job("w1", chrono::Duration::milliseconds(50))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.id, first.attempts), (job.id, 1));
    assert!(
        store.reap_jobs().await.unwrap().is_empty(),
        "a live lease is not reaped"
    );
    assert!(store
        .set_job_run(t, job.id, 1, Uuid::now_v7())
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reaped = store.reap_jobs().await.unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!(reaped[0].status.as_str(), "queued");
    assert_eq!(
        reaped[0].run_id, None,
        "the lost attempt's run is not the job's any more"
    );
    let second = store
        .claim_job("w2", chrono::Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.attempts, 2);

    let held = |attempt| openclaw_store::Held {
        tenant: t,
        id: job.id,
        attempt,
        progress: 40,
    };
    let lease = chrono::Duration::seconds(30);
    assert!(
        store
            .heartbeat_jobs("w1", &[held(1)], lease)
            .await
            .unwrap()
            .is_empty(),
        "the first worker learns it lost the job"
    );
    assert_eq!(
        store.heartbeat_jobs("w2", &[held(2)], lease).await.unwrap(),
        vec![job.id]
    );
    let stale = store
        .end_job(t, job.id, "w1", 1, JobEnd::Completed(json!({"by": "w1"})))
        .await
        .unwrap();
    assert!(stale.is_none(), "a stale worker cannot end the job");
    let ended = store
        .end_job(t, job.id, "w2", 2, JobEnd::Completed(json!({"by": "w2"})))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status.as_str(), "completed");
    assert_eq!(ended.result, Some(json!({"by": "w2"})));
    assert_eq!(ended.progress, 100);
    assert_eq!(events(store, t).await, ["task.completed"]);
}

#[tokio::test]
async fn retries_back_off_until_attempts_are_spent_and_hand_backs_cost_nothing() {
    let app = app().await;
    let store = &app.store;
    let t = tenant(&app, Tier::Free).await;
    let job = store.enqueue_job(t, task("flaky")).await.unwrap();
    let lease = chrono::Duration::seconds(30);

    let a = store.claim_job("w", lease).await.unwrap().unwrap();
    let handed = store
        .end_job(t, job.id, "w", a.attempts, JobEnd::HandBack)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((handed.status.as_str(), handed.attempts), ("queued", 0));

    let a = store.claim_job("w", lease).await.unwrap().unwrap();
    assert_eq!(a.attempts, 1);
    let retry = JobEnd::Retry {
        error: json!({"code": "upstream_error", "message": "502"}),
        after: chrono::Duration::milliseconds(300),
    };
    let queued = store
        .end_job(t, job.id, "w", 1, retry.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.status.as_str(), "queued");
    assert!(
        store.claim_job("w", lease).await.unwrap().is_none(),
        "not before its back-off"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let b = store.claim_job("w", lease).await.unwrap().unwrap();
    assert_eq!(b.attempts, 2);
    let failed = store
        .end_job(t, job.id, "w", 2, retry)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status.as_str(), "failed", "attempts spent");
    assert_eq!(failed.error.unwrap()["code"], "upstream_error");
    assert_eq!(events(store, t).await, ["task.failed"]);
}

#[tokio::test]
async fn cancelling_is_final_and_stops_sub_agents_too() {
    let app = app().await;
    let store = &app.store;
    let t = tenant(&app, Tier::Free).await;
    let pending = store.enqueue_job(t, task("pending")).await.unwrap();
    match store
        .cancel_job(t, JobKind::Task, pending.id, None)
        .await
        .unwrap()
    {
        CancelOutcome::Cancelled { job, was_running } => {
            assert_eq!(job.status.as_str(), "cancelled");
            assert!(!was_running);
        }
        other => panic!("{other:?}"),
    }
    assert!(store
        .claim_job("w", chrono::Duration::seconds(30))
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store
            .cancel_job(t, JobKind::Task, pending.id, None)
            .await
            .unwrap(),
        CancelOutcome::AlreadyEnded(_)
    ));
    assert_eq!(
        store
            .cancel_job(t, JobKind::Agent, pending.id, None)
            .await
            .unwrap(),
        CancelOutcome::NotFound,
        "a task is not an agent"
    );
    let other = tenant(&app, Tier::Free).await;
    assert_eq!(
        store
            .cancel_job(other, JobKind::Task, pending.id, None)
            .await
            .unwrap(),
        CancelOutcome::NotFound,
        "nor another tenant's"
    );

    // A running agent with a sub-agent: both end cancelled, and the worker's report is refused.
    let agent = NewJob {
        kind: JobKind::Agent,
        job_type: "agent".into(),
        ..task("parent")
    };
    let agent = store.enqueue_job(t, agent).await.unwrap();
    let claimed = store
        .claim_job("w", chrono::Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    let child = NewJob {
        kind: JobKind::Agent,
        job_type: "agent".into(),
        ..task("child")
    };
    let lineage = openclaw_store::Lineage {
        parent: agent.id,
        root: agent.id,
        depth: 1,
    };
    let child = store.start_subagent(t, child, lineage, "w").await.unwrap();
    assert_eq!(child.status.as_str(), "running");
    match store
        .cancel_job(t, JobKind::Agent, agent.id, None)
        .await
        .unwrap()
    {
        CancelOutcome::Cancelled { was_running, .. } => assert!(was_running),
        other => panic!("{other:?}"),
    }
    let child = store
        .get_job(t, JobKind::Agent, child.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.status.as_str(), "cancelled");
    assert!(store
        .end_job(
            t,
            agent.id,
            "w",
            claimed.attempts,
            JobEnd::Completed(json!({}))
        )
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        events(store, t).await,
        ["agent.spawned", "agent.spawned"],
        "spawns are events; cancellations are not"
    );
}

#[tokio::test]
async fn long_ended_jobs_are_purged_and_unfinished_ones_never_are() {
    let app = app().await;
    let store = &app.store;
    let t = tenant(&app, Tier::Free).await;
    let ended = store.enqueue_job(t, task("ended")).await.unwrap();
    let waiting = store.enqueue_job(t, task("waiting")).await.unwrap();
    let claimed = store
        .claim_job("w", chrono::Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, ended.id);
    store
        .end_job(t, ended.id, "w", 1, JobEnd::Completed(json!({})))
        .await
        .unwrap()
        .unwrap();
    let now = chrono::Utc::now();
    assert_eq!(
        store
            .purge_finished_jobs(now - chrono::Duration::days(30), 100)
            .await
            .unwrap(),
        0,
        "ended just now: kept"
    );
    assert_eq!(
        store
            .purge_finished_jobs(now + chrono::Duration::seconds(1), 100)
            .await
            .unwrap(),
        1
    );
    assert!(store
        .get_job(t, JobKind::Task, ended.id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_job(t, JobKind::Task, waiting.id)
        .await
        .unwrap()
        .is_some());

    // The outbox keeps its events for the retention, then the sweep takes them.
    let events = store.outbox_events(t).await.unwrap().len();
    assert!(events >= 1, "the jobs wrote events");
    assert_eq!(
        store
            .purge_outbox(now - chrono::Duration::days(7), 100)
            .await
            .unwrap(),
        0,
        "recorded just now: kept"
    );
    let purged = store
        .purge_outbox(chrono::Utc::now() + chrono::Duration::seconds(1), 100)
        .await
        .unwrap();
    assert_eq!(purged as usize, events);
    assert!(store.outbox_events(t).await.unwrap().is_empty());
}
