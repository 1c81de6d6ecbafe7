//! The storage under runs: the Redis event stream, the session turn lease, run outcomes and usage.

use std::time::Duration;

use openclaw_domain::Tier;
use openclaw_store::redis::Redis;
use openclaw_store::{NewMessage, RunOutcome};
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

fn said(run: Uuid, text: &str) -> NewMessage {
    NewMessage {
        role: "user".into(),
        content: text.into(),
        run_id: Some(run),
        ..Default::default()
    }
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
        .begin_run(tenant, s.id, a, "m", said(a, "a"), lease)
        .await
        .unwrap());
    assert!(
        !app.store
            .begin_run(tenant, s.id, b, "m", said(b, "b"), lease)
            .await
            .unwrap(),
        "a holds the turn"
    );
    assert!(!app
        .store
        .take_turn(tenant, s.id, b, Some(said(b, "b")), lease)
        .await
        .unwrap());
    assert!(app.store.renew_turn(tenant, s.id, a, lease).await.unwrap());
    assert!(
        !app.store.renew_turn(tenant, s.id, b, lease).await.unwrap(),
        "only the holder renews"
    );
    let done = RunOutcome {
        status: "completed",
        ..Default::default()
    };
    app.store
        .end_run(tenant, s.id, a, "m", None, &done)
        .await
        .unwrap();
    assert!(app
        .store
        .take_turn(
            tenant,
            s.id,
            b,
            Some(said(b, "b")),
            chrono::Duration::milliseconds(1)
        )
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let c = Uuid::now_v7();
    assert!(
        app.store
            .begin_run(tenant, s.id, c, "m", said(c, "c"), lease)
            .await
            .unwrap(),
        "a crashed holder's lease lapses"
    );
    // Each user message was recorded exactly when its run took the turn.
    let said: Vec<String> = app
        .store
        .recent_messages(tenant, s.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(said, vec!["a", "b", "c"]);
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
    let lease = chrono::Duration::seconds(30);
    app.store
        .begin_run(tenant, s.id, run, "builtin/echo", said(run, "hi"), lease)
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
    let reply = NewMessage {
        role: "assistant".into(),
        content: "hello".into(),
        ..Default::default()
    };
    let (saved, ended) = app
        .store
        .end_run(tenant, s.id, run, "builtin/echo", Some(reply), &outcome)
        .await
        .unwrap();
    assert!(ended);
    let abort = RunOutcome {
        status: "cancelled",
        ..Default::default()
    };
    let (_, again) = app
        .store
        .end_run(tenant, s.id, run, "builtin/echo", None, &abort)
        .await
        .unwrap();
    assert!(!again, "first outcome wins");
    let got = app.store.get_run(tenant, run).await.unwrap().unwrap();
    assert_eq!(got.status, "completed");
    assert_eq!(
        got.response_message_id,
        saved.map(|m| m.id),
        "the reply is linked to its run"
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
