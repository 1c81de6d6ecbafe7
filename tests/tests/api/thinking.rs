//! S4's `options.thinking` as the upstream receives it: `reasoning_effort` for OpenAI's
//! reasoning models, an extended-thinking budget for Claude models that have one (with the
//! signed thinking blocks sent back within a tool loop), nothing for other models.

use openclaw_domain::Tier;
use openclaw_mock_llm::{MockLlm, RecordedRequest, Script, ToolCall, THINKING_SIGNATURE};
use openclaw_tests::sse::read_all;
use openclaw_tests::{
    expect_error, openai_and_anthropic, spawn_with, AppOptions, TestApp, TestTenant,
};
use serde_json::{json, Value};

/// An app with both an OpenAI-compatible and an Anthropic upstream, each the mock.
async fn app_with(mock: &MockLlm) -> TestApp {
    let providers = openai_and_anthropic(format!("{}/v1", mock.base_url()), mock.base_url());
    spawn_with(AppOptions {
        providers: Some(providers),
        ..Default::default()
    })
    .await
}

/// `POST /v1/agent/run` with `options`; the one upstream request it made.
async fn run(app: &TestApp, mock: &MockLlm, t: &TestTenant, options: Value) -> RecordedRequest {
    mock.clear_requests();
    let resp = app
        .post_json(
            "/v1/agent/run",
            &t.key,
            &json!({"message": "Hello, AI!", "options": options}),
        )
        .await;
    assert_eq!(
        resp.status(),
        200,
        "{options}: {}",
        resp.text().await.unwrap()
    );
    let sent = mock.requests();
    assert_eq!(sent.len(), 1, "{options}");
    sent.into_iter().next().unwrap()
}

