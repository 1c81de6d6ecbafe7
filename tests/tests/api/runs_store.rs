//! The storage under runs: the Redis event stream, the session turn lease, run outcomes and usage.

use std::time::Duration;

use openclaw_domain::{RunStatus, Tier};
use openclaw_store::redis::Redis;
use openclaw_store::{
    BeginRun, FinishedRun, NewMessage, OutboxEvent, RunOutcome, Said, WriteBehind,
};
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

fn begin(run: Uuid, text: &str, lease: chrono::Duration) -> BeginRun {
    BeginRun {
        key: "default".into(),
        new_session: Uuid::now_v7(),
        channel: None,
        agent_id: None,
        run,
        model: Some("m".into()),
        default_model: "builtin/echo".into(),
        user: said(run, text),
        lease,
        history: 10,
        agent_run: true,
    }
}

#[tokio::test]
async fn one_run_at_a_time_holds_a_sessions_turn_and_a_lapsed_lease_frees_it() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let tenant = t.id.parse().unwrap();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let lease = chrono::Duration::seconds(30);
    let first = app
        .store
        .begin_run(tenant, &begin(a, "a", lease))
        .await
        .unwrap()
        .unwrap();
    assert!(first.took);
    assert_eq!(
        first.history,
        vec![Said {
            role: "user".into(),
            content: "a".into()
        }],
        "the history read with the turn ends with the user's message"
    );
    let session = first.session_id;
    let second = app
        .store
        .begin_run(tenant, &begin(b, "b", lease))
        .await
        .unwrap()
        .unwrap();
    assert!(!second.took, "a holds the turn");
    assert_eq!(second.session_id, session, "the same session, by key");
    assert!(app
        .store
        .take_turn(tenant, session, b, Some(said(b, "b")), lease, 10)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .store
        .renew_run(tenant, a, Some(session), lease)
        .await
        .unwrap());
    assert!(
        !app.store
            .renew_run(tenant, b, Some(session), lease)
            .await
            .unwrap(),
        "only the holder renews"
    );
    let done = RunOutcome {
        status: RunStatus::Completed,
        ..Default::default()
    };
    app.store
        .end_run(tenant, session, a, None, &done, &[])
        .await
        .unwrap();
    let history = app
        .store
        .take_turn(
            tenant,
            session,
            b,
            Some(said(b, "b")),
            chrono::Duration::milliseconds(1),
            10,
        )
        .await
        .unwrap()
        .expect("the turn is free again");
    assert_eq!(history.len(), 2);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let c = Uuid::now_v7();
    assert!(
        app.store
            .begin_run(tenant, &begin(c, "c", lease))
            .await
            .unwrap()
            .unwrap()
            .took,
        "a crashed holder's lease lapses"
    );
    // Each user message was recorded exactly when its run took the turn.
    let said: Vec<String> = app
        .store
        .recent_messages(tenant, session, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(said, vec!["a", "b", "c"]);
}

#[tokio::test]
async fn a_run_ends_once_with_its_reply_and_outbox_events() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let tenant = t.id.parse().unwrap();
    let run = Uuid::now_v7();
    let lease = chrono::Duration::seconds(30);
    let begun = app
        .store
        .begin_run(tenant, &begin(run, "hi", lease))
        .await
        .unwrap()
        .unwrap();
    let got = app.store.get_run(tenant, run).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.session_key.as_deref()),
        (RunStatus::Processing, Some("default"))
    );
    let outcome = RunOutcome {
        status: RunStatus::Completed,
        input_tokens: 3,
        output_tokens: 5,
        ..Default::default()
    };
    let reply = NewMessage {
        role: "assistant".into(),
        content: "hello".into(),
        ..Default::default()
    };
    let event = OutboxEvent {
        id: Uuid::now_v7(),
        event: "message.sent".into(),
        payload: serde_json::json!({"run": run}),
    };
    let (saved, ended) = app
        .store
        .end_run(
            tenant,
            begun.session_id,
            run,
            Some(reply),
            &outcome,
            std::slice::from_ref(&event),
        )
        .await
        .unwrap();
    assert!(ended);
    let abort = RunOutcome {
        status: RunStatus::Cancelled,
        ..Default::default()
    };
    let (again_saved, again) = app
        .store
        .end_run(tenant, begun.session_id, run, None, &abort, &[event])
        .await
        .unwrap();
    assert!(!again, "first outcome wins");
    assert!(again_saved.is_none());
    let got = app.store.get_run(tenant, run).await.unwrap().unwrap();
    assert_eq!(got.status, RunStatus::Completed);
    assert!(saved.is_some());
    assert_eq!(
        got.response_message_id, saved,
        "the reply is linked to its run"
    );
    let outbox: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event = 'message.sent'")
            .fetch_one(&app.sql)
            .await
            .unwrap();
    assert_eq!(outbox, 1, "written once, with the end that won");
    // Another tenant sees neither the run nor its session.
    let other: openclaw_domain::TenantId = app.create_tenant(Tier::Free).await.id.parse().unwrap();
    assert!(app.store.get_run(other, run).await.unwrap().is_none());
}

