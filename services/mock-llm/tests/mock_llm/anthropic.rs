//! `/v1/messages` in the Anthropic wire format.

use openclaw_mock_llm::{MockLlm, Script, ToolCall, Usage};
use serde_json::{json, Value};

use crate::helpers::{post, post_json, stream_events};

const PATH: &str = "/v1/messages";

fn request(text: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "system": "Be brief",
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]
    })
}

fn lookup_call() -> ToolCall {
    ToolCall {
        id: "toolu_1".into(),
        name: "lookup".into(),
        arguments: json!({"query": "rust sse", "limit": 3}),
    }
}

#[tokio::test]
async fn non_stream_echoes_with_usage_counting_the_system_prompt() {
    let mock = MockLlm::start().await;
    let (status, body) = post_json(&mock, PATH, &request("Hi Claude")).await;
    assert_eq!(status, 200);
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "mock: Hi Claude"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 4, "output_tokens": 3})
    );
}

#[tokio::test]
async fn stream_sends_events_in_anthropic_order() {
    let mock = MockLlm::start().await;
    let mut body = request("one two");
    body["stream"] = json!(true);
    let events = stream_events(&mock, PATH, &body).await;

    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    for event in &events {
        assert_eq!(event.json()["type"], event.name.as_deref().unwrap());
    }
    let start = events[0].json();
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["usage"]["input_tokens"], 4);
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events[3..6]
        .iter()
        .map(|e| {
            let delta = e.json()["delta"].clone();
            assert_eq!(delta["type"], "text_delta");
            delta["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "mock: one two");
    let message_delta = events[7].json();
    assert_eq!(message_delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(message_delta["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn scripted_tool_use_has_an_input_object() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        tool_calls: vec![lookup_call()],
        usage: Some(Usage {
            input_tokens: 11,
            output_tokens: 22,
        }),
        ..Script::default()
    });
    let (status, body) = post_json(&mock, PATH, &request("find it")).await;
    assert_eq!(status, 200);
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(
        body["content"],
        json!([{"type": "tool_use", "id": "toolu_1", "name": "lookup",
                "input": {"query": "rust sse", "limit": 3}}])
    );
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 11, "output_tokens": 22})
    );
}

#[tokio::test]
async fn streamed_tool_use_sends_input_json_deltas() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        text: Some("Looking.".into()),
        tool_calls: vec![lookup_call()],
        chunks: Some(4),
        ..Script::default()
    });
    let mut body = request("find it");
    body["stream"] = json!(true);
    let events = stream_events(&mock, PATH, &body).await;

    let tool_start = events
        .iter()
        .map(|e| e.json())
        .find(|e| e["type"] == "content_block_start" && e["content_block"]["type"] == "tool_use")
        .expect("a tool_use block");
    assert_eq!(tool_start["index"], 1);
    assert_eq!(
        tool_start["content_block"],
        json!({"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}})
    );
    let partial: Vec<String> = events
        .iter()
        .map(|e| e.json())
        .filter(|e| e["delta"]["type"] == "input_json_delta")
        .map(|e| {
            assert_eq!(e["index"], 1);
            e["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(partial.len(), 4);
    assert_eq!(
        serde_json::from_str::<Value>(&partial.concat()).unwrap(),
        json!({"query": "rust sse", "limit": 3})
    );
    let stops = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_stop"))
        .count();
    assert_eq!(stops, 2);
    let message_delta = events[events.len() - 2].json();
    assert_eq!(message_delta["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn scripted_errors_use_the_anthropic_shape() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        status: Some(429),
        error_message: Some("slow down".into()),
        retry_after_secs: Some(3),
        ..Script::default()
    });
    mock.push(Script {
        status: Some(529),
        ..Script::default()
    });

    let response = post(&mock, PATH, &request("hi")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    );

    let response = post(&mock, PATH, &request("hi")).await;
    assert_eq!(response.status(), 529);
    assert!(response.headers().get("retry-after").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn scripted_thinking_comes_first_signed_in_both_modes() {
    use openclaw_mock_llm::THINKING_SIGNATURE;
    let mock = MockLlm::start().await;
    let script = || Script {
        thinking: Some("Let me think.".into()),
        tool_calls: vec![lookup_call()],
        ..Script::default()
    };
    mock.push(script());
    let (status, body) = post_json(&mock, PATH, &request("find it")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["content"][0],
        json!({"type": "thinking", "thinking": "Let me think.", "signature": THINKING_SIGNATURE})
    );
    assert_eq!(body["content"][1]["type"], "tool_use");

    mock.push(script());
    let mut body = request("find it");
    body["stream"] = json!(true);
    let events: Vec<Value> = stream_events(&mock, PATH, &body)
        .await
        .iter()
        .map(|e| e.json())
        .collect();
    assert_eq!(
        events[1]["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "content_block_delta" && e["index"] == 0)
        .map(|e| &e["delta"])
        .collect();
    assert_eq!(
        deltas,
        [
            &json!({"type": "thinking_delta", "thinking": "Let me think."}),
            &json!({"type": "signature_delta", "signature": THINKING_SIGNATURE}),
        ]
    );
    let tool_start = events
        .iter()
        .find(|e| e["type"] == "content_block_start" && e["content_block"]["type"] == "tool_use")
        .expect("a tool_use block");
    assert_eq!(tool_start["index"], 1);
}
