//! What seed_s1, seed_s3 and seed_s4 share: the app as the seeds' examples need it, and running
//! the example scripts of `tests/seeds/` (Python through `tests/python/run.sh`, Node through
//! `tests/seeds/node.sh`).
//!
//! The upstream is mock-llm, as OpenAI and as Anthropic. The seeds name `claude-3-5-sonnet`
//! (S3) and `anthropic/claude-3-5-sonnet` (S4), which mock-llm's Anthropic model list lacks, and
//! a deployment refuses a model its upstream does not list (once it has the list). So Anthropic
//! is reached through a small front that lists that model and passes every other request on to
//! the mock: a deployment whose upstream serves the seeds' models.

use std::time::Duration;

use openclaw_mock_llm::MockLlm;
use openclaw_tests::front::listing_front;
use openclaw_tests::{openai_and_anthropic, spawn_with, AppOptions, TestApp};
use serde_json::json;

/// How long one script may take (the first Python run creates the venv, the first Node run
/// installs `ws`).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

pub struct SeedApp {
    pub mock: MockLlm,
    pub app: TestApp,
    front: tokio::task::JoinHandle<()>,
}

impl Drop for SeedApp {
    fn drop(&mut self) {
        self.front.abort();
    }
}

/// The app with a worker, mock-llm as its upstream (default model `openai/mock-1`).
pub async fn seed_app() -> SeedApp {
    seed_app_with(|_| {}).await
}

pub async fn seed_app_with(
    configure: impl FnOnce(&mut openclaw_api::Config) + Send + 'static,
) -> SeedApp {
    let mock = MockLlm::start().await;
    let (front, front_url) = anthropic_front(mock.base_url()).await;
    let providers = openai_and_anthropic(format!("{}/v1", mock.base_url()), front_url);
    let app = spawn_with(AppOptions {
        providers: Some(providers),
        configure: Box::new(configure),
        ..Default::default()
    })
    .await;
    SeedApp { mock, app, front }
}

/// An Anthropic upstream that lists `claude-3-5-sonnet` and passes everything else to `mock`.
async fn anthropic_front(mock: String) -> (tokio::task::JoinHandle<()>, String) {
    let listing = json!({
        "data": [{"type": "model", "id": "claude-3-5-sonnet", "display_name": "Claude 3.5 Sonnet",
                  "created_at": "2024-10-22T00:00:00Z"}],
        "has_more": false, "first_id": "claude-3-5-sonnet", "last_id": "claude-3-5-sonnet",
    });
    let (task, addr) = listing_front(mock, listing).await;
    (task, format!("http://{addr}"))
}

/// `tests/seeds/NAME`.
pub fn seed_file(name: &str) -> String {
    format!("{}/seeds/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// What a script printed, once it has exited 0 and said `seed SEED SECTION: ok`.
pub struct Output {
    pub stdout: String,
}

async fn run(mut cmd: tokio::process::Command, what: &str, ok_line: &str) -> Output {
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, cmd.kill_on_drop(true).output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {SCRIPT_TIMEOUT:?}"))
        .expect("bash runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success() && stdout.lines().any(|l| l.starts_with(ok_line)),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // Open known gaps are listed in the output, for whoever reads the test log.
    for line in stdout.lines().filter(|l| l.starts_with("KNOWN_GAP")) {
        eprintln!("{what}: {line}");
    }
    Output { stdout }
}

impl SeedApp {
    /// Runs `tests/seeds/SCRIPT BASE_URL KEY SECTION` with the test venv's Python, with the
    /// mock's URL and `env` in its environment.
    pub async fn python(
        &self,
        script: &str,
        key: &str,
        section: &str,
        env: &[(&str, &str)],
    ) -> Output {
        let seed = script.trim_end_matches(".py");
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/run.sh"))
            .args([self.app.base.as_str(), key, section])
            .env("OPENCLAW_PY_SCRIPT", seed_file(script))
            .env("OPENCLAW_MOCK_URL", self.mock.base_url())
            .envs(env.iter().copied());
        run(
            cmd,
            &format!("{script} {section}"),
            &format!("seed {seed} {section}: ok"),
        )
        .await
    }

    /// Runs `node tests/seeds/SCRIPT SECTION` with the pinned npm packages, with the app's and
    /// the mock's URLs, `key` and `env` in its environment.
    pub async fn node(
        &self,
        script: &str,
        key: &str,
        section: &str,
        env: &[(&str, &str)],
    ) -> Output {
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg(seed_file("node.sh"))
            .args([seed_file(script).as_str(), section])
            .env("OPENCLAW_BASE_URL", &self.app.base)
            .env("OPENCLAW_WS_URL", self.app.ws_url(""))
            .env("OPENCLAW_API_KEY", key)
            .env("OPENCLAW_MOCK_URL", self.mock.base_url())
            .envs(env.iter().copied());
        let seed = script.split('_').next().unwrap_or(script);
        run(
            cmd,
            &format!("{script} {section}"),
            &format!("seed {seed} ws {section}: ok"),
        )
        .await
    }
}
