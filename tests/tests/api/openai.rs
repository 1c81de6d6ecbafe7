//! The OpenAI-compatible dialect (API.md §5.2): `chat.completion` and `chat.completion.chunk`
//! shapes, tools in both directions, sessions, validation, OpenAI's rate-limit headers, the
//! model list — against mock-llm as the upstream — and the official Python SDK end to end.

use std::time::Duration;

use openclaw_domain::Tier;
use openclaw_mock_llm::{MockLlm, Script, ToolCall};
use openclaw_tests::sse::{read_all, SseEvent};
use openclaw_tests::{
    expect_error, mock_providers, openai_and_anthropic, spawn_with, AppOptions, TestApp, TestTenant,
};
use serde_json::{json, Value};

async fn app_with(mock: &MockLlm) -> TestApp {
    spawn_with(AppOptions {
        providers: Some(mock_providers(mock)),
        ..Default::default()
    })
    .await
}

async fn complete(app: &TestApp, t: &TestTenant, body: Value) -> reqwest::Response {
    app.post("/v1/chat/completions")
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn complete_ok(app: &TestApp, t: &TestTenant, body: Value) -> Value {
    let resp = complete(app, t, body).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A streamed completion's frames, after checking it is SSE.
async fn stream(app: &TestApp, t: &TestTenant, body: Value) -> Vec<SseEvent> {
    let resp = complete(app, t, body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    read_all(resp).await
}

/// The body of the last request the upstream received.
fn last_sent(mock: &MockLlm) -> Value {
    mock.requests()
        .last()
        .expect("the upstream was called")
        .body
        .clone()
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// Every field of a non-streamed answer, as OpenAI shapes it.
fn assert_completion_shape(r: &Value, model: &str, content: &str) {
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "system_fingerprint",
    ] {
        assert!(keys.contains(&k), "{k} missing: {r}");
    }
    assert!(r["id"].as_str().unwrap().starts_with("chatcmpl-"), "{r}");
    assert_eq!(r["object"], "chat.completion");
    let created = r["created"].as_i64().unwrap();
    assert!((created - chrono::Utc::now().timestamp()).abs() < 60, "{r}");
    assert_eq!(r["model"], model);
    assert!(r["system_fingerprint"].is_null());
    let choices = r["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 1);
    let c = &choices[0];
    assert_eq!(c["index"], 0);
    assert!(c.get("logprobs").is_some_and(Value::is_null), "{c}");
    assert_eq!(c["finish_reason"], "stop");
    assert_eq!(
        c["message"],
        json!({"role": "assistant", "content": content, "refusal": null}),
        "no tool_calls key without tool calls"
    );
    let u = &r["usage"];
    let (p, q) = (
        u["prompt_tokens"].as_u64().unwrap(),
        u["completion_tokens"].as_u64().unwrap(),
    );
    assert!(p > 0 && q > 0, "{u}");
    assert_eq!(u["total_tokens"], p + q);
}

#[tokio::test]
async fn a_completion_has_openais_shape_for_upstream_and_builtin_models() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;

    let resp = complete(
        &app,
        &t,
        json!({"model": "openai/mock-1", "messages": user("Hello there"), "temperature": 0.5,
               "max_tokens": 50, "stop": ["\n\n"], "top_p": 1, "seed": 7, "n": 1,
               "presence_penalty": 0, "frequency_penalty": 0, "logit_bias": {}, "logprobs": false,
               "response_format": {"type": "text"}, "parallel_tool_calls": true,
               "metadata": {"a": "b"}, "store": false, "service_tier": "auto"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get("x-openclaw-session-key").is_none(),
        "a completion naming no session makes none"
    );
    let run = resp.headers()["x-openclaw-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let r: Value = resp.json().await.unwrap();
    assert_completion_shape(&r, "openai/mock-1", "mock: Hello there");
    assert_eq!(
        r["id"].as_str().unwrap().strip_prefix("chatcmpl-"),
        run.strip_prefix("run_"),
        "the completion is its run"
    );
    let sent = &last_sent(&mock);
    assert_eq!(sent["model"], "mock-1");
    assert_eq!(sent["temperature"], 0.5);
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(sent["stop"], json!(["\n\n"]));
    assert!(
        sent.get("seed").is_none() && sent.get("top_p").is_none(),
        "ignored fields stay here: {sent}"
    );
    // The run is recorded behind the answer (the write-behind batch), in no session.
    app.flush_write_behind().await;
    let tenant: openclaw_domain::TenantId = t.id.parse().unwrap();
    let id = uuid::Uuid::parse_str(run.strip_prefix("run_").unwrap()).unwrap();
    let record = app.store.get_run(tenant, id).await.unwrap().unwrap();
    assert_eq!(
        (
            record.status.as_str(),
            record.session_key.as_deref(),
            record.response.as_deref()
        ),
        ("completed", None, Some("mock: Hello there"))
    );
    let sessions = app.get_json("/v1/sessions", &t.key).await;
    assert_eq!(sessions["sessions"], json!([]), "{sessions}");

    let r = complete_ok(
        &app,
        &t,
        json!({"model": "builtin/echo", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "again"}]}]}),
    )
    .await;
    assert_completion_shape(&r, "builtin/echo", "Echo: Hi\nagain");
}

/// The chunks' `choices[0]`, and the usage chunk if there is one; checks the framing.
fn chunk_parts(events: &[SseEvent]) -> (Vec<Value>, Option<Value>) {
    assert_eq!(
        events.last().map(|e| e.data.as_str()),
        Some("[DONE]"),
        "ends with [DONE]"
    );
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(SseEvent::json)
        .collect();
    let first = &chunks[0];
    assert!(first["id"].as_str().unwrap().starts_with("chatcmpl-"));
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        for k in ["id", "created", "model"] {
            assert_eq!(c[k], first[k], "every chunk has the same {k}");
        }
        assert!(events.iter().all(|e| e.event.is_none()), "data-only frames");
    }
    let (usage, choices): (Vec<Value>, Vec<Value>) = chunks
        .into_iter()
        .partition(|c| c["choices"].as_array().unwrap().is_empty());
    assert!(usage.len() <= 1);
    let usage = usage.into_iter().next();
    let choices = choices
        .into_iter()
        .map(|c| c["choices"][0].clone())
        .collect();
    (choices, usage)
}

#[tokio::test]
async fn streams_chunks_in_order_with_usage_only_when_asked() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;

    mock.push(Script {
        text: Some("one two three".into()),
        ..Default::default()
    });
    let events = stream(
        &app,
        &t,
        json!({"model": "openai/mock-1", "messages": user("count"), "stream": true,
               "stream_options": {"include_usage": true}}),
    )
    .await;
    let (choices, usage) = chunk_parts(&events);
    assert_eq!(
        choices[0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let last = choices.last().unwrap();
    assert_eq!(last["delta"], json!({}));
    assert_eq!(last["finish_reason"], "stop");
    let middle = &choices[1..choices.len() - 1];
    assert!(middle.iter().all(|c| c["finish_reason"].is_null()));
    let text: String = middle
        .iter()
        .map(|c| c["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "one two three");
    let usage = usage.expect("a usage chunk when asked for");
    assert_eq!(
        events[events.len() - 2].json()["choices"],
        json!([]),
        "the usage chunk is last before [DONE]"
    );
    let u = &usage["usage"];
    assert_eq!(
        u["total_tokens"],
        u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
    );
    assert!(u["completion_tokens"].as_u64().unwrap() > 0);
    assert!(
        events[..events.len() - 2]
            .iter()
            .all(|e| e.json()["usage"].is_null()),
        "usage: null on the other chunks"
    );

    // Without include_usage: no usage chunk, no usage key.
    let events = stream(
        &app,
        &t,
        json!({"model": "builtin/echo", "messages": user("a b"), "stream": true}),
    )
    .await;
    let (choices, usage) = chunk_parts(&events);
    assert!(usage.is_none());
    assert!(events[..events.len() - 1]
        .iter()
        .all(|e| e.json().get("usage").is_none()));
    let text: String = choices
        .iter()
        .filter_map(|c| c["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Echo: a b");
}

#[tokio::test]
async fn a_run_failure_mid_stream_is_an_error_frame_and_no_done() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    mock.push(Script {
        text: Some("one two three four".into()),
        disconnect_after_chunks: Some(2),
        ..Default::default()
    });
    let events = stream(
        &app,
        &t,
        json!({"model": "openai/mock-1", "messages": user("x"), "stream": true}),
    )
    .await;
    let last = events.last().unwrap();
    assert_ne!(last.data, "[DONE]");
    let err = last.json();
    assert_eq!(err["error"]["code"], "upstream_error", "{err}");
    assert_eq!(err["error"]["type"], "api_error");
    assert!(err["error"]["message"].is_string());

    // Not streamed: the API's error shape.
    for _ in 0..3 {
        mock.push(Script {
            status: Some(500),
            ..Default::default()
        });
    }
    let resp = complete(
        &app,
        &t,
        json!({"model": "openai/mock-1", "messages": user("x")}),
    )
    .await;
    expect_error(resp, 502, "upstream_error").await;
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

fn scripted_call() -> Script {
    Script {
        tool_calls: vec![ToolCall {
            id: "call_abc".into(),
            name: "get_weather".into(),
            arguments: json!({"city": "Paris", "days": 3}),
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn tools_go_upstream_and_tool_calls_come_back() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;

    mock.push(scripted_call());
    let messages = json!([
        {"role": "developer", "content": "You forecast."},
        {"role": "user", "content": "Weather in Rome?"},
        {"role": "assistant", "content": null, "refusal": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
        {"role": "assistant", "content": "Sunny in Rome."},
        {"role": "user", "content": "And Paris?"},
    ]);
    let r = complete_ok(
        &app,
        &t,
        json!({"model": "openai/mock-1", "messages": messages, "tools": [weather_tool()],
               "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
    )
    .await;
    let c = &r["choices"][0];
    assert_eq!(c["finish_reason"], "tool_calls");
    assert!(c["message"]["content"].is_null(), "{c}");
    let call = &c["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_abc");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args = call["function"]["arguments"]
        .as_str()
        .expect("arguments are a JSON string");
    assert_eq!(
        serde_json::from_str::<Value>(args).unwrap(),
        json!({"city": "Paris", "days": 3})
    );

    // What went upstream: the tools, the choice and the whole converted conversation.
    let sent = &last_sent(&mock);
    assert_eq!(sent["tools"], json!([weather_tool()]));
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "assistant", "user"]
    );
    let m = &sent["messages"];
    assert_eq!(m[0]["content"], "You forecast.");
    assert_eq!(m[2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        serde_json::from_str::<Value>(
            m[2]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap()
        )
        .unwrap(),
        json!({"city": "Rome"})
    );
    assert_eq!(m[3]["tool_call_id"], "call_1");
    assert_eq!(m[3]["content"], "sunny");
    assert_eq!(m[5]["content"], "And Paris?");

    // Streamed: one chunk per call, then finish_reason tool_calls.
    mock.push(scripted_call());
    let events = stream(
        &app,
        &t,
        json!({"model": "openai/mock-1", "messages": user("Paris?"), "tools": [weather_tool()],
               "tool_choice": "required", "stream": true}),
    )
    .await;
    let (choices, _) = chunk_parts(&events);
    let calls: Vec<&Value> = choices
        .iter()
        .filter_map(|c| c["delta"].get("tool_calls"))
        .collect();
    assert_eq!(calls.len(), 1, "{choices:?}");
    let call = &calls[0][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["id"], "call_abc");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "Paris", "days": 3})
    );
    assert_eq!(choices.last().unwrap()["finish_reason"], "tool_calls");
    assert_eq!(last_sent(&mock)["tool_choice"], "required");
}

/// The session's messages as (role, content).
async fn turns(app: &TestApp, t: &TestTenant, session: &str) -> Vec<(String, String)> {
    let conv = app
        .get_json(&format!("/v1/conversations/{session}"), &t.key)
        .await;
    conv["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no conversation {session}: {conv}"))
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().into(),
                m["content"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_session_comes_from_the_header_else_from_user() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;

    let resp = app
        .post("/v1/chat/completions")
        .bearer_auth(&t.key)
        .header("x-openclaw-session-key", "oa-session")
        .json(&json!({"model": "openai/mock-1", "messages": user("first"), "user": "ignored-user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-openclaw-session-key"], "oa-session");
    assert_eq!(
        turns(&app, &t, "oa-session").await,
        [
            ("user".to_string(), "first".to_string()),
            ("assistant".into(), "mock: first".into())
        ]
    );
    let none = app
        .get("/v1/conversations/ignored-user")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404, "the header wins over `user`");

    let resp = complete(
        &app,
        &t,
        json!({"model": "builtin/echo", "messages": user("hello"), "user": "end-user-42"}),
    )
    .await;
    assert_eq!(resp.headers()["x-openclaw-session-key"], "end-user-42");
    assert_eq!(
        turns(&app, &t, "end-user-42").await,
        [
            ("user".to_string(), "hello".to_string()),
            ("assistant".into(), "Echo: hello".into())
        ]
    );
}

#[tokio::test]
async fn sessions_and_runs_are_per_tenant() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let a = app.create_tenant(Tier::Free).await;
    let b = app.create_tenant(Tier::Free).await;
    for (t, text) in [(&a, "from a"), (&b, "from b")] {
        let resp = app
            .post("/v1/chat/completions")
            .bearer_auth(&t.key)
            .header("x-openclaw-session-key", "shared-name")
            .json(&json!({"model": "openai/mock-1", "messages": user(text)}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    // Same key, two sessions: neither sees the other's turn, and the model saw only its own.
    assert_eq!(
        turns(&app, &a, "shared-name").await,
        [
            ("user".to_string(), "from a".to_string()),
            ("assistant".into(), "mock: from a".into())
        ]
    );
    assert_eq!(
        turns(&app, &b, "shared-name").await,
        [
            ("user".to_string(), "from b".to_string()),
            ("assistant".into(), "mock: from b".into())
        ]
    );
    let resp = complete(
        &app,
        &a,
        json!({"model": "openai/mock-1", "messages": user("x")}),
    )
    .await;
    let run = resp.headers()["x-openclaw-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let resp = app
        .get(&format!("/v1/runs/{run}/events"))
        .bearer_auth(&b.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn bad_requests_are_400s_naming_the_field() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    // Pro: more cases than the free tier's burst of 20.
    let t = app.create_tenant(Tier::Pro).await;
    let cases = [
        (json!({"messages": user("x")}), "model"),
        (
            json!({"model": "nosuch/model", "messages": user("x")}),
            "model",
        ),
        (
            json!({"model": "builtin/parrot", "messages": user("x")}),
            "model",
        ),
        // A bare name of a family whose provider is not configured here.
        (
            json!({"model": "claude-3-5-sonnet", "messages": user("x")}),
            "model",
        ),
        (json!({"model": "builtin/echo"}), "messages"),
        (json!({"model": "builtin/echo", "messages": []}), "messages"),
        (
            json!({"model": "builtin/echo", "messages": [{"role": "system", "content": "only"}]}),
            "messages",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("x"), "n": 2}),
            "n",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("x"), "best_of": 2}),
            "best_of",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("x"), "tenant_id": "x"}),
            "tenant_id",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("x"), "temperature": 3}),
            "temperature",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("x"), "stop": ["a", "b", "c", "d", "e"]}),
            "stop",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("x"), "tool_choice": "sometimes"}),
            "tool_choice",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("x"), "tool_choice": "required"}),
            "tool_choice",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("x"), "tools": [{"type": "retrieval"}]}),
            "tools[0]",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("x"),
                   "tools": [{"type": "code", "function": {"name": "f"}}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "builtin/echo", "messages": [{"role": "wizard", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "builtin/echo", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}),
            "messages[0].content[1].type",
        ),
        (
            json!({"model": "builtin/echo", "messages": [{"role": "user", "content": "x", "colour": "red"}]}),
            "messages[0].colour",
        ),
        (
            json!({"model": "builtin/echo", "messages": [{"role": "user", "content": "x"},
                   {"role": "tool", "content": "r"}]}),
            "messages[1].tool_call_id",
        ),
        (
            json!({"model": "builtin/echo", "messages": [{"role": "user", "content": "x"},
                   {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                    "function": {"name": "f", "arguments": {"not": "a string"}}}]}]}),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            json!({"model": "builtin/echo", "messages": user("  ")}),
            "messages[0].content",
        ),
    ];
    for (body, param) in cases {
        let resp = complete(&app, &t, body.clone()).await;
        let err = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{body} → {err}");
        assert_eq!(err["error"]["type"], "invalid_request_error");
    }
    let resp = app
        .post("/v1/chat/completions")
        .bearer_auth(&t.key)
        .header("x-openclaw-session-key", "a/b")
        .json(&json!({"model": "builtin/echo", "messages": user("x")}))
        .send()
        .await
        .unwrap();
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "x-openclaw-session-key");
    assert!(
        mock.requests().is_empty(),
        "nothing invalid reached the model"
    );
}

