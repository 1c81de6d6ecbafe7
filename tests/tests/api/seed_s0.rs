//! Seed S0 (seeds/000_…, "OpenClaw API 集成指南", `/api/v1` with `{"success":true,"data":…}`):
//! its examples replayed verbatim by tests/seeds/s0.py — the curl blocks with bash and curl, the
//! JavaScript and the HTML chat page's script with Node, the request bodies as the seed writes
//! them — with only the host and `YOUR_TOKEN` replaced. The model is a mock-llm answering with
//! the seed's own response examples ("你好!我是泡泡龙...", 20/100 tokens, 春 眠 不 觉 晓), and
//! the `weather` skill asks a stand-in for Open-Meteo. Checks the server does not pass yet are
//! listed in s0.py's `KNOWN_GAP`; one that starts passing fails the run until it is removed.
//!
//! Not replayed here (later issues):
//! - the SDKs: "JavaScript SDK" (`npm install openclaw-sdk`, `require('openclaw-sdk')`,
//!   `client.message.send` / `client.message.stream`), "Python SDK" (`pip install openclaw-sdk`,
//!   `from openclaw import OpenClaw`, `client.message.send`, `client.memory.search`), and
//!   "🛡️ 安全最佳实践 › 错误处理" (`client.message.send` in a try/catch);
//! - "🔧 配置 API": `curl http://localhost:18789/api/v1/config/gateway` and its response;
//! - "🛡️ 安全最佳实践 › Token 管理": advice, not a call (`process.env.OPENCLAW_TOKEN` versus a
//!   hard-coded `'sk-123456'`; it declares `token` twice, so it does not run as one script).

use openclaw_tests::JWT_SECRET;

use crate::seed_replay::seed_app;

/// 快速示例, 使用 Token, 完整示例 and the cURL 示例集合 (send, stream, sessions, memory search,
/// status), run by bash and curl as written.
#[tokio::test]
async fn s0_curl_blocks_work_unchanged() {
    let s = seed_app().await;
    s.run("s0.py", "curl", &[]).await;
}

/// 获取 Token: `openclaw config get gateway.auth.token` and `openclaw auth generate-token` run as
/// written against the server's database; 使用 Token's curl works with what each prints.
#[tokio::test]
async fn s0_cli_token_lines_print_credentials_the_api_accepts() {
    let bin = tokio::task::spawn_blocking(openclaw_tests::process::openclaw_bin)
        .await
        .unwrap();
    let s = seed_app().await;
    let key_file = std::env::temp_dir().join(format!(
        "openclaw-s0-dev-key-{}",
        uuid::Uuid::now_v7().simple()
    ));
    s.run(
        "s0.py",
        "cli",
        &[
            ("OPENCLAW_BIN", bin.display().to_string()),
            ("DATABASE_URL", s.app.database_url.clone()),
            // The servers' setting: the test app's one signing key, kid `test`.
            ("OPENCLAW_JWT_SECRET", format!("test:{JWT_SECRET}")),
            ("OPENCLAW_DEV_KEY_FILE", key_file.display().to_string()),
        ],
    )
    .await;
    let _ = std::fs::remove_file(key_file);
}

/// 使用 Token's `fetch` of the status and 流式响应's stream reader, run by Node as written.
#[tokio::test]
async fn s0_javascript_examples_work_unchanged_in_node() {
    let s = seed_app().await;
    s.run("s0.py", "javascript", &[]).await;
}

/// The HTML 聊天界面's script, run by Node with a fake `document`: the user's message and the
/// model's `data.data.text` appear in the chat.
#[tokio::test]
async fn s0_html_chat_page_shows_the_answer() {
    let s = seed_app().await;
    s.run("s0.py", "html", &[]).await;
}

/// The request and response examples of 消息 (with `model`), 流式响应, 会话 (create, list,
/// delete), 记忆 (add, search with `minScore`), 技能 (list, execute `weather`) and 状态.
#[tokio::test]
async fn s0_request_and_response_examples_match() {
    let s = seed_app().await;
    s.run("s0.py", "endpoints", &[]).await;
}

/// API 错误码: 401, 403, 404, 400 and 429, each in S0's envelope with `success: false`.
#[tokio::test]
async fn s0_error_codes_are_answered_as_listed() {
    let s = seed_app().await;
    let env = [
        (
            "OPENCLAW_KEY_NO_MESSAGES",
            s.key_with_scopes(&["sessions"]).await,
        ),
        ("OPENCLAW_KEY_THROTTLED", s.throttled_key().await),
    ];
    s.run("s0.py", "errors", &env).await;
}
