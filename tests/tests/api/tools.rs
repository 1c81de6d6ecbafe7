//! Runs that execute tools themselves (`RunRequest::executor`): results fed back to the model,
//! concurrent calls, the step bound, foreign tools and failing tools. The HTTP API cannot pass
//! an executor, so these drive a `Runs` of their own over the test database and a mock-llm.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_domain::{TenantId, Tier};
use openclaw_engine::{
    Providers, RunEventKind, RunRequest, Runs, RunsConfig, ToolCall, ToolExecutor, ToolSpec,
    MAX_TOOL_CALLS_PER_STEP,
};
use openclaw_mock_llm::{MockLlm, RecordedRequest, Script, ToolCall as MockCall, Usage};
use openclaw_tests::{mock_providers, spawn_with, AppOptions, TestApp};
use serde_json::{json, Value};
use tokio::sync::Barrier;
use tokio_util::task::TaskTracker;

/// `weather` answers for its `city`; `fail` always fails. With a barrier, every call waits at it
/// first, so calls that are not run concurrently time out instead of meeting.
#[derive(Default)]
struct Tools {
    barrier: Option<Barrier>,
    seen: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl ToolExecutor for Tools {
    fn tools(&self) -> Vec<ToolSpec> {
        ["weather", "fail"]
            .map(|name| ToolSpec {
                name: name.into(),
                description: format!("the {name} tool"),
                parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            })
            .into()
    }

    async fn call(&self, call: &ToolCall) -> Result<Value, String> {
        self.seen.lock().unwrap().push(call.id.clone());
        if let Some(barrier) = &self.barrier {
            tokio::time::timeout(Duration::from_secs(5), barrier.wait())
                .await
                .map_err(|_| "calls were not run concurrently".to_string())?;
        }
        match call.name.as_str() {
            "weather" => Ok(json!({"city": call.arguments["city"], "sky": "sunny"})),
            _ => Err("the weather service is down".into()),
        }
    }
}

struct Setup {
    /// Owns the test database and tenant; its own `Runs` is not used.
    app: TestApp,
    runs: Runs,
    tenant: TenantId,
}

async fn setup(mock: &MockLlm) -> Setup {
    let app = spawn_with(AppOptions {
        providers: Some(mock_providers(mock)),
        ..Default::default()
    })
    .await;
    let tenant = app.create_tenant(Tier::Free).await.id.parse().unwrap();
    let providers = Providers::new(mock_providers(mock)).unwrap();
    let runs = Runs::new(
        app.store.clone(),
        None,
        Arc::new(providers),
        TaskTracker::new(),
        RunsConfig::default(),
    );
    Setup { app, runs, tenant }
}

impl Setup {
    /// Runs `message` with `tools` as executor to its end; every event's kind, in order.
    async fn run(&self, tools: Arc<Tools>, max_steps: Option<u32>) -> Vec<RunEventKind> {
        let started = self
            .runs
            .start(RunRequest {
                tenant: self.tenant,
                session_key: Some("s".into()),
                message: "weather in Paris?".into(),
                model: Some("openai/mock-1".into()),
                executor: Some(tools),
                max_steps,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut events = started.events;
        let mut kinds = Vec::new();
        while let Some(e) = events.next().await {
            kinds.push(e.kind);
        }
        kinds
    }

    /// The tool calls recorded on the run's reply.
    async fn recorded_calls(&self) -> Value {
        let store = &self.app.store;
        let session = store.get_session(self.tenant, "s").await.unwrap().unwrap();
        let (messages, _) = store
            .list_messages(self.tenant, session.id, 10, i64::MAX)
            .await
            .unwrap();
        let reply = messages.last().unwrap();
        assert_eq!(reply.role, "assistant");
        reply.tool_calls.clone().unwrap_or(Value::Null)
    }
}

fn call(id: &str, name: &str, city: &str) -> MockCall {
    MockCall {
        id: id.into(),
        name: name.into(),
        arguments: json!({"city": city}),
    }
}

fn asks(calls: Vec<MockCall>) -> Script {
    Script {
        tool_calls: calls,
        ..Default::default()
    }
}

fn says(text: &str) -> Script {
    Script {
        text: Some(text.into()),
        ..Default::default()
    }
}

/// `(finish_reason, content, input_tokens, output_tokens)` of the final `Done`.
fn done(events: &[RunEventKind]) -> (&str, &str, u64, u64) {
    match events.last() {
        Some(RunEventKind::Done {
            finish_reason,
            content,
            input_tokens,
            output_tokens,
            ..
        }) => (finish_reason, content, *input_tokens, *output_tokens),
        other => panic!("the run did not complete: {other:?}"),
    }
}

fn results(events: &[RunEventKind]) -> Vec<(&str, &Value, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEventKind::ToolResult {
                id,
                output,
                is_error,
                ..
            } => Some((id.as_str(), output, *is_error)),
            _ => None,
        })
        .collect()
}

fn count(events: &[RunEventKind], f: fn(&RunEventKind) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

fn messages(request: &RecordedRequest) -> &[Value] {
    request.body["messages"].as_array().unwrap()
}

/// A `tool` message's content, parsed back from the JSON text it carries.
fn tool_output(message: &Value) -> Value {
    serde_json::from_str(message["content"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn an_executed_tools_result_goes_back_to_the_model_which_then_answers() {
    let mock = MockLlm::start().await;
    let s = setup(&mock).await;
    mock.push(Script {
        usage: Some(Usage {
            input_tokens: 10,
            output_tokens: 3,
        }),
        ..asks(vec![call("call_1", "weather", "Paris")])
    });
    mock.push(Script {
        usage: Some(Usage {
            input_tokens: 20,
            output_tokens: 5,
        }),
        ..says("Sunny in Paris.")
    });
    let events = s.run(Arc::new(Tools::default()), None).await;

    let position = |f: fn(&RunEventKind) -> bool| events.iter().position(f).unwrap();
    let (call_at, result_at) = (
        position(|e| matches!(e, RunEventKind::ToolCall { .. })),
        position(|e| matches!(e, RunEventKind::ToolResult { .. })),
    );
    assert!(
        call_at < result_at && result_at < events.len() - 1,
        "{events:?}"
    );
    let sunny = json!({"city": "Paris", "sky": "sunny"});
    assert_eq!(results(&events), vec![("call_1", &sunny, false)]);
    assert_eq!(
        done(&events),
        ("stop", "Sunny in Paris.", 30, 8),
        "usage is summed over the steps"
    );

    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    let offered: Vec<&Value> = sent[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["function"]["name"])
        .collect();
    // The run's own tools, then the tenant's installed skills (its own `weather` shadows the
    // installed one), then the memory tools every agent run offers.
    assert_eq!(
        offered,
        vec![
            "weather",
            "fail",
            "calculator",
            "current_time",
            "file_read",
            "web_fetch",
            "memory_search",
            "memory_add"
        ]
    );
    let second = messages(&sent[1]);
    assert_eq!(second.len(), 3, "{second:?}");
    assert_eq!(
        second[0],
        json!({"role": "user", "content": "weather in Paris?"})
    );
    assert_eq!(
        second[1],
        json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]})
    );
    assert_eq!(second[2]["role"], "tool");
    assert_eq!(second[2]["tool_call_id"], "call_1");
    assert_eq!(tool_output(&second[2]), sunny);

    assert_eq!(
        s.recorded_calls().await,
        json!([{"id": "call_1", "name": "weather", "arguments": {"city": "Paris"},
            "result": sunny, "is_error": false}])
    );
}

#[tokio::test]
async fn two_calls_in_one_answer_run_concurrently_and_both_results_go_back() {
    let mock = MockLlm::start().await;
    let s = setup(&mock).await;
    mock.push(asks(vec![
        call("call_a", "weather", "Paris"),
        call("call_b", "weather", "Rome"),
    ]));
    mock.push(says("Both sunny."));
    let tools = Arc::new(Tools {
        barrier: Some(Barrier::new(2)),
        ..Default::default()
    });
    let events = s.run(tools, None).await;

    let (paris, rome) = (
        json!({"city": "Paris", "sky": "sunny"}),
        json!({"city": "Rome", "sky": "sunny"}),
    );
    assert_eq!(
        results(&events),
        vec![("call_a", &paris, false), ("call_b", &rome, false)],
        "results in call order, neither timed out at the barrier"
    );
    assert_eq!(done(&events).0, "stop");
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    let second = messages(&sent[1]);
    assert_eq!(second[1]["tool_calls"].as_array().unwrap().len(), 2);
    let answered: Vec<(&Value, Value)> = second[2..]
        .iter()
        .map(|m| (&m["tool_call_id"], tool_output(m)))
        .collect();
    assert_eq!(
        answered,
        vec![(&json!("call_a"), paris), (&json!("call_b"), rome)]
    );
}

#[tokio::test]
async fn calls_past_the_per_answer_cap_are_answered_not_executed() {
    let mock = MockLlm::start().await;
    let s = setup(&mock).await;
    let asked = MAX_TOOL_CALLS_PER_STEP + 2;
    mock.push(asks(
        (0..asked)
            .map(|i| call(&format!("call_{i}"), "weather", &format!("City {i}")))
            .collect(),
    ));
    mock.push(says("Enough weather."));
    let tools = Arc::new(Tools::default());
    let events = s.run(tools.clone(), None).await;

    let mut executed = tools.seen.lock().unwrap().clone();
    executed.sort_by_key(|id| id[5..].parse::<usize>().unwrap());
    let first: Vec<String> = (0..MAX_TOOL_CALLS_PER_STEP)
        .map(|i| format!("call_{i}"))
        .collect();
    assert_eq!(executed, first, "only the first calls are executed");
    let results = results(&events);
    assert_eq!(results.len(), asked, "every call gets a result");
    for (i, (id, output, is_error)) in results.iter().enumerate() {
        assert_eq!(*id, format!("call_{i}"));
        if i < MAX_TOOL_CALLS_PER_STEP {
            assert!(!is_error, "{id}: {output}");
        } else {
            assert!(is_error, "{id}");
            let message = output["error"].as_str().unwrap();
            assert!(
                message.contains(&format!("at most {MAX_TOOL_CALLS_PER_STEP} tool calls")),
                "{message}"
            );
        }
    }
    // The model reads all of it: a tool message for every call, the refusals among them.
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    let answers = &messages(&sent[1])[2..];
    assert_eq!(answers.len(), asked);
    assert!(tool_output(&answers[asked - 1])["error"]
        .as_str()
        .unwrap()
        .starts_with("not executed"));
    assert_eq!(done(&events).0, "stop");
    let recorded = s.recorded_calls().await;
    assert_eq!(recorded.as_array().unwrap().len(), asked);
    assert_eq!(recorded[asked - 1]["is_error"], true);
}

#[tokio::test]
async fn a_model_that_always_asks_for_tools_stops_at_max_steps() {
    let mock = MockLlm::start().await;
    let s = setup(&mock).await;
    for i in 0..5 {
        mock.push(Script {
            text: Some(format!("step {i}. ")),
            ..asks(vec![call(&format!("call_{i}"), "weather", "Paris")])
        });
    }
    let events = s.run(Arc::new(Tools::default()), Some(3)).await;

    assert_eq!(mock.requests().len(), 3, "exactly max_steps model calls");
    let (finish_reason, content, _, _) = done(&events);
    assert_eq!(finish_reason, "max_steps");
    assert_eq!(content, "step 0. step 1. step 2. ");
    assert_eq!(
        count(&events, |e| matches!(e, RunEventKind::ToolCall { .. })),
        3
    );
    assert_eq!(
        results(&events).len(),
        2,
        "the last step's call is not executed: no model call would read its result"
    );
}

#[tokio::test]
async fn a_call_to_a_tool_the_executor_lacks_ends_the_turn_as_before() {
    let mock = MockLlm::start().await;
    let s = setup(&mock).await;
    // One foreign call is enough: the caller has to run it, so none of them runs here.
    mock.push(asks(vec![
        call("call_1", "weather", "Paris"),
        call("call_2", "search", "Paris"),
    ]));
    let tools = Arc::new(Tools::default());
    let events = s.run(tools.clone(), None).await;

    assert_eq!(done(&events).0, "tool_calls");
    assert_eq!(mock.requests().len(), 1);
    assert!(results(&events).is_empty());
    assert!(tools.seen.lock().unwrap().is_empty());
    assert_eq!(
        count(&events, |e| matches!(e, RunEventKind::ToolCall { .. })),
        2
    );
    let recorded = s.recorded_calls().await;
    assert_eq!(recorded[1]["name"], "search");
    assert!(recorded[0].get("result").is_none(), "{recorded}");
}

#[tokio::test]
async fn a_failing_tool_is_reported_to_the_model_and_the_run_completes() {
    let mock = MockLlm::start().await;
    let s = setup(&mock).await;
    mock.push(asks(vec![call("call_1", "fail", "Paris")]));
    mock.push(says("I could not find out, sorry."));
    let events = s.run(Arc::new(Tools::default()), None).await;

    let failure = json!({"error": "the weather service is down"});
    assert_eq!(results(&events), vec![("call_1", &failure, true)]);
    let (finish_reason, content, ..) = done(&events);
    assert_eq!(
        (finish_reason, content),
        ("stop", "I could not find out, sorry.")
    );
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    let tool = &messages(&sent[1])[2];
    assert_eq!(tool["tool_call_id"], "call_1");
    assert_eq!(tool_output(tool), failure);
    assert_eq!(s.recorded_calls().await[0]["is_error"], true);
}