#[tokio::test]
async fn s4_thinking_becomes_the_upstreams_reasoning_setting() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;

    // S4's example, on an OpenAI reasoning model.
    let resp = app
        .post_json(
            "/v1/agent/run",
            &t.key,
            &json!({"message": "Hello, AI!", "sessionKey": "session-123", "agentId": "default",
                    "options": {"thinking": "medium", "model": "openai/o3-mini"}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["sessionKey"], "session-123");
    assert_eq!(r["response"], "mock: Hello, AI!");
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[0].body["model"], "o3-mini");
    assert_eq!(
        sent[0].body["reasoning_effort"], "medium",
        "{}",
        sent[0].body
    );

    // The o-series cannot stop reasoning: `off` leaves their default; `minimal` is their `low`.
    let off = run(
        &app,
        &mock,
        &t,
        json!({"thinking": "off", "model": "openai/o3-mini"}),
    )
    .await;
    assert!(off.body.get("reasoning_effort").is_none(), "{}", off.body);
    let minimal = run(
        &app,
        &mock,
        &t,
        json!({"thinking": "minimal", "model": "openai/o3-mini"}),
    )
    .await;
    assert_eq!(minimal.body["reasoning_effort"], "low");

    // GPT-5 goes as low as `minimal`, on the streaming route too.
    mock.clear_requests();
    let resp = app
        .post("/v1/agent/run/stream")
        .bearer_auth(&t.key)
        .json(&json!({"message": "Hello, AI!", "options": {"thinking": "off", "model": "openai/gpt-5"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = read_all(resp).await;
    assert_eq!(events.last().unwrap().event.as_deref(), Some("done"));
    assert_eq!(mock.requests()[0].body["reasoning_effort"], "minimal");

    // Models without a reasoning setting are asked nothing; the run answers all the same.
    let plain = run(
        &app,
        &mock,
        &t,
        json!({"thinking": "high", "model": "openai/gpt-4o"}),
    )
    .await;
    assert!(
        plain.body.get("reasoning_effort").is_none(),
        "{}",
        plain.body
    );

    // Claude with extended thinking: a budget on top of the answer's tokens, no temperature.
    let claude = run(
        &app,
        &mock,
        &t,
        json!({"thinking": "low", "model": "anthropic/claude-sonnet-4-5", "temperature": 0.5}),
    )
    .await;
    assert_eq!(claude.path, "/v1/messages");
    assert_eq!(
        claude.body["thinking"],
        json!({"type": "enabled", "budget_tokens": 4000})
    );
    assert_eq!(claude.body["max_tokens"], 4096 + 4000);
    assert!(claude.body.get("temperature").is_none(), "{}", claude.body);
    let claude_off = run(
        &app,
        &mock,
        &t,
        json!({"thinking": "off", "model": "anthropic/claude-sonnet-4-5", "temperature": 0.5}),
    )
    .await;
    assert!(claude_off.body.get("thinking").is_none());
    assert_eq!(claude_off.body["max_tokens"], 4096);
    assert_eq!(claude_off.body["temperature"], 0.5);

    // WebSocket's `chat.run` takes the same options.
    mock.clear_requests();
    let mut ws = app.ws("/ws", Some(&t.key)).await;
    ws.send(&json!({"method": "chat.run", "id": 1,
                     "params": {"message": "Hello, AI!",
                                "options": {"thinking": "high", "model": "openai/o3-mini"}}}))
        .await;
    let (done, _) = ws.until("chat.done", Some(&json!(1))).await;
    assert_eq!(done["data"]["content"], "mock: Hello, AI!", "{done}");
    assert_eq!(mock.requests()[0].body["reasoning_effort"], "high");

    // A level S4 does not have is still the client's 400.
    let resp = app
        .post_json(
            "/v1/agent/run",
            &t.key,
            &json!({"message": "Hello, AI!", "options": {"thinking": "max"}}),
        )
        .await;
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "options.thinking");
}

#[tokio::test]
async fn claudes_thinking_goes_back_before_its_tool_use_within_the_run() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    // The calculator runs inside the run, so the model is called again with its result.
    // (New tenants have it installed; installing again is harmless either way.)
    let _ = app
        .post_json("/v1/skills/install", &t.key, &json!({"name": "calculator"}))
        .await;
    let thought = "The user wants arithmetic; the calculator is exact.";
    mock.push(Script {
        thinking: Some(thought.into()),
        tool_calls: vec![ToolCall {
            id: "toolu_calc".into(),
            name: "calculator".into(),
            arguments: json!({"expression": "6 * 7"}),
        }],
        ..Default::default()
    });
    mock.push(Script {
        thinking: Some("42 it is.".into()),
        text: Some("It is 42.".into()),
        ..Default::default()
    });
    let resp = app
        .post("/v1/agent/run/stream")
        .bearer_auth(&t.key)
        .json(&json!({"message": "What is 6 * 7?", "sessionKey": "think",
                      "options": {"thinking": "medium", "model": "anthropic/claude-sonnet-4-5"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = read_all(resp).await;
    let names: Vec<&str> = events.iter().filter_map(|e| e.event.as_deref()).collect();
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    // The thinking is never the answer's text.
    let streamed: String = events
        .iter()
        .filter(|e| e.event.as_deref() == Some("delta"))
        .map(|e| e.json()["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(streamed, "It is 42.");

    let sent = mock.requests();
    assert_eq!(sent.len(), 2, "two model calls");
    for req in &sent {
        assert_eq!(req.body["thinking"]["budget_tokens"], 8000, "{}", req.body);
    }
    let messages = sent[1].body["messages"].as_array().unwrap();
    let assistant = messages
        .iter()
        .find(|m| m["role"] == "assistant")
        .expect("the tool-use turn goes back");
    assert_eq!(
        assistant["content"],
        json!([
            {"type": "thinking", "thinking": thought, "signature": THINKING_SIGNATURE},
            {"type": "tool_use", "id": "toolu_calc", "name": "calculator",
             "input": {"expression": "6 * 7"}},
        ])
    );
    let result = &messages.last().unwrap()["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_calc");

    // Nothing of the thinking is kept with the history.
    let conv = app.get_json("/v1/conversations/think", &t.key).await;
    let stored = conv.to_string();
    assert!(
        !stored.contains(thought) && !stored.contains(THINKING_SIGNATURE),
        "{conv}"
    );
    assert_eq!(conv["messages"][1]["content"], "It is 42.", "{conv}");
}
