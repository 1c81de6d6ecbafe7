//! The HTTP providers against mock-llm, the project's only fake: wire shapes, streaming (and
//! whole answers sent in its place), tool calls, retries, timeouts and error mapping, end to
//! end over loopback.

use std::time::{Duration, Instant};

use futures::StreamExt;
use openclaw_domain::{Error, ErrorKind};
use openclaw_engine::provider::{
    build_client, Anthropic, ChatMessage, ChatRequest, FinishReason, HttpConfig, ModelRef,
    OpenAiCompatible, Provider, Providers, ProvidersConfig, RetryPolicy, StreamEvent, Timeouts,
    ToolCall, ToolChoice, ToolSpec, Usage,
};
use openclaw_mock_llm::{MockLlm, Script};
use serde_json::json;

const KEY: &str = "sk-test-SUPERSECRET-0123456789abcdef";

/// Short timeouts and back-off so failures show in milliseconds, not minutes.
fn http(total: Duration, idle: Duration) -> HttpConfig {
    HttpConfig {
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            total,
            idle,
        },
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(3),
        },
    }
}

fn fast() -> HttpConfig {
    http(Duration::from_secs(10), Duration::from_secs(5))
}

fn openai_with(mock: &MockLlm, config: HttpConfig) -> OpenAiCompatible {
    OpenAiCompatible::new(
        format!("{}/v1", mock.base_url()),
        Some(KEY.into()),
        build_client(&config).unwrap(),
        config,
    )
}

fn openai(mock: &MockLlm) -> OpenAiCompatible {
    openai_with(mock, fast())
}

fn anthropic_with(mock: &MockLlm, config: HttpConfig) -> Anthropic {
    Anthropic::new(
        mock.base_url(),
        Some(KEY.into()),
        build_client(&config).unwrap(),
        config,
    )
}

fn anthropic(mock: &MockLlm) -> Anthropic {
    anthropic_with(mock, fast())
}

fn request(model: &str, text: &str) -> ChatRequest {
    ChatRequest::new(
        ModelRef::parse(model).unwrap(),
        vec![
            ChatMessage::system("You are terse."),
            ChatMessage::user(text),
        ],
    )
}

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "weather".into(),
        description: "Forecast for a city".into(),
        parameters: json!({
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        }),
    }
}

fn weather_call() -> openclaw_mock_llm::ToolCall {
    openclaw_mock_llm::ToolCall {
        id: "call_w1".into(),
        name: "weather".into(),
        arguments: json!({"city": "Paris", "days": 3}),
    }
}

fn expected_call() -> ToolCall {
    ToolCall {
        id: "call_w1".into(),
        name: "weather".into(),
        arguments: json!({"city": "Paris", "days": 3}),
    }
}

fn usage(input_tokens: u32, output_tokens: u32) -> Option<openclaw_mock_llm::Usage> {
    Some(openclaw_mock_llm::Usage {
        input_tokens,
        output_tokens,
    })
}

/// Every item of a stream, errors included.
async fn drain(provider: &dyn Provider, req: &ChatRequest) -> Vec<Result<StreamEvent, Error>> {
    provider.stream(req).await.unwrap().collect().await
}

fn deltas(events: &[Result<StreamEvent, Error>]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::Delta(t)) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn openai_complete_returns_text_usage_and_sends_the_openai_shape() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        text: Some("Hello there".into()),
        usage: usage(7, 2),
        ..Script::default()
    });
    let c = openai(&mock)
        .complete(&request("openai/gpt-4o", "hi"))
        .await
        .unwrap();
    assert_eq!(c.content, "Hello there");
    assert_eq!(c.finish_reason, FinishReason::Stop);
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 7,
            output_tokens: 2
        }
    );
    assert_eq!(c.model, "gpt-4o");

    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        seen[0].body,
        json!({
            "model": "gpt-4o",
            "stream": false,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "hi"},
            ],
        })
    );
}

#[tokio::test]
async fn anthropic_complete_returns_text_usage_and_sends_the_messages_shape() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        text: Some("Bonjour".into()),
        usage: usage(11, 1),
        ..Script::default()
    });
    let c = anthropic(&mock)
        .complete(&request("anthropic/claude-sonnet-4-5", "salut"))
        .await
        .unwrap();
    assert_eq!(c.content, "Bonjour");
    assert_eq!(c.finish_reason, FinishReason::Stop);
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 11,
            output_tokens: 1
        }
    );

    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/messages");
    assert_eq!(seen[0].header("x-api-key"), Some(KEY));
    assert_eq!(seen[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(
        seen[0].body,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "stream": false,
            "system": "You are terse.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "salut"}]}],
        })
    );
}