/// OpenAI's reset notation (`1s`, `3.6s`, `6m0s`, `23h59m59s`, `17ms`) in seconds.
fn parse_openai_duration(s: &str) -> f64 {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse::<f64>().unwrap() / 1000.0;
    }
    let mut total = 0.0;
    let mut num = String::new();
    for ch in s.chars() {
        match ch {
            'h' => total += num.parse::<f64>().unwrap() * 3600.0,
            'm' => total += num.parse::<f64>().unwrap() * 60.0,
            's' => total += num.parse::<f64>().unwrap(),
            _ => {
                num.push(ch);
                continue;
            }
        }
        num.clear();
    }
    assert!(num.is_empty(), "trailing number in {s:?}");
    total
}

#[tokio::test]
async fn completions_carry_openais_rate_limit_headers() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    app.set_limits(&t.id, json!({"tokens_per_day": 5000})).await;

    let resp = complete(
        &app,
        &t,
        json!({"model": "openai/mock-1", "messages": user("count these words")}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    let header = |name: &str| {
        h.get(name)
            .unwrap_or_else(|| panic!("{name} missing: {h:?}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let r: Value = resp.json().await.unwrap();
    assert_eq!(header("x-ratelimit-limit-requests"), "1000");
    assert_eq!(
        header("x-ratelimit-remaining-requests"),
        header("x-ratelimit-remaining"),
        "the same verdict as the API's own headers"
    );
    assert_eq!(header("x-ratelimit-remaining-requests"), "19");
    let reset = parse_openai_duration(&header("x-ratelimit-reset-requests"));
    assert!(
        reset > 0.0 && reset <= 3.6,
        "one request of an hourly 1000 refills in 3.6 s: {reset}"
    );
    assert_eq!(header("x-ratelimit-limit-tokens"), "5000");
    let used = r["usage"]["total_tokens"].as_u64().unwrap();
    assert_eq!(
        header("x-ratelimit-remaining-tokens"),
        (5000 - used).to_string(),
        "this completion's tokens are already counted"
    );
    let midnight = parse_openai_duration(&header("x-ratelimit-reset-tokens"));
    assert!(midnight > 0.0 && midnight <= 86_400.0, "{midnight}");
    // The API's own headers are still there.
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-reset",
        "ratelimit-policy",
        "x-request-id",
    ] {
        assert!(h.contains_key(name), "{name}");
    }

    // Errors and streams carry them too.
    let resp = complete(&app, &t, json!({"model": "builtin/echo"})).await;
    assert_eq!(resp.headers()["x-ratelimit-limit-tokens"], "5000");
    assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], "18");
    expect_error(resp, 400, "invalid_request").await;
    let resp = complete(
        &app,
        &t,
        json!({"model": "builtin/echo", "messages": user("x"), "stream": true}),
    )
    .await;
    assert!(resp.headers().contains_key("x-ratelimit-remaining-tokens"));
    read_all(resp).await;
}

#[tokio::test]
async fn models_are_listed_and_fetched_by_id() {
    let mock = MockLlm::start().await;
    // An Anthropic upstream beside the OpenAI-compatible one (Anthropic's base has no `/v1`).
    let providers = openai_and_anthropic(format!("{}/v1", mock.base_url()), mock.base_url());
    let app = spawn_with(AppOptions {
        providers: Some(providers),
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    let list = app.get_json("/v1/models", &t.key).await;
    assert_eq!(list["object"], "list");
    let data = list["data"].as_array().unwrap();
    let ids: Vec<&str> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
    for want in [
        "builtin/echo",
        "openai/mock-1",
        "openai/gpt-4o",
        "anthropic/claude-sonnet-4-5",
    ] {
        assert!(ids.contains(&want), "{want} not in {ids:?}");
    }
    let claude = data
        .iter()
        .find(|m| m["id"] == "anthropic/claude-sonnet-4-5")
        .unwrap();
    // Anthropic's RFC 3339 `created_at`, in OpenAI's Unix seconds.
    assert_eq!(claude["created"], 1_759_104_000, "{claude}");
    assert_eq!(claude["owned_by"], "anthropic");
    for m in data {
        assert_eq!(m["object"], "model");
        assert!(m["created"].is_i64() && m["owned_by"].is_string(), "{m}");
    }
    let m = app.get_json("/v1/models/openai/mock-1", &t.key).await;
    assert_eq!(
        m,
        // Owned by the provider it is served through, whatever the upstream says (the mock
        // says `openclaw`).
        json!({"id": "openai/mock-1", "object": "model", "created": 1_700_000_000, "owned_by": "openai"})
    );
    let m = app.get_json("/api/v1/models/builtin/echo", &t.key).await;
    assert_eq!(m["id"], "builtin/echo");
    let resp = app
        .get("/v1/models/openai/no-such-model")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;

    // Any valid credential may list models; none may not.
    let k = app
        .admin_key(&t.id, json!({"name": "mem", "scopes": ["memory"]}))
        .await;
    let key = k["key"].as_str().unwrap();
    let resp = app.get("/v1/models").bearer_auth(key).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = complete(
        &app,
        &TestTenant {
            key: key.into(),
            ..t.clone()
        },
        json!({"model": "builtin/echo", "messages": user("x")}),
    )
    .await;
    expect_error(resp, 403, "forbidden").await;
    let resp = app.get("/v1/models").send().await.unwrap();
    expect_error(resp, 401, "unauthorized").await;
}

// ---- the official OpenAI Python SDK ----------------------------------------------------------

/// Runs `tests/python/run.sh BASE_URL KEY SCENARIO EXPECT` (which sets up the pinned SDK in a
/// venv on first use) and fails the test with its output unless it exits 0.
async fn sdk(app: &TestApp, t: &TestTenant, scenario: &str, expect: Value) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/run.sh");
    let run = tokio::process::Command::new("bash")
        .arg(script)
        .arg(format!("{}/v1", app.base))
        .arg(&t.key)
        .arg(scenario)
        .arg(expect.to_string())
        .kill_on_drop(true)
        .output();
    // The first run installs the SDK.
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .unwrap_or_else(|_| panic!("the SDK scenario {scenario} did not finish in 300 s"))
        .expect("bash runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "SDK scenario {scenario} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains(&format!("{scenario}: ok")), "{stdout}");
}

#[tokio::test]
async fn the_official_openai_python_sdk_works_unchanged() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;

    // plain: mock-llm's default echo, no script.
    sdk(&app, &t, "plain", json!({})).await;

    let text = "Streamed through the official SDK, word by word.";
    mock.push(Script {
        text: Some(text.into()),
        ..Default::default()
    });
    sdk(&app, &t, "stream", json!({"text": text})).await;

    let arguments = json!({"city": "Paris", "days": 3});
    mock.push(Script {
        tool_calls: vec![ToolCall {
            id: "call_sdk".into(),
            name: "get_weather".into(),
            arguments: arguments.clone(),
        }],
        ..Default::default()
    });
    sdk(
        &app,
        &t,
        "tools",
        json!({"name": "get_weather", "arguments": arguments}),
    )
    .await;
    // The SDK sent its own assistant message back, then the tool's result.
    let sent = &last_sent(&mock);
    let m = sent["messages"].as_array().unwrap();
    assert_eq!(m.len(), 3, "{sent}");
    assert_eq!(m[1]["tool_calls"][0]["id"], "call_sdk");
    assert_eq!(m[2]["role"], "tool");
    assert_eq!(m[2]["tool_call_id"], "call_sdk");
}
