//! Shared test plumbing: a client, request shorthands and an SSE reader strict enough to
//! notice a malformed frame.

use std::time::{Duration, Instant};

use openclaw_mock_llm::MockLlm;
use serde_json::Value;

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub async fn post(mock: &MockLlm, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", mock.base_url()))
        .json(body)
        .send()
        .await
        .expect("request reaches the mock")
}

pub async fn post_json(mock: &MockLlm, path: &str, body: &Value) -> (u16, Value) {
    let response = post(mock, path, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

pub fn chat(text: &str) -> Value {
    serde_json::json!({"model": "mock-1", "messages": [{"role": "user", "content": text}]})
}

#[derive(Debug)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

/// Splits a complete SSE body into events; every event must end with a blank line.
pub fn parse_sse(body: &str) -> Vec<Event> {
    assert!(body.ends_with("\n\n"), "stream ends mid-event: {body:?}");
    body.trim_end_matches('\n')
        .split("\n\n")
        .map(|block| {
            let mut event = Event {
                name: None,
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event.name = Some(name.to_owned());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    event.data = data.to_owned();
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            event
        })
        .collect()
}

pub async fn stream_events(mock: &MockLlm, path: &str, body: &Value) -> Vec<Event> {
    let response = post(mock, path, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "streams are SSE"
    );
    parse_sse(&response.text().await.expect("the stream completes"))
}

/// What a client received of a body, each read with its arrival time, and how the body ended.
pub struct Received {
    pub reads: Vec<(Duration, Vec<u8>)>,
    pub error: Option<reqwest::Error>,
}

impl Received {
    pub fn text(&self) -> String {
        let bytes: Vec<u8> = self.reads.iter().flat_map(|(_, b)| b.clone()).collect();
        String::from_utf8(bytes).expect("UTF-8 body")
    }
}

pub async fn read_body(mut response: reqwest::Response, started: Instant) -> Received {
    let mut reads = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => reads.push((started.elapsed(), bytes.to_vec())),
            Ok(None) => return Received { reads, error: None },
            Err(error) => {
                return Received {
                    reads,
                    error: Some(error),
                }
            }
        }
    }
}