#[tokio::test]
async fn default_mock_reply_echoes_the_last_user_message() {
    let mock = MockLlm::start().await;
    let c = openai(&mock)
        .complete(&request("openai/mock-1", "ping pong"))
        .await
        .unwrap();
    assert_eq!(c.content, "mock: ping pong");
    let c = anthropic(&mock)
        .complete(&request("anthropic/mock-1", "ping pong"))
        .await
        .unwrap();
    assert_eq!(c.content, "mock: ping pong");
}

#[tokio::test]
async fn openai_stream_delivers_deltas_in_order_then_usage() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        text: Some("one two three four 五".into()),
        usage: usage(9, 5),
        ..Script::default()
    });
    let events = drain(&openai(&mock), &request("openai/gpt-4o", "count")).await;
    assert_eq!(deltas(&events), ["one", " two", " three", " four", " 五"]);
    assert_eq!(
        events.last().unwrap(),
        &Ok(StreamEvent::Done {
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input_tokens: 9,
                output_tokens: 5
            },
        })
    );
    let body = &mock.requests()[0].body;
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["model"], json!("gpt-4o"));
}

#[tokio::test]
async fn anthropic_stream_delivers_deltas_in_order_then_usage() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        text: Some("alpha beta gamma".into()),
        usage: usage(4, 3),
        ..Script::default()
    });
    let events = drain(&anthropic(&mock), &request("anthropic/claude", "go")).await;
    assert_eq!(deltas(&events), ["alpha", " beta", " gamma"]);
    assert_eq!(
        events.last().unwrap(),
        &Ok(StreamEvent::Done {
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input_tokens: 4,
                output_tokens: 3
            },
        })
    );
    assert_eq!(mock.requests()[0].body["stream"], json!(true));
}

fn tool_request(model: &str) -> ChatRequest {
    let mut req = request(model, "weather in Paris for 3 days?");
    req.tools = vec![weather_tool()];
    req.tool_choice = Some(ToolChoice::Auto);
    req
}

#[tokio::test]
async fn openai_tool_calls_non_stream_and_streamed() {
    let mock = MockLlm::start().await;
    let provider = openai(&mock);
    let req = tool_request("openai/gpt-4o");

    mock.push(Script {
        tool_calls: vec![weather_call()],
        ..Script::default()
    });
    let c = provider.complete(&req).await.unwrap();
    assert_eq!(c.tool_calls, vec![expected_call()]);
    assert_eq!(c.finish_reason, FinishReason::ToolCalls);

    // The arguments arrive in five fragments and must come out as one parsed object.
    mock.push(Script {
        text: Some("Checking.".into()),
        tool_calls: vec![weather_call()],
        chunks: Some(5),
        ..Script::default()
    });
    let events = drain(&provider, &req).await;
    let events: Vec<_> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(deltas_ok(&events), "Checking.");
    let calls: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(calls, vec![expected_call()]);
    assert!(matches!(
        events.last(),
        Some(StreamEvent::Done {
            finish_reason: FinishReason::ToolCalls,
            ..
        })
    ));

    let body = &mock.requests()[0].body;
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {
            "name": "weather",
            "description": "Forecast for a city",
            "parameters": weather_tool().parameters,
        }}])
    );
    assert_eq!(body["tool_choice"], json!("auto"));
}

