//! `/v1/chat/completions` and `/v1/models` in the OpenAI wire format.

use openclaw_mock_llm::{MockLlm, Script, ToolCall};
use serde_json::{json, Value};

use crate::helpers::{chat, client, post, post_json, stream_events};

const PATH: &str = "/v1/chat/completions";

fn weather_call() -> ToolCall {
    ToolCall {
        id: "call_1".into(),
        name: "get_weather".into(),
        arguments: json!({"city": "Paris", "unit": "celsius"}),
    }
}

#[tokio::test]
async fn non_stream_echoes_the_last_user_message_with_word_usage() {
    let mock = MockLlm::start().await;
    let request = json!({
        "model": "gpt-4o",
        "max_tokens": 50,
        "some_future_field": {"ignored": true},
        "messages": [
            {"role": "system", "content": "You are terse"},
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": [{"type": "text", "text": "What is up"},
                                         {"type": "image_url", "image_url": {"url": "data:x"}}]}
        ]
    });
    let (status, body) = post_json(&mock, PATH, &request).await;
    assert_eq!(status, 200);
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(body["model"], "gpt-4o");
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "mock: What is up");
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13})
    );
}

#[tokio::test]
async fn stream_sends_role_content_finish_usage_then_done() {
    let mock = MockLlm::start().await;
    let mut request = chat("one two three");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let events = stream_events(&mock, PATH, &request).await;

    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    for chunk in &chunks {
        assert_eq!(chunk["id"], id);
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "mock-1");
    }

    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    let (finish_chunk, rest) = rest.split_last().unwrap();
    let contents: Vec<&str> = rest[1..]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["mock:", " one", " two", " three"]);
    for chunk in rest {
        assert_eq!(chunk["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(chunk["usage"], Value::Null);
    }
    assert_eq!(finish_chunk["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish_chunk["choices"][0]["delta"], json!({}));
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(
        usage_chunk["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})
    );
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_chunk() {
    let mock = MockLlm::start().await;
    let mut request = chat("hi");
    request["stream"] = json!(true);
    let events = stream_events(&mock, PATH, &request).await;
    // role, "mock:", " hi", finish, [DONE]
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| !e.data.contains("usage")));
    assert_eq!(events[3].json()["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn scripted_tool_call_sends_arguments_as_a_json_string() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        tool_calls: vec![weather_call()],
        ..Script::default()
    });
    let (status, body) = post_json(&mock, PATH, &chat("weather?")).await;
    assert_eq!(status, 200);
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_1");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments = call["function"]["arguments"].as_str().expect("a string");
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap(),
        json!({"city": "Paris", "unit": "celsius"})
    );
}

#[tokio::test]
async fn streamed_tool_call_reassembles_from_deltas() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        text: Some("Let me check.".into()),
        tool_calls: vec![weather_call()],
        chunks: Some(3),
        ..Script::default()
    });
    let mut request = chat("weather?");
    request["stream"] = json!(true);
    let events = stream_events(&mock, PATH, &request).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");

    let mut text = String::new();
    let mut header = None;
    let mut arguments = String::new();
    let mut argument_deltas = 0;
    let mut finish = None;
    for event in &events[..events.len() - 1] {
        let choice = &event.json()["choices"][0];
        let delta = &choice["delta"];
        if let Some(piece) = delta["content"].as_str() {
            text.push_str(piece);
        }
        if let Some(call) = delta["tool_calls"].get(0) {
            assert_eq!(call["index"], 0);
            if call.get("id").is_some() {
                assert!(header.is_none(), "id and name are sent once");
                header = Some((
                    call["id"].clone(),
                    call["type"].clone(),
                    call["function"]["name"].clone(),
                ));
            } else {
                argument_deltas += 1;
            }
            arguments.push_str(call["function"]["arguments"].as_str().unwrap());
        }
        if !choice["finish_reason"].is_null() {
            finish = Some(choice["finish_reason"].clone());
        }
    }
    assert_eq!(text, "Let me check.");
    assert_eq!(
        header,
        Some((json!("call_1"), json!("function"), json!("get_weather")))
    );
    assert_eq!(argument_deltas, 3);
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "Paris", "unit": "celsius"})
    );
    assert_eq!(finish, Some(json!("tool_calls")));
}

#[tokio::test]
async fn scripted_429_has_retry_after_and_an_openai_error_body() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        status: Some(429),
        error_message: Some("slow down".into()),
        retry_after_secs: Some(7),
        ..Script::default()
    });
    let response = post(&mock, PATH, &chat("hi")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"message": "slow down", "type": "requests", "param": null,
                         "code": "rate_limit_exceeded"}})
    );
}

#[tokio::test]
async fn malformed_body_gets_a_400_in_openai_shape() {
    let mock = MockLlm::start().await;
    let response = client()
        .post(format!("{}{PATH}", mock.base_url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("request body"));
}

#[tokio::test]
async fn models_lists_mock_and_familiar_names() {
    let mock = MockLlm::start().await;
    let body: Value = client()
        .get(format!("{}/v1/models", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"mock-1") && ids.contains(&"gpt-4o"),
        "{ids:?}"
    );
}