#[tokio::test]
async fn write_behind_folds_usage_per_tenant_day_and_model_and_records_stateless_runs() {
    let app = spawn_app().await;
    let tenant: openclaw_domain::TenantId = app.create_tenant(Tier::Free).await.id.parse().unwrap();
    let wb = WriteBehind::start(app.store.clone(), Default::default());
    let run = Uuid::now_v7();
    wb.push_run(FinishedRun {
        tenant,
        id: run,
        model: "builtin/echo".into(),
        message: "hello".into(),
        outcome: RunOutcome {
            status: RunStatus::Completed,
            response: Some("Echo: hello".into()),
            input_tokens: 2,
            output_tokens: 3,
            ..Default::default()
        },
        created_at: chrono::Utc::now(),
        finished_at: chrono::Utc::now(),
    });
    for _ in 0..3 {
        wb.add_usage(tenant, "builtin/echo", 2, 3);
    }
    wb.close().await;
    let got = app.store.get_run(tenant, run).await.unwrap().unwrap();
    assert_eq!(
        (
            got.status.as_str(),
            got.session_key,
            got.response.as_deref()
        ),
        ("completed", None, Some("Echo: hello"))
    );
    let usage = app.usage_today(&tenant.to_string()).await;
    assert_eq!(
        usage
            .iter()
            .map(|u| (
                u.model.as_str(),
                u.requests,
                u.input_tokens,
                u.output_tokens
            ))
            .collect::<Vec<_>>(),
        vec![("builtin/echo", 3, 6, 9)],
        "three runs, one row"
    );
    let other: openclaw_domain::TenantId = app.create_tenant(Tier::Free).await.id.parse().unwrap();
    assert!(app.usage_today(&other.to_string()).await.is_empty());
    assert!(app.store.get_run(other, run).await.unwrap().is_none());
}

#[tokio::test]
async fn the_sweep_ends_runs_whose_lease_lapsed_and_frees_their_turn() {
    let app = spawn_app().await;
    let tenant: openclaw_domain::TenantId = app.create_tenant(Tier::Free).await.id.parse().unwrap();
    let (lost, alive) = (Uuid::now_v7(), Uuid::now_v7());
    let begun = app
        .store
        .begin_run(tenant, &begin(lost, "a", chrono::Duration::milliseconds(1)))
        .await
        .unwrap()
        .unwrap();
    let mut other_session = begin(alive, "b", chrono::Duration::seconds(30));
    other_session.key = "other".into();
    app.store
        .begin_run(tenant, &other_session)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let swept = app.store.sweep_runs(100).await.unwrap();
    assert_eq!(swept.iter().map(|o| o.id).collect::<Vec<_>>(), vec![lost]);
    let got = app.store.get_run(tenant, lost).await.unwrap().unwrap();
    assert_eq!(got.status, RunStatus::Failed);
    assert_eq!(got.error.unwrap()["code"], "internal_error");
    assert_eq!(
        app.store
            .get_run(tenant, alive)
            .await
            .unwrap()
            .unwrap()
            .status,
        RunStatus::Processing
    );
    assert!(
        app.store
            .take_turn(
                tenant,
                begun.session_id,
                Uuid::now_v7(),
                None,
                chrono::Duration::seconds(30),
                1
            )
            .await
            .unwrap()
            .is_some(),
        "the lost run's turn is free"
    );
    assert!(app.store.sweep_runs(100).await.unwrap().is_empty());
}