fn deltas_ok(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn anthropic_tool_calls_non_stream_and_streamed() {
    let mock = MockLlm::start().await;
    let provider = anthropic(&mock);
    let req = tool_request("anthropic/claude");

    mock.push(Script {
        tool_calls: vec![weather_call()],
        ..Script::default()
    });
    let c = provider.complete(&req).await.unwrap();
    assert_eq!(c.tool_calls, vec![expected_call()]);
    assert_eq!(c.finish_reason, FinishReason::ToolCalls);

    mock.push(Script {
        tool_calls: vec![weather_call()],
        chunks: Some(4),
        ..Script::default()
    });
    let events: Vec<_> = drain(&provider, &req)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(events[0], StreamEvent::ToolCall(expected_call()));
    assert!(matches!(
        events[1],
        StreamEvent::Done {
            finish_reason: FinishReason::ToolCalls,
            ..
        }
    ));

    let body = &mock.requests()[0].body;
    assert_eq!(
        body["tools"],
        json!([{
            "name": "weather",
            "description": "Forecast for a city",
            "input_schema": weather_tool().parameters,
        }])
    );
    assert_eq!(body["tool_choice"], json!({"type": "auto"}));
}

#[tokio::test]
async fn a_tool_round_trip_is_sent_back_in_each_dialect() {
    let mock = MockLlm::start().await;
    let mut req = tool_request("openai/gpt-4o");
    req.messages.push(ChatMessage {
        tool_calls: vec![expected_call()],
        ..ChatMessage::assistant("")
    });
    req.messages
        .push(ChatMessage::tool_result("call_w1", "sunny, 21°C"));
    openai(&mock).complete(&req).await.unwrap();
    req.model = ModelRef::new("anthropic", "claude");
    anthropic(&mock).complete(&req).await.unwrap();

    let seen = mock.requests();
    assert_eq!(
        seen[0].body["messages"][2],
        json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_w1", "type": "function",
            "function": {"name": "weather", "arguments": "{\"city\":\"Paris\",\"days\":3}"}}]})
    );
    assert_eq!(
        seen[0].body["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 21°C"})
    );
    assert_eq!(
        seen[1].body["messages"][1],
        json!({"role": "assistant", "content": [{"type": "tool_use", "id": "call_w1",
            "name": "weather", "input": {"city": "Paris", "days": 3}}]})
    );
    assert_eq!(
        seen[1].body["messages"][2],
        json!({"role": "user", "content": [{"type": "tool_result",
            "tool_use_id": "call_w1", "content": "sunny, 21°C"}]})
    );
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        status: Some(429),
        retry_after_secs: Some(1),
        ..Script::default()
    });
    mock.push(Script {
        text: Some("finally".into()),
        ..Script::default()
    });
    let started = Instant::now();
    let c = openai(&mock)
        .complete(&request("openai/gpt-4o", "hi"))
        .await
        .unwrap();
    assert_eq!(c.content, "finally");
    assert_eq!(mock.requests().len(), 2);
    // Our own back-off is at most 50 ms here, so a wait this long is the upstream's.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn server_errors_before_the_first_token_are_retried_for_streams() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        status: Some(503),
        ..Script::default()
    });
    // Dropped after the role chunk but before any text: nothing was handed out, so retry.
    mock.push(Script {
        text: Some("lost".into()),
        disconnect_after_chunks: Some(0),
        ..Script::default()
    });
    mock.push(Script {
        text: Some("third time lucky".into()),
        ..Script::default()
    });
    let events = drain(&openai(&mock), &request("openai/gpt-4o", "hi")).await;
    assert_eq!(deltas(&events).concat(), "third time lucky");
    assert!(matches!(events.last(), Some(Ok(StreamEvent::Done { .. }))));
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn a_failure_after_the_first_token_is_not_retried() {
    for anthropic_format in [false, true] {
        let mock = MockLlm::start().await;
        mock.push(Script {
            text: Some("alpha beta gamma".into()),
            disconnect_after_chunks: Some(1),
            ..Script::default()
        });
        // What a retry would get; it must never be asked for.
        mock.push(Script {
            status: Some(500),
            ..Script::default()
        });
        let events = if anthropic_format {
            drain(&anthropic(&mock), &request("anthropic/claude", "hi")).await
        } else {
            drain(&openai(&mock), &request("openai/gpt-4o", "hi")).await
        };
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], Ok(StreamEvent::Delta("alpha".into())));
        let err = events[1].as_ref().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Upstream, "{err}");
        assert_eq!(mock.requests().len(), 1, "anthropic: {anthropic_format}");
    }
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let mock = MockLlm::start().await;
    for _ in 0..4 {
        mock.push(Script {
            status: Some(502),
            ..Script::default()
        });
    }
    let err = anthropic(&mock)
        .complete(&request("anthropic/claude", "hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream);
    assert_eq!(err.details["upstream_status"], json!(502));
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn a_hung_upstream_times_out() {
    let mock = MockLlm::start().await;
    let config = http(Duration::from_millis(300), Duration::from_secs(5));
    for streaming in [false, true] {
        mock.push(Script {
            hang: true,
            ..Script::default()
        });
        let provider = openai_with(&mock, config);
        let req = request("openai/gpt-4o", "hi");
        let started = Instant::now();
        let err = if streaming {
            provider.stream(&req).await.map(|_| ()).unwrap_err()
        } else {
            provider.complete(&req).await.unwrap_err()
        };
        assert_eq!(err.kind, ErrorKind::UpstreamTimeout, "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    // A timeout is the call's deadline, never a reason to try again.
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn a_silent_stream_times_out_before_and_after_the_first_token() {
    let mock = MockLlm::start().await;
    let provider = anthropic_with(
        &mock,
        http(Duration::from_secs(10), Duration::from_millis(200)),
    );
    let req = request("anthropic/claude", "hi");

    mock.push(Script {
        ttft_ms: 3000,
        ..Script::default()
    });
    let err = provider.stream(&req).await.map(|_| ()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UpstreamTimeout, "{err}");

    mock.push(Script {
        text: Some("slow words here".into()),
        token_delay_ms: 3000,
        ..Script::default()
    });
    let events = drain(&provider, &req).await;
    assert_eq!(events[0], Ok(StreamEvent::Delta("slow".into())));
    assert_eq!(
        events.last().unwrap().as_ref().unwrap_err().kind,
        ErrorKind::UpstreamTimeout
    );
}

#[tokio::test]
async fn upstream_errors_name_provider_and_status_but_never_the_key() {
    let mock = MockLlm::start().await;
    let leaky = format!("Incorrect API key provided: {KEY}. You can find your API key at …");
    for anthropic_format in [false, true] {
        mock.push(Script {
            status: Some(401),
            error_message: Some(leaky.clone()),
            ..Script::default()
        });
        let err = if anthropic_format {
            anthropic(&mock)
                .complete(&request("anthropic/claude", "hi"))
                .await
        } else {
            openai(&mock)
                .complete(&request("openai/gpt-4o", "hi"))
                .await
        }
        .unwrap_err();
        let name = if anthropic_format {
            "anthropic"
        } else {
            "openai"
        };
        assert_eq!(err.kind, ErrorKind::Upstream);
        assert!(err.message.contains(name), "{}", err.message);
        assert!(err.message.contains("401"), "{}", err.message);
        assert!(
            err.message.contains("Incorrect API key provided"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("SUPERSECRET"), "{}", err.message);
        assert!(!format!("{err:?}").contains("SUPERSECRET"));
        assert_eq!(err.details["provider"], json!(name));
        assert_eq!(err.details["upstream_status"], json!(401));
    }
    // 401 is not transient: one request each.
    assert_eq!(mock.requests().len(), 2);
    assert!(!format!("{:?}", openai(&mock)).contains("SUPERSECRET"));
    assert!(!format!("{:?}", anthropic(&mock)).contains("SUPERSECRET"));
}

#[tokio::test]
async fn a_refused_connection_is_upstream_after_retries() {
    // Bind and drop to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = fast();
    let provider = OpenAiCompatible::new(
        format!("http://127.0.0.1:{port}/v1"),
        Some(KEY.into()),
        build_client(&config).unwrap(),
        config,
    );
    let err = provider
        .complete(&request("openai/gpt-4o", "hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream);
    assert!(err.message.contains("could not connect"), "{}", err.message);
    assert!(!err.message.contains("127.0.0.1"), "{}", err.message);
}

#[tokio::test]
async fn the_registry_routes_to_the_configured_upstream_and_lists_its_models() {
    let mock = MockLlm::start().await;
    let base = format!("{}/v1", mock.base_url());
    let providers = Providers::new(ProvidersConfig::from_lookup(|name| match name {
        "OPENAI_BASE_URL" => Some(base.clone()),
        "ANTHROPIC_BASE_URL" => Some(mock.base_url()),
        "OPENCLAW_DEFAULT_MODEL" => Some("openai/gpt-4o-mini".into()),
        _ => None,
    }))
    .unwrap();

    let (provider, model) = providers.resolve(None).unwrap();
    assert_eq!(model.to_string(), "openai/gpt-4o-mini");
    let c = provider
        .complete(&ChatRequest::new(
            model,
            vec![ChatMessage::user("via default")],
        ))
        .await
        .unwrap();
    assert_eq!(c.content, "mock: via default");
    assert_eq!(mock.requests()[0].body["model"], json!("gpt-4o-mini"));
    assert_eq!(mock.requests()[0].header("authorization"), None);

    let (provider, model) = providers
        .resolve(Some("anthropic/claude-sonnet-4-5"))
        .unwrap();
    let c = provider
        .complete(&ChatRequest::new(
            model,
            vec![ChatMessage::user("via anthropic")],
        ))
        .await
        .unwrap();
    assert_eq!(c.content, "mock: via anthropic");

    let ids: Vec<_> = providers.models().await.into_iter().map(|m| m.id).collect();
    assert_eq!(
        ids,
        [
            "anthropic/claude-sonnet-4-5",
            "builtin/echo",
            "openai/mock-1",
            "openai/gpt-4o",
            "openai/gpt-4o-mini",
            "openai/o3-mini",
            "openai/gpt-5",
            "openai/claude-sonnet-4-5",
        ]
    );

    let err = providers.resolve(Some("mistral/large")).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("model"));
    assert!(
        err.message.contains("anthropic, builtin, openai"),
        "{}",
        err.message
    );
}

/// What a server that ignores `stream: true` sends: one `chat.completion`.
fn whole_completion(content: &str) -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 6, "completion_tokens": 2, "total_tokens": 8},
    })
    .to_string()
}

#[tokio::test]
async fn openai_takes_a_whole_json_answer_to_a_stream_request() {
    let mock = MockLlm::start().await;
    let provider = openai(&mock);
    let req = request("openai/gpt-4o", "hi");
    let answer = |text: &str| {
        vec![
            Ok(StreamEvent::Delta(text.into())),
            Ok(StreamEvent::Done {
                finish_reason: FinishReason::Stop,
                usage: Usage {
                    input_tokens: 6,
                    output_tokens: 2,
                },
            }),
        ]
    };

    // Labelled `application/json`.
    mock.push(Script {
        text: Some("all at once".into()),
        usage: usage(6, 2),
        no_stream: true,
        ..Script::default()
    });
    assert_eq!(drain(&provider, &req).await, answer("all at once"));
    assert_eq!(mock.requests()[0].body["stream"], json!(true));

    // Not labelled at all: the body's first byte tells, for a JSON answer and a stream alike.
    mock.push(Script {
        raw_body: Some(format!("\n  {}", whole_completion("unlabelled"))),
        ..Script::default()
    });
    assert_eq!(drain(&provider, &req).await, answer("unlabelled"));
    let mut sse: String = [
        json!({"choices": [{"index": 0, "delta": {"content": "still a stream"}}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 6, "completion_tokens": 2}}),
    ]
    .iter()
    .map(|chunk| format!("data: {chunk}\n\n"))
    .collect();
    sse.push_str("data: [DONE]\n\n");
    mock.push(Script {
        raw_body: Some(sse),
        ..Script::default()
    });
    assert_eq!(drain(&provider, &req).await, answer("still a stream"));
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn openai_whole_answer_tool_calls_become_tool_call_events() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        text: Some("Checking.".into()),
        tool_calls: vec![weather_call()],
        usage: usage(12, 8),
        no_stream: true,
        ..Script::default()
    });
    let events = drain(&openai(&mock), &tool_request("openai/gpt-4o")).await;
    assert_eq!(
        events,
        vec![
            Ok(StreamEvent::Delta("Checking.".into())),
            Ok(StreamEvent::ToolCall(expected_call())),
            Ok(StreamEvent::Done {
                finish_reason: FinishReason::ToolCalls,
                usage: Usage {
                    input_tokens: 12,
                    output_tokens: 8,
                },
            }),
        ]
    );
}

#[tokio::test]
async fn an_error_object_with_a_2xx_status_is_an_upstream_error() {
    let mock = MockLlm::start().await;
    let provider = openai(&mock);
    let req = request("openai/gpt-4o", "hi");

    // `{"error":{"message":…,"type":"invalid_request_error"}}` with HTTP 200: not transient.
    mock.push(Script {
        status: Some(200),
        error_message: Some("quota exhausted for this key".into()),
        ..Script::default()
    });
    let err = provider.stream(&req).await.map(|_| ()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream, "{err}");
    assert!(err.message.contains("quota exhausted"), "{}", err.message);
    assert_eq!(err.details["provider"], json!("openai"));
    assert_eq!(mock.requests().len(), 1);

    // A server error is worth another attempt, as nothing has reached the caller yet.
    mock.push(Script {
        raw_body: Some(json!({"error": {"message": "busy", "type": "server_error"}}).to_string()),
        ..Script::default()
    });
    mock.push(Script {
        text: Some("after a retry".into()),
        no_stream: true,
        ..Script::default()
    });
    let events = drain(&provider, &req).await;
    assert_eq!(deltas(&events), ["after a retry"]);
    assert!(matches!(events.last(), Some(Ok(StreamEvent::Done { .. }))));
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn a_whole_answer_that_is_not_a_completion_is_an_upstream_error() {
    let mock = MockLlm::start().await;
    let provider = openai(&mock);
    let req = request("openai/gpt-4o", "hi");
    for body in [
        r#"{"choices": [ oops"#,
        r#"{"choices": "none"}"#,
        r#"{"choices": []}"#,
    ] {
        mock.push(Script {
            raw_body: Some(body.into()),
            ..Script::default()
        });
        let err = provider.stream(&req).await.map(|_| ()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Upstream, "{body}: {err}");
        assert_eq!(err.details["provider"], json!("openai"), "{body}");
    }
    // The same body would come back: none is asked for twice.
    assert_eq!(mock.requests().len(), 3);
}
