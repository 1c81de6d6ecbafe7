//! Scripting and observation: the queue, the header, the control endpoints, recorded requests,
//! latencies, cut streams and hung requests.

use std::time::{Duration, Instant};

use openclaw_mock_llm::{MockLlm, Options, Script};
use serde_json::{json, Value};

use crate::helpers::{chat, client, post, post_json, read_body};

fn reply(text: &str) -> Script {
    Script {
        text: Some(text.into()),
        ..Script::default()
    }
}

fn content(body: &Value) -> &str {
    body["choices"][0]["message"]["content"]
        .as_str()
        .or_else(|| body["content"][0]["text"].as_str())
        .expect("a reply text")
}

#[tokio::test]
async fn queue_is_fifo_across_formats_and_the_header_overrides_it() {
    let mock = MockLlm::start().await;
    mock.push(reply("first"));
    mock.push(reply("second"));

    let header_script = serde_json::to_string(&reply("from header")).unwrap();
    let response = client()
        .post(format!("{}/v1/chat/completions", mock.base_url()))
        .header("x-mock-script", header_script)
        .json(&chat("hi"))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(content(&body), "from header");

    let (_, body) = post_json(&mock, "/v1/messages", &chat("hi")).await;
    assert_eq!(content(&body), "first");
    let (_, body) = post_json(&mock, "/v1/chat/completions", &chat("hi")).await;
    assert_eq!(content(&body), "second");
    let (_, body) = post_json(&mock, "/v1/chat/completions", &chat("hi")).await;
    assert_eq!(content(&body), "mock: hi");
}

