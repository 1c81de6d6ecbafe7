//! The storage under runs: the Redis event stream, the session turn lease, run outcomes and usage.

use std::time::Duration;

use openclaw_domain::Tier;
use openclaw_store::redis::Redis;
use openclaw_store::{RunOutcome, SessionRefusal};
use openclaw_tests::{fresh_prefix, services, spawn_app};
use uuid::Uuid;

#[tokio::test]
async fn run_events_replay_in_order_after_a_given_id() {
    let url = services::get().await.redis_url.clone().expect("Redis");
    let redis = Redis::new(&url, &fresh_prefix(), Duration::from_millis(500)).unwrap();
    let run = Uuid::now_v7().simple().to_string();
    let first: Vec<(u64, String)> = (1..=2u64)
        .map(|seq| (seq, format!("{{\"n\":{seq}}}")))
        .collect();
    redis
        .append_run_events(&run, &first, 100, Duration::from_secs(60))
        .await
        .unwrap();
    redis
        .append_run_events(
            &run,
            &[(3, "{\"n\":3}".to_string())],
            100,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let all = redis.run_events_after(&run, 0, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(all[1].1, "{\"n\":2}");
    let rest = redis.run_events_after(&run, 2, 100).await.unwrap();
    assert_eq!(rest, vec![(3, "{\"n\":3}".to_string())]);
    assert!(redis
        .run_events_after("no-such-run", 0, 100)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn one_run_at_a_time_holds_a_sessions_turn_and_a_lapsed_lease_frees_it() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let tenant = t.id.parse().unwrap();
    let s = app
        .store
        .ensure_session(tenant, "default", Default::default())
        .await
        .unwrap()
        .unwrap();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let lease = chrono::Duration::seconds(30);
    assert!(app
        .store
        .try_take_turn(tenant, s.id, a, lease)
        .await
        .unwrap());
    assert!(!app
        .store
        .try_take_turn(tenant, s.id, b, lease)
        .await
        .unwrap());
    assert!(
        app.store
            .try_take_turn(tenant, s.id, a, lease)
            .await
            .unwrap(),
        "renewal by the holder"
    );
    app.store.release_turn(tenant, s.id, a).await.unwrap();
    assert!(app
        .store
        .try_take_turn(tenant, s.id, b, chrono::Duration::milliseconds(1))
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        app.store
            .try_take_turn(tenant, s.id, a, lease)
            .await
            .unwrap(),
        "a crashed holder's lease lapses"
    );
    assert_ne!(
        app.store
            .ensure_session(tenant, "default", Default::default())
            .await
            .unwrap(),
        Err(SessionRefusal::Expired)
    );
}

#[tokio::test]
async fn a_run_ends_once_and_counts_its_usage_once() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let tenant = t.id.parse().unwrap();
    let s = app
        .store
        .ensure_session(tenant, "default", Default::default())
        .await
        .unwrap()
        .unwrap();
    let run = Uuid::now_v7();
    app.store
        .create_run(tenant, run, s.id, "builtin/echo")
        .await
        .unwrap();
    let got = app.store.get_run(tenant, run).await.unwrap().unwrap();
    assert_eq!(
        (got.status.as_str(), got.session_key.as_str()),
        ("processing", "default")
    );
    let outcome = RunOutcome {
        status: "completed",
        input_tokens: 3,
        output_tokens: 5,
        ..Default::default()
    };
    assert!(app
        .store
        .finish_run(tenant, run, "builtin/echo", &outcome)
        .await
        .unwrap());
    let abort = RunOutcome {
        status: "cancelled",
        ..Default::default()
    };
    assert!(
        !app.store
            .finish_run(tenant, run, "builtin/echo", &abort)
            .await
            .unwrap(),
        "first outcome wins"
    );
    assert_eq!(
        app.store
            .get_run(tenant, run)
            .await
            .unwrap()
            .unwrap()
            .status,
        "completed"
    );
    let today = chrono::Utc::now().date_naive();
    let usage = app
        .store
        .usage(tenant, today, today.succ_opt().unwrap())
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (
            usage[0].requests,
            usage[0].input_tokens,
            usage[0].output_tokens
        ),
        (1, 3, 5)
    );
    // Another tenant sees neither the run nor the usage.
    let other: openclaw_domain::TenantId = app.create_tenant(Tier::Free).await.id.parse().unwrap();
    assert!(app.store.get_run(other, run).await.unwrap().is_none());
    assert!(app
        .store
        .usage(other, today, today.succ_opt().unwrap())
        .await
        .unwrap()
        .is_empty());
}
