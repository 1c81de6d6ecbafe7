//! End-to-end: the real `openclaw` binary — migrate, the operator CLI, `serve` as a separate
//! process, revocation announced from the CLI, and a clean exit on SIGTERM.

mod faults;
mod jobs;
mod runs;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openclaw_tests::process::{free_port, openclaw, openclaw_bin};
use openclaw_tests::{fresh_prefix, services, JWT_SECRET};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn the_binary_migrates_administers_serves_and_stops_on_sigterm() {
    let svc = services::get().await;
    let db = svc.fresh_database().await;
    let redis = svc.redis_url.clone().expect("Redis for end-to-end tests");
    let prefix = fresh_prefix();
    let dir = std::env::temp_dir().join(format!("openclaw-e2e-{}", uuid::Uuid::now_v7().simple()));
    let key_file = dir.join("dev-api-key");
    let key_file = key_file.to_str().unwrap();
    let app_db = svc.app_url(&db);
    let env = [
        ("OPENCLAW_MIGRATOR_URL", db.as_str()),
        ("DATABASE_URL", app_db.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("OPENCLAW_REDIS_PREFIX", prefix.as_str()),
        ("OPENCLAW_JWT_SECRET", JWT_SECRET),
        ("OPENCLAW_DEV_KEY_FILE", key_file),
    ];

    // Idempotent migrations.
    openclaw(&["migrate"], &env);
    openclaw(&["migrate"], &env);

    let tenant = json(&openclaw(
        &["tenant", "create", "--name", "acme", "--tier", "pro"],
        &env,
    ));
    let tenant_id = tenant["id"].as_str().unwrap().to_string();
    assert_eq!(tenant["tier"], "pro");
    let key = json(&openclaw(
        &[
            "api",
            "key",
            "generate",
            "--name",
            "production",
            "--tenant",
            &tenant_id,
        ],
        &env,
    ));
    let secret = key["key"].as_str().unwrap().to_string();
    let key_id = key["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("oc_api_sk_"));

    // The development key: created once, then the same key every time.
    let dev1 =
        String::from_utf8(openclaw(&["config", "get", "gateway.auth.token"], &env).stdout).unwrap();
    let dev2 =
        String::from_utf8(openclaw(&["config", "get", "gateway.auth.token"], &env).stdout).unwrap();
    assert!(dev1.trim().starts_with("oc_api_sk_"));
    assert_eq!(dev1, dev2);

    // A guessable operator token is refused at start.
    let refused = Command::new(openclaw_bin())
        .arg("serve")
        .envs(env)
        .env("OPENCLAW_ADMIN_TOKEN", "short")
        .env("OPENCLAW_PORT", "0")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("at least 32 characters"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // As the migrator (a superuser, which row security does not bind) serve and worker refuse
    // to start, unless the operator says it is development.
    for command in ["serve", "worker"] {
        let refused = Command::new(openclaw_bin())
            .arg(command)
            .envs(env)
            .env("DATABASE_URL", &db)
            .env("OPENCLAW_PORT", "0")
            .env("OPENCLAW_METRICS_PORT", "0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{command}: {stderr}");
        assert!(
            stderr.contains("is a superuser") && stderr.contains("OPENCLAW_ALLOW_RLS_BYPASS"),
            "{command}: {stderr}"
        );
    }
    let bypass_port = free_port();
    let mut bypassing = Command::new(openclaw_bin())
        .arg("serve")
        .envs(env)
        .env("DATABASE_URL", &db)
        .env("OPENCLAW_ALLOW_RLS_BYPASS", "true")
        .env("OPENCLAW_BIND", "127.0.0.1")
        .env("OPENCLAW_PORT", bypass_port.to_string())
        .env("OPENCLAW_METRICS_PORT", free_port().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while reqwest::get(format!("http://127.0.0.1:{bypass_port}/health"))
        .await
        .is_err()
    {
        assert!(
            bypassing.try_wait().unwrap().is_none(),
            "serve with OPENCLAW_ALLOW_RLS_BYPASS=true exited"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bypassing.kill().unwrap();
    bypassing.wait().unwrap();

    let port = free_port();
    let metrics_port = free_port();
    let mut server = Command::new(openclaw_bin())
        .arg("serve")
        .envs(env)
        .env("OPENCLAW_BIND", "127.0.0.1")
        .env("OPENCLAW_PORT", port.to_string())
        .env("OPENCLAW_METRICS_PORT", metrics_port.to_string())
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let status = |token: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .get(format!("{base}/v1/status"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status(secret.clone()).await, 200);
    assert_eq!(status(dev1.trim().to_string()).await, 200);

    let token = json(&openclaw(
        &["auth", "generate-token", "--tenant", &tenant_id],
        &env,
    ));
    assert_eq!(
        status(token["token"].as_str().unwrap().to_string()).await,
        200,
        "CLI tokens verify on the server"
    );

    // Revoked from the CLI, refused by the running server within a second (via Redis).
    openclaw(
        &["api", "key", "revoke", &key_id, "--tenant", &tenant_id],
        &env,
    );
    let revoked = Instant::now();
    while status(secret.clone()).await != 401 {
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "server still accepts a key revoked by the CLI"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let metrics = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("openclaw_http_requests_total"));

    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let stopped = Instant::now();
    let exit = loop {
        if let Some(code) = server.try_wait().unwrap() {
            break code;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(15),
            "server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let output = server.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(exit.success(), "exit {exit:?}; logs:\n{logs}");
    assert!(
        logs.contains("replica stopped"),
        "drained and said so:\n{logs}"
    );
    // JSON logs carry the request id and tenant of each request, and never a key.
    let request_line = logs
        .lines()
        .find(|l| l.contains("request finished") && l.contains("/v1/status"))
        .unwrap();
    let line: Value = serde_json::from_str(request_line).unwrap();
    let span = &line["span"];
    assert!(
        span["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("req_")),
        "{line}"
    );
    assert!(
        span["tenant_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("ten_")),
        "{line}"
    );
    assert!(!logs.contains(&secret), "keys never reach logs");
    let _ = std::fs::remove_dir_all(dir);
}