#[tokio::test]
async fn invalid_header_script_is_a_400_and_leaves_the_queue_alone() {
    let mock = MockLlm::start().await;
    mock.push(reply("queued"));
    let response = client()
        .post(format!("{}/v1/messages", mock.base_url()))
        .header("x-mock-script", "{\"status\": \"loud\"}")
        .json(&chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let (_, body) = post_json(&mock, "/v1/messages", &chat("hi")).await;
    assert_eq!(content(&body), "queued");
}

#[tokio::test]
async fn requests_are_recorded_in_order_and_can_be_cleared() {
    let mock = MockLlm::start().await;
    client()
        .post(format!("{}/v1/chat/completions", mock.base_url()))
        .bearer_auth("sk-test")
        .json(&chat("one"))
        .send()
        .await
        .unwrap();
    client()
        .post(format!("{}/v1/messages", mock.base_url()))
        .header("x-api-key", "ant-key")
        .json(&chat("two"))
        .send()
        .await
        .unwrap();
    client()
        .get(format!("{}/v1/models", mock.base_url()))
        .send()
        .await
        .unwrap();

    let recorded = mock.requests();
    assert_eq!(recorded.len(), 2, "only chat and messages are recorded");
    assert_eq!(recorded[0].path, "/v1/chat/completions");
    assert_eq!(recorded[0].header("Authorization"), Some("Bearer sk-test"));
    assert_eq!(recorded[0].body, chat("one"));
    assert_eq!(recorded[1].path, "/v1/messages");
    assert_eq!(recorded[1].header("x-api-key"), Some("ant-key"));
    assert_eq!(recorded[1].body["messages"][0]["content"], "two");

    mock.clear_requests();
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn recording_can_be_turned_off() {
    let mock = MockLlm::start_with(Options {
        record_requests: false,
        ..Options::default()
    })
    .await;
    let (status, _) = post_json(&mock, "/v1/chat/completions", &chat("hi")).await;
    assert_eq!(status, 200);
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn control_endpoints_push_scripts_and_expose_requests() {
    let mock = MockLlm::start().await;
    let base = mock.base_url();
    let pushed = client()
        .post(format!("{base}/_mock/scripts"))
        .body(r#"{"status": 503, "error_message": "down for a bit"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 204);

    let response = post(&mock, "/v1/chat/completions", &chat("hi")).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "down for a bit");
    assert_eq!(body["error"]["type"], "server_error");

    let listed: Value = client()
        .get(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["path"], "/v1/chat/completions");
    assert_eq!(listed[0]["body"], chat("hi"));

    let cleared = client()
        .delete(format!("{base}/_mock/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert!(mock.requests().is_empty());

    let rejected = client()
        .post(format!("{base}/_mock/scripts"))
        .body(r#"{"hang": "yes"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 400);
}

#[tokio::test]
async fn latencies_add_up_and_each_chunk_is_flushed_on_its_own() {
    let mock = MockLlm::start_with(Options {
        ttft_ms: 150,
        chunks: Some(3),
        ..Options::default()
    })
    .await;
    mock.push(Script {
        text: Some("abcdef".into()),
        delay_ms: 50,
        token_delay_ms: 60,
        ..Script::default()
    });
    let mut request = chat("hi");
    request["stream"] = json!(true);
    let started = Instant::now();
    let response = post(&mock, "/v1/chat/completions", &request).await;
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "delay_ms before headers"
    );
    let received = read_body(response, started).await;
    assert!(received.error.is_none());

    let arrival = |piece: &str| {
        let needle = format!(r#""content":"{piece}""#);
        received
            .reads
            .iter()
            .find(|(_, bytes)| String::from_utf8_lossy(bytes).contains(&needle))
            .map(|(at, _)| *at)
            .unwrap_or_else(|| panic!("{piece} was never received"))
    };
    let (ab, cd, ef) = (arrival("ab"), arrival("cd"), arrival("ef"));
    // 50 ms before the headers plus 150 ms to the first token.
    assert!(ab >= Duration::from_millis(200), "{ab:?}");
    // Had the chunks been buffered, they would arrive together at the end.
    assert!(cd - ab >= Duration::from_millis(55), "{ab:?} {cd:?}");
    assert!(ef - cd >= Duration::from_millis(55), "{cd:?} {ef:?}");
    assert!(received.text().contains(r#""content":"ef""#));
    assert!(received.text().ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn disconnect_after_chunks_cuts_an_openai_stream() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        text: Some("a b c d e".into()),
        disconnect_after_chunks: Some(2),
        ..Script::default()
    });
    let mut request = chat("hi");
    request["stream"] = json!(true);
    let response = post(&mock, "/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    let received = read_body(response, Instant::now()).await;

    assert!(
        received.error.is_some(),
        "the client sees the cut, not a clean end"
    );
    let text = received.text();
    assert!(
        text.contains(r#""content":"a""#) && text.contains(r#""content":" b""#),
        "{text}"
    );
    assert!(!text.contains(r#""content":" c""#), "{text}");
    assert!(!text.contains("[DONE]"));
}

#[tokio::test]
async fn disconnect_after_chunks_cuts_an_anthropic_stream() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        text: Some("a b".into()),
        disconnect_after_chunks: Some(1),
        ..Script::default()
    });
    let mut request = chat("hi");
    request["stream"] = json!(true);
    let response = post(&mock, "/v1/messages", &request).await;
    let received = read_body(response, Instant::now()).await;

    assert!(received.error.is_some());
    let text = received.text();
    assert!(text.contains(r#""text":"a""#), "{text}");
    assert!(!text.contains(r#""text":" b""#), "{text}");
    assert!(!text.contains("message_stop"));
}

#[tokio::test]
async fn hang_never_answers_but_other_requests_are_served() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        hang: true,
        ..Script::default()
    });
    let hung = client()
        .post(format!("{}/v1/chat/completions", mock.base_url()))
        .timeout(Duration::from_millis(300))
        .json(&chat("hi"))
        .send()
        .await;
    let error = hung.expect_err("a hung request times out");
    assert!(error.is_timeout(), "{error}");

    let (status, body) = post_json(&mock, "/v1/chat/completions", &chat("still there")).await;
    assert_eq!(status, 200);
    assert_eq!(content(&body), "mock: still there");
}

#[tokio::test]
async fn stop_cuts_hung_requests_and_slow_streams() {
    let mock = MockLlm::start().await;
    let url = format!("{}/v1/chat/completions", mock.base_url());
    mock.push(Script {
        hang: true,
        ..Script::default()
    });
    let hung = tokio::spawn(client().post(&url).json(&chat("hi")).send());
    let mut slow = chat("a b c");
    slow["stream"] = json!(true);
    let slow_script = Script {
        token_delay_ms: 60_000,
        ..Script::default()
    };
    let streaming = client()
        .post(&url)
        .header(
            "x-mock-script",
            serde_json::to_string(&slow_script).unwrap(),
        )
        .json(&slow)
        .send()
        .await
        .unwrap();
    while mock.requests().len() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    tokio::time::timeout(Duration::from_secs(5), mock.stop())
        .await
        .expect("stop does not wait for hung requests or slow streams");
    assert!(hung.await.unwrap().is_err());
    assert!(read_body(streaming, Instant::now()).await.error.is_some());
}

#[tokio::test]
async fn no_stream_answers_a_stream_request_with_the_whole_reply() {
    let mock = MockLlm::start().await;
    let mut request = chat("hi");
    request["stream"] = json!(true);
    for path in ["/v1/chat/completions", "/v1/messages"] {
        mock.push(Script {
            text: Some("all at once".into()),
            no_stream: true,
            ..Script::default()
        });
        let response = post(&mock, path, &request).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(content(&body), "all at once", "{path}");
    }
}

#[tokio::test]
async fn raw_body_is_sent_verbatim_without_a_content_type() {
    let mock = MockLlm::start().await;
    mock.push(Script {
        raw_body: Some(r#"{"choices": [ oops"#.into()),
        ..Script::default()
    });
    mock.push(Script {
        raw_body: Some("<html>bad gateway</html>".into()),
        status: Some(502),
        ..Script::default()
    });
    let response = post(&mock, "/v1/chat/completions", &chat("hi")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("content-type").is_none());
    assert_eq!(response.text().await.unwrap(), r#"{"choices": [ oops"#);
    let response = post(&mock, "/v1/messages", &chat("hi")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.text().await.unwrap(), "<html>bad gateway</html>");
}
