//! Real processes for end-to-end tests: the `openclaw` binary, built if the test run has not.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Path of the `openclaw` binary of this build (in the same target profile directory),
/// brought up to date first: `cargo test -p openclaw-tests` alone does not rebuild other
/// packages' binaries, and a stale one would run old migrations against a new schema.
pub fn openclaw_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // Test executables live in `target/<profile>/deps`, binaries in `target/<profile>`.
        let mut dir = exe.parent().expect("executable dir").to_path_buf();
        if dir.file_name().is_some_and(|n| n == "deps") {
            dir.pop();
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-q", "-p", "openclaw"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo");
        assert!(status.success(), "building the openclaw binary failed");
        dir.join("openclaw")
    })
    .clone()
}

/// Runs `openclaw ARGS` with `env`, returning its output; panics with stderr on failure. The
/// database URLs come from `env` only: inherited ones (the developer's `make run` database)
/// must never be what a test migrates or writes.
pub fn openclaw(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(openclaw_bin())
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("OPENCLAW_MIGRATOR_URL")
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .expect("spawn openclaw");
    assert!(
        out.status.success(),
        "openclaw {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// A tenant made through the CLI, with one key (returned), whose rate and concurrency limits
/// a load test or a fast-polling test will not reach: those limits are tested elsewhere.
pub fn unthrottled_tenant_key(env: &[(&str, &str)], tier: &str) -> String {
    let field = |out: Output, name: &str| {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("CLI prints JSON");
        v[name].as_str().expect("CLI output field").to_string()
    };
    let id = field(
        openclaw(&["tenant", "create", "--name", "load", "--tier", tier], env),
        "id",
    );
    openclaw(
        &[
            "tenant",
            "update",
            &id,
            "--requests-per-hour",
            "1000000000",
            "--burst",
            "1000000",
            "--concurrent-requests",
            "1000000",
        ],
        env,
    );
    field(
        openclaw(&["api", "key", "generate", "--tenant", &id], env),
        "key",
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Path of a workspace binary built next to `openclaw` (e.g. `mock-llm`), built if needed.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    let dir = openclaw_bin().parent().expect("target dir").to_path_buf();
    let path = dir.join(bin);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-q", "-p", package, "--bin", bin]);
    if dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    assert!(
        build.status().expect("run cargo").success(),
        "building {bin} failed"
    );
    path
}

/// A child process killed when dropped, so a failing test or bench leaves nothing running.
pub struct Child(pub std::process::Child);

impl Child {
    pub fn spawn(cmd: &mut Command) -> Child {
        Child(cmd.spawn().expect("spawn child process"))
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Resident memory in KiB, from /proc (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `mock-llm` binary with `args` (not recording requests), returning it and its base
/// URL once it answers.
pub async fn spawn_mock_llm(args: &[&str]) -> (Child, String) {
    let port = free_port();
    let child = Child::spawn(
        Command::new(workspace_bin("openclaw-mock-llm", "mock-llm"))
            .args(["--port", &port.to_string(), "--no-record"])
            .args(args)
            .stdout(std::process::Stdio::null()),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{base}/v1/models")).await;
    (child, base)
}

/// Starts `openclaw serve` on free ports with `env`, and mock-llm at `upstream` as its OpenAI
/// provider and default model when given; returns it and its base URL once it answers. Logs
/// only warnings, and not sqlx's slow-statement and slow-acquire ones: expected under a
/// benchmark's load on a small machine, a line each would bury the figures.
pub async fn spawn_gateway(env: &[(&str, &str)], upstream: Option<&str>) -> (Child, String) {
    let port = free_port();
    let mut cmd = Command::new(openclaw_bin());
    cmd.arg("serve")
        .env("OPENCLAW_BIND", "127.0.0.1")
        .env("OPENCLAW_PORT", port.to_string())
        .env("OPENCLAW_METRICS_PORT", free_port().to_string())
        .env(
            "RUST_LOG",
            "warn,sqlx::query=error,sqlx::pool::acquire=error",
        )
        .stdout(std::process::Stdio::null());
    if let Some(upstream) = upstream {
        cmd.env("OPENAI_BASE_URL", format!("{upstream}/v1"))
            .env("OPENAI_API_KEY", "sk-bench")
            .env("OPENCLAW_DEFAULT_MODEL", "openai/mock-1");
    }
    let child = Child::spawn(cmd.envs(env.iter().copied()));
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{base}/health")).await;
    (child, base)
}

/// Waits (bounded) until `url` answers at all.
pub async fn wait_until_up(url: &str) {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client.get(url).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{url} did not come up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Sends `signal` (`-TERM`, `-KILL`) to `child`.
pub fn kill(child: &Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {signal} failed");
}

/// Waits (bounded) for `child` to exit; its status and whatever it wrote to a piped stderr.
pub async fn exit_of(child: &mut Child, within: Duration) -> (std::process::ExitStatus, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < within,
            "process did not exit within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut logs = String::new();
    if let Some(mut err) = child.0.stderr.take() {
        use std::io::Read;
        let _ = err.read_to_string(&mut logs);
    }
    (status, logs)
}
