//! The `mock-llm` binary: flags, the listening line, and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::helpers::{chat, client};

#[tokio::test]
async fn binary_serves_and_exits_cleanly_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-llm"))
        .args(["--port", "0", "--chunks", "2", "--no-record"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("mock-llm listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let mut request = chat("one two three");
    request["stream"] = serde_json::json!(true);
    let text = client()
        .post(format!("{base}/v1/chat/completions"))
        .json(&request)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let contents = text.matches(r#""content":""#).count() - 1; // minus the role chunk
    assert_eq!(contents, 2, "--chunks 2 splits the reply in two: {text}");
    let recorded: Value = client()
        .get(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(recorded, serde_json::json!([]), "--no-record keeps nothing");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}
