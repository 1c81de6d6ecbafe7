//! Memory (API.md §5.4): add and search in S0's and S2's shapes, scores and `minScore`, CJK
//! ranking, filters, prune, stats, memories deleted with their conversation, compaction,
//! recall into a run's upstream request, the memory tools, limits and tenant isolation.

use std::time::Duration;

use openclaw_domain::Tier;
use openclaw_mock_llm::{MockLlm, Script, ToolCall};
use openclaw_tests::{expect_error, spawn_app, spawn_with, AppOptions, TestApp, TestTenant};
use reqwest::Method;
use serde_json::{json, Value};

async fn add(app: &TestApp, t: &TestTenant, body: Value) -> Value {
    let resp = app.post_json("/v1/memory", &t.key, &body).await;
    assert_eq!(resp.status(), 201, "{body}");
    resp.json().await.unwrap()
}

async fn search(app: &TestApp, t: &TestTenant, body: Value) -> Vec<Value> {
    let resp = app.post_json("/v1/memory/search", &t.key, &body).await;
    assert_eq!(resp.status(), 200, "{body}");
    let v: Value = resp.json().await.unwrap();
    v["results"].as_array().unwrap().clone()
}

fn contents(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|r| r["content"].as_str().unwrap())
        .collect()
}

async fn stats(app: &TestApp, t: &TestTenant) -> Value {
    app.get_json("/v1/memory/stats", &t.key).await
}

/// `method /v1/memory/{id}` as `t`, expecting the contract's 404.
async fn expect_no_memory(app: &TestApp, t: &TestTenant, method: Method, id: &str) {
    let resp = app
        .request(method, &format!("/v1/memory/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn s0_adds_and_searches_in_its_envelope_and_scores_filter_with_min_score() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    // S0's add, verbatim.
    let body = json!({"content": "用户偏好简洁的回复风格", "tags": ["用户偏好", "风格"],
                      "type": "long-term"});
    let resp = app.post_json("/api/v1/memory", &t.key, &body).await;
    assert_eq!(resp.status(), 201);
    let added: Value = resp.json().await.unwrap();
    assert_eq!(added["success"], true, "{added}");
    let id = added["data"]["memoryId"].as_str().unwrap().to_string();
    assert!(id.starts_with("mem_"), "{added}");
    assert!(added["data"]["createdAt"].is_string(), "{added}");
    add(
        &app,
        &t,
        json!({"content": "OpenClaw 配置文件位于 ~/.openclaw/config.yaml", "source": "MEMORY.md"}),
    )
    .await;
    add(
        &app,
        &t,
        json!({"content": "今天的会议讨论了服务器的配置管理"}),
    )
    .await;
    add(&app, &t, json!({"content": "下周二去北京出差"})).await;

    // S0's GET search with its parameters, enveloped; scores are in 0..1, best first.
    let v = app
        .get_json(
            "/api/v1/memory/search?query=OpenClaw%20%E9%85%8D%E7%BD%AE&limit=5&minScore=0.7",
            &t.key,
        )
        .await;
    assert_eq!(v["success"], true, "{v}");
    let results = v["data"]["results"].as_array().unwrap();
    assert_eq!(
        contents(results),
        ["OpenClaw 配置文件位于 ~/.openclaw/config.yaml"],
        "{v}"
    );
    assert_eq!(results[0]["source"], "MEMORY.md");
    let top = results[0]["score"].as_f64().unwrap();
    assert!((0.7..=1.0).contains(&top), "{v}");

    // Without minScore the partial match comes too, below; with one above its score it goes.
    let all = search(&app, &t, json!({"query": "OpenClaw 配置"})).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let second = all[1]["score"].as_f64().unwrap();
    assert!(second > 0.0 && second < top, "{all:?}");
    let strict = search(
        &app,
        &t,
        json!({"query": "OpenClaw 配置", "minScore": (second + top) / 2.0}),
    )
    .await;
    assert_eq!(strict.len(), 1);

    // S0's curl: `query=配置` as raw UTF-8 in the query string, not percent-encoded.
    let raw = raw_get(&app, "/api/v1/memory/search?query=配置", &t.key).await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let body: Value = serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let found = contents(body["data"]["results"].as_array().unwrap())
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(found.len(), 2, "{body}");
    assert!(!found.iter().any(|c| c.contains("北京")), "{body}");

    // GET with S0's parameters as a JSON body, as its docs show them.
    let resp = app
        .send_json(
            Method::GET,
            "/api/v1/memory/search",
            &t.key,
            &json!({"query": "用户偏好", "limit": 5}),
        )
        .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["data"]["results"][0]["content"], "用户偏好简洁的回复风格",
        "{v}"
    );
    // /v1 is never enveloped; the memory reads back whole.
    let one = app.get_json(&format!("/v1/memory/{id}"), &t.key).await;
    assert_eq!(one["content"], "用户偏好简洁的回复风格");
    assert_eq!(one["tags"], json!(["用户偏好", "风格"]));
    assert_eq!(one["type"], "long-term");
    assert_eq!(one["tier"], "wal");
    assert_eq!(one["source"], "api");
}

/// A GET written byte for byte as curl sends it (no percent-encoding), answer as text.
async fn raw_get(app: &TestApp, target: &str, key: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    conn.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn chinese_and_english_queries_rank_the_matching_memory_first() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    for content in [
        "今天天气很好，我们去公园散步",
        "客户要求下个月交付第一版",
        "OpenClaw 配置文件位于 ~/.openclaw/config.yaml",
        "The user prefers short answers without emoji",
        "Deploys to production happen on Thursdays",
        "사용자는 매운 음식을 좋아하지 않는다",
    ] {
        add(&app, &t, json!({"content": content})).await;
    }
    let top = |results: Vec<Value>| results[0]["content"].as_str().unwrap().to_string();
    assert_eq!(
        top(search(&app, &t, json!({"query": "配置"})).await),
        "OpenClaw 配置文件位于 ~/.openclaw/config.yaml"
    );
    assert_eq!(
        top(search(
            &app,
            &t,
            json!({"query": "what answers does the user prefer?"})
        )
        .await),
        "The user prefers short answers without emoji"
    );
    assert_eq!(
        top(search(&app, &t, json!({"query": "production deploy"})).await),
        "Deploys to production happen on Thursdays"
    );
    assert_eq!(
        top(search(&app, &t, json!({"query": "매운 음식"})).await),
        "사용자는 매운 음식을 좋아하지 않는다"
    );
    // Nothing shares a word with this: no results rather than noise.
    assert!(search(&app, &t, json!({"query": "kubernetes"}))
        .await
        .is_empty());
}

#[tokio::test]
async fn type_and_time_filters_narrow_a_search_and_the_listing() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let old = add(&app, &t, json!({"content": "release notes draft one"})).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let newer = add(
        &app,
        &t,
        json!({"content": "release notes draft two", "type": "short-term", "tags": ["draft"]}),
    )
    .await;
    let cut = newer["created_at"].as_str().unwrap();
    let ids = |r: Vec<Value>| r.iter().map(|m| m["id"].clone()).collect::<Vec<_>>();

    let since = search(&app, &t, json!({"query": "release notes", "since": cut})).await;
    assert_eq!(ids(since), [newer["id"].clone()]);
    let until = search(&app, &t, json!({"query": "release notes", "until": cut})).await;
    assert_eq!(ids(until), [old["id"].clone()]);
    let short = search(
        &app,
        &t,
        json!({"query": "release notes", "type": "short-term"}),
    )
    .await;
    assert_eq!(ids(short), [newer["id"].clone()]);
    assert_eq!(
        search(
            &app,
            &t,
            json!({"query": "release notes", "type": "compacted"})
        )
        .await
        .len(),
        0
    );
    assert_eq!(
        search(&app, &t, json!({"query": "release notes", "type": "all"}))
            .await
            .len(),
        2
    );
    // Short-term memories expire on their own.
    assert!(newer["expires_at"].is_string() && old["expires_at"].is_null());

    // The listing pages newest first and takes the same filters.
    let page = app.get_json("/v1/memory?limit=1", &t.key).await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["memories"][0]["id"], newer["id"]);
    let page = app.get_json("/v1/memory?limit=1&offset=1", &t.key).await;
    assert_eq!(page["memories"][0]["id"], old["id"]);
    let tagged = app.get_json("/v1/memory?tag=draft", &t.key).await;
    assert_eq!(tagged["total"], 1);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let cases = [
        ("/v1/memory", json!({}), "content"),
        ("/v1/memory", json!({"content": "  "}), "content"),
        (
            "/v1/memory",
            json!({"content": "x".repeat(20_000)}),
            "content",
        ),
        (
            "/v1/memory",
            json!({"content": "x", "type": "forever"}),
            "type",
        ),
        ("/v1/memory", json!({"content": "x", "tags": [""]}), "tags"),
        (
            "/v1/memory",
            json!({"content": "x", "tenant_id": "ten_x"}),
            "tenant_id",
        ),
        ("/v1/memory/search", json!({}), "query"),
        (
            "/v1/memory/search",
            json!({"query": "x", "limit": 0}),
            "limit",
        ),
        (
            "/v1/memory/search",
            json!({"query": "x", "minScore": 2}),
            "min_score",
        ),
        (
            "/v1/memory/search",
            json!({"query": "x", "type": "old"}),
            "type",
        ),
        (
            "/v1/memory/search",
            json!({"query": "x", "since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}),
            "until",
        ),
        (
            "/v1/memory/search",
            json!({"query": "x", "since": "yesterday"}),
            "since",
        ),
    ];
    for (path, body, param) in cases {
        let resp = app.post_json(path, &t.key, &body).await;
        let err = expect_error(resp, 400, "invalid_request").await;
        assert_eq!(err["error"]["param"], param, "{path} {body}");
    }
    let resp = app
        .get("/v1/memory/search?query=x&minScore=high")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["error"]["param"], "minScore");
    // Under /api/v1, S2's flat shape with S0's `success: false`.
    let resp = app
        .post_json("/api/v1/memory", &t.key, &json!({"content": ""}))
        .await;
    let v = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["param"], "content");
    // An unknown conversation is 404, like another tenant's.
    let resp = app
        .post_json(
            "/v1/memory",
            &t.key,
            &json!({"content": "x", "conversation_id": "nope"}),
        )
        .await;
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn prune_needs_confirm_and_deletes_only_what_matches_and_stats_follow() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let empty = stats(&app, &t).await;
    assert_eq!(empty["wal"]["entries"], 0);
    assert_eq!(empty["compacted"]["files"], 0);
    assert!(empty["compacted"]["last_compaction"].is_null());

    add(&app, &t, json!({"content": "first note"})).await;
    add(
        &app,
        &t,
        json!({"content": "second note", "type": "short-term"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let kept = add(&app, &t, json!({"content": "third note"})).await;
    let before = kept["created_at"].as_str().unwrap();
    let s = stats(&app, &t).await;
    assert_eq!(s["wal"]["entries"], 3);
    assert_eq!(
        s["wal"]["size_bytes"],
        ("first note".len() + "second note".len() + "third note".len()) as u64
    );
    assert!(s["wal"]["oldest_entry"].is_string());
    assert!(s["total_size_mb"].is_number());

    // S2's prune without confirm: refused, nothing deleted, and told how much would go.
    let prune = |body: Value| {
        app.request(Method::DELETE, "/api/v1/memory/prune")
            .bearer_auth(&t.key)
            .json(&body)
    };
    let resp = prune(json!({"before": before, "type": "wal"}))
        .send()
        .await
        .unwrap();
    let err = expect_error(resp, 400, "invalid_request").await;
    assert_eq!(err["param"], "confirm");
    assert_eq!(err["details"]["matching"], 2);
    let resp = app
        .delete("/v1/memory/prune")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "invalid_request").await;
    assert_eq!(stats(&app, &t).await["wal"]["entries"], 3);

    // With confirm: only the short-term one written before the cut goes.
    let resp = prune(json!({"before": before, "type": "short-term", "confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["deleted"], 1);
    let resp = prune(json!({"before": before, "type": "wal", "confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["deleted"], 1);
    let left = app.get_json("/v1/memory", &t.key).await;
    assert_eq!(left["total"], 1);
    assert_eq!(left["memories"][0]["id"], kept["id"]);
    assert_eq!(stats(&app, &t).await["wal"]["entries"], 1);

    // Deleting one by id.
    let id = kept["id"].as_str().unwrap();
    let resp = app
        .delete(&format!("/v1/memory/{id}"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    expect_no_memory(&app, &t, Method::GET, id).await;
    assert_eq!(stats(&app, &t).await["wal"]["entries"], 0);
}

#[tokio::test]
async fn compaction_folds_wal_entries_into_searchable_summaries_once() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    for content in [
        "The user's favourite colour is teal",
        "The user lives in Lisbon",
        "The user's dog is called Biscuit",
    ] {
        add(&app, &t, json!({"content": content, "tags": ["profile"]})).await;
    }
    add(
        &app,
        &t,
        json!({"content": "Buy milk today", "type": "short-term"}),
    )
    .await;

    let compact = || async {
        let task = json!({"name": "compact now", "type": "memory.compact",
                          "parameters": {"older_than": 0}});
        let resp = app.post_json("/v1/tasks", &t.key, &task).await;
        assert!(resp.status() == 201 || resp.status() == 200);
        let task: Value = resp.json().await.unwrap();
        let id = task["id"].as_str().unwrap().to_string();
        let done = app
            .get_json(&format!("/v1/tasks/{id}?wait=20"), &t.key)
            .await;
        assert_eq!(done["status"], "completed", "{done}");
        done["result"].clone()
    };
    let result = compact().await;
    // The three long-term entries fold into one summary; the lone short-term one is its own.
    assert_eq!(result["folded"], 4, "{result}");
    assert_eq!(result["summaries"], 2, "{result}");
    let s = stats(&app, &t).await;
    assert_eq!(s["wal"]["entries"], 0, "{s}");
    assert_eq!(s["compacted"]["files"], 2, "{s}");
    assert!(s["compacted"]["last_compaction"].is_string(), "{s}");

    // Still searchable, now from the compacted tier, tags kept.
    let found = search(&app, &t, json!({"query": "dog name", "type": "compacted"})).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0]["content"].as_str().unwrap().contains("Biscuit"));
    assert_eq!(found[0]["tier"], "compacted");
    assert_eq!(found[0]["source"], "compaction");
    assert_eq!(found[0]["compacted_from"], 3);
    assert_eq!(found[0]["tags"], json!(["profile"]));
    assert!(search(&app, &t, json!({"query": "teal"})).await.len() == 1);
    let before = app.get_json("/v1/memory", &t.key).await;

    // Again: nothing left to fold, nothing changes but the time of the last compaction.
    let again = compact().await;
    assert_eq!(again["folded"], 0, "{again}");
    let after = app.get_json("/v1/memory", &t.key).await;
    assert_eq!(before["memories"], after["memories"]);
    let later = stats(&app, &t).await;
    assert!(
        later["compacted"]["last_compaction"].as_str()
            >= s["compacted"]["last_compaction"].as_str()
    );
}

#[tokio::test]
async fn memories_stay_in_their_tenant() {
    let app = spawn_app().await;
    let alice = app.create_tenant(Tier::Free).await;
    let bob = app.create_tenant(Tier::Free).await;
    let secret = add(
        &app,
        &alice,
        json!({"content": "Alice's launch code is 0000"}),
    )
    .await;
    let id = secret["id"].as_str().unwrap();
    for method in [Method::GET, Method::DELETE] {
        expect_no_memory(&app, &bob, method, id).await;
    }
    assert!(search(&app, &bob, json!({"query": "launch code"}))
        .await
        .is_empty());
    assert_eq!(app.get_json("/v1/memory", &bob.key).await["total"], 0);
    assert_eq!(stats(&app, &bob).await["wal"]["entries"], 0);
    let resp = app
        .send_json(
            Method::DELETE,
            "/v1/memory/prune",
            &bob.key,
            &json!({"confirm": true}),
        )
        .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["deleted"], 0);
    assert_eq!(
        search(&app, &alice, json!({"query": "launch code"}))
            .await
            .len(),
        1
    );
    // A key without the memory scope is refused.
    let narrow = app
        .admin_key(
            &alice.id,
            json!({"name": "no-memory", "scopes": ["messages"]}),
        )
        .await;
    let resp = app
        .get("/v1/memory")
        .bearer_auth(narrow["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "forbidden").await;
}

#[tokio::test]
async fn the_tenant_memory_limit_is_a_429() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    app.set_limits(&t.id, json!({"memories": 2})).await;
    add(&app, &t, json!({"content": "one"})).await;
    add(&app, &t, json!({"content": "two"})).await;
    let resp = app
        .post_json("/v1/memory", &t.key, &json!({"content": "three"}))
        .await;
    let err = expect_error(resp, 429, "rate_limited").await;
    assert_eq!(err["error"]["details"]["limit"], 2);
}

/// An app whose default model is the mock's, so each upstream request can be read back.
async fn app_with(mock: &MockLlm) -> TestApp {
    crate::tasks::app_with(mock).await
}

fn system_prompt(req: &openclaw_mock_llm::RecordedRequest) -> String {
    req.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "system")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn runs_recall_relevant_memories_into_the_upstream_request() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    add(
        &app,
        &t,
        json!({"content": "The user's favourite colour is teal"}),
    )
    .await;
    add(
        &app,
        &t,
        json!({"content": "Quarterly taxes are due in April"}),
    )
    .await;
    let resp = app
        .post_json(
            "/v1/message",
            &t.key,
            &json!({"message": "Which colour do I like as my favourite?"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let sent = mock.requests();
    let prompt = system_prompt(&sent[0]);
    assert!(prompt.contains("favourite colour is teal"), "{prompt}");
    assert!(!prompt.contains("taxes"), "only what is relevant: {prompt}");
    // The memory tools are offered to the model.
    let tools = sent[0].body["tools"].to_string();
    assert!(
        tools.contains("memory_search") && tools.contains("memory_add"),
        "{tools}"
    );

    // Nothing relevant: no memory message at all.
    mock.clear_requests();
    app.post_json("/v1/message", &t.key, &json!({"message": "hello there"}))
        .await;
    assert_eq!(system_prompt(&mock.requests()[0]), "");

    // OpenAI's API sends the client's own conversation: no recall, no tools added.
    mock.clear_requests();
    let chat = json!({"model": "openai/mock-1",
                      "messages": [{"role": "user", "content": "my favourite colour?"}]});
    app.post_json("/v1/chat/completions", &t.key, &chat).await;
    let sent = mock.requests();
    assert_eq!(system_prompt(&sent[0]), "");
    assert!(sent[0].body.get("tools").is_none(), "{}", sent[0].body);
}

#[tokio::test]
async fn the_model_adds_memories_that_go_with_their_conversation() {
    let mock = MockLlm::start().await;
    let app = app_with(&mock).await;
    let t = app.create_tenant(Tier::Free).await;
    let other = app.create_tenant(Tier::Free).await;
    mock.push(Script {
        tool_calls: vec![ToolCall {
            id: "call_1".into(),
            name: "memory_add".into(),
            arguments: json!({"content": "The user is allergic to peanuts", "tags": ["health"]}),
        }],
        ..Default::default()
    });
    mock.push(Script {
        text: Some("Noted.".into()),
        ..Default::default()
    });
    let resp = app
        .post_json(
            "/v1/message",
            &t.key,
            &json!({"message": "Remember: I'm allergic to peanuts", "conversation_id": "chat-1"}),
        )
        .await;
    let reply: Value = resp.json().await.unwrap();
    assert_eq!(reply["content"], "Noted.", "{reply}");
    let mine = app
        .get_json("/v1/memory?conversation_id=chat-1", &t.key)
        .await;
    assert_eq!(mine["total"], 1, "{mine}");
    let memory = &mine["memories"][0];
    assert_eq!(memory["content"], "The user is allergic to peanuts");
    assert_eq!(memory["source"], "conversation");
    assert_eq!(memory["conversation_id"], "chat-1");
    assert_eq!(memory["tags"], json!(["health"]));

    // The model's search sees it from that conversation; the tool's result reaches the model.
    mock.clear_requests();
    mock.push(Script {
        tool_calls: vec![ToolCall {
            id: "call_2".into(),
            name: "memory_search".into(),
            arguments: json!({"query": "peanuts allergy"}),
        }],
        ..Default::default()
    });
    app.post_json(
        "/v1/message",
        &t.key,
        &json!({"message": "What should I avoid eating?", "conversation_id": "chat-1"}),
    )
    .await;
    let sent = mock.requests();
    let answer = sent[1].body["messages"].to_string();
    assert!(answer.contains("allergic to peanuts"), "{answer}");

    // Another conversation of the tenant does not recall it; deleting its own removes it.
    mock.clear_requests();
    app.post_json(
        "/v1/message",
        &t.key,
        &json!({"message": "Am I allergic to peanuts?", "conversation_id": "chat-2"}),
    )
    .await;
    assert!(!system_prompt(&mock.requests()[0]).contains("allergic"));
    let id = memory["id"].as_str().unwrap();
    expect_no_memory(&app, &other, Method::GET, id).await;
    let resp = app
        .delete("/v1/conversations/chat-1")
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    expect_no_memory(&app, &t, Method::GET, id).await;
    assert_eq!(stats(&app, &t).await["wal"]["entries"], 0);
}

#[tokio::test]
async fn a_token_limited_to_a_session_sees_only_that_sessions_memories() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    add(&app, &t, json!({"content": "company-wide holiday list"})).await;
    let resp = app
        .post_json(
            "/v1/auth/tokens",
            &t.key,
            &json!({"session_id": "browser-1"}),
        )
        .await;
    let token: Value = resp.json().await.unwrap();
    let jwt = token["token"].as_str().unwrap();
    // Its session must exist before memories can go with it.
    app.post_json("/v1/sessions", &t.key, &json!({"session_id": "browser-1"}))
        .await;
    let resp = app
        .post_json(
            "/v1/memory",
            jwt,
            &json!({"content": "browser holiday wish list"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let added: Value = resp.json().await.unwrap();
    assert_eq!(added["conversation_id"], "browser-1");
    let resp = app
        .post_json("/v1/memory/search", jwt, &json!({"query": "holiday"}))
        .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        contents(v["results"].as_array().unwrap()),
        ["browser holiday wish list"]
    );
    let resp = app
        .get("/v1/memory/stats")
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "forbidden").await;
}

#[tokio::test]
async fn status_reports_the_memory_section() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    add(&app, &t, json!({"content": "a note"})).await;
    let status = app.get_json("/v1/status", &t.key).await;
    assert_eq!(status["memory"]["wal_entries"], 1, "{status}");
    assert_eq!(status["memory"]["compacted_files"], 0, "{status}");
}

#[tokio::test]
async fn with_an_embedding_model_similar_meaning_is_found_without_shared_words() {
    let mock = MockLlm::start().await;
    let mut providers = openclaw_tests::mock_providers(&mock);
    providers.embedding_model = Some("openai/mock-embed".into());
    let app = spawn_with(AppOptions {
        providers: Some(providers),
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    add(
        &app,
        &t,
        json!({"content": "The user's favourite colour is teal"}),
    )
    .await;
    add(
        &app,
        &t,
        json!({"content": "Quarterly taxes are due in April"}),
    )
    .await;
    // British and American spelling share no index term, but their vectors are close.
    let found = search(&app, &t, json!({"query": "favorite color"})).await;
    assert_eq!(
        contents(&found),
        ["The user's favourite colour is teal"],
        "{found:?}"
    );
    let score = found[0]["score"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0, "{found:?}");
    // Each memory and the query were embedded with the configured model.
    let embedded: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/embeddings")
        .collect();
    assert_eq!(embedded.len(), 3);
    assert_eq!(embedded[0].body["model"], "mock-embed");
    assert_eq!(embedded[2].body["input"], json!(["favorite color"]));
    // Words still count: an exact match outranks a merely similar one.
    add(
        &app,
        &t,
        json!({"content": "Favorite color of the logo: orange"}),
    )
    .await;
    let found = search(&app, &t, json!({"query": "favorite color"})).await;
    assert_eq!(
        found[0]["content"], "Favorite color of the logo: orange",
        "{found:?}"
    );
}

#[tokio::test]
async fn workers_schedule_compaction_for_memory_old_enough() {
    let mut worker = openclaw_tests::test_worker();
    worker.compact_every = Duration::from_millis(200);
    // Everything written is old enough at once.
    worker.runs.memory.compact_after = chrono::Duration::zero();
    let app = spawn_with(AppOptions {
        worker: Some(worker),
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    add(
        &app,
        &t,
        json!({"content": "The office wifi password is on the fridge"}),
    )
    .await;
    add(
        &app,
        &t,
        json!({"content": "The office opens at 8 on Mondays"}),
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let s = loop {
        let s = stats(&app, &t).await;
        // Finished, not only folded: a compaction is recorded after its last fold commits.
        if s["wal"]["entries"] == 0 && s["compacted"]["last_compaction"].is_string() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "never compacted: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(s["compacted"]["files"], 1, "{s}");
    assert!(s["compacted"]["last_compaction"].is_string());
    let tasks = app.get_json("/v1/tasks", &t.key).await;
    let scheduled = tasks["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["name"] == "memory.compact")
        .unwrap_or_else(|| panic!("no compaction task: {tasks}"));
    assert_eq!(scheduled["status"], "completed", "{tasks}");
    assert!(
        search(&app, &t, json!({"query": "wifi password"}))
            .await
            .len()
            == 1
    );
}

#[tokio::test]
async fn an_old_memory_with_a_rare_word_is_found_among_many_with_a_common_one() {
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Enterprise).await;
    // The oldest memory; then more memories with "user" than one word's share of the candidates.
    add(&app, &t, json!({"content": "The user likes durian"})).await;
    for i in 0..120 {
        add(
            &app,
            &t,
            json!({"content": format!("The user opened ticket {i}")}),
        )
        .await;
    }
    let found = search(&app, &t, json!({"query": "user durian", "limit": 3})).await;
    assert_eq!(found[0]["content"], "The user likes durian", "{found:?}");
    // A common word alone still answers.
    let found = search(&app, &t, json!({"query": "user", "limit": 3})).await;
    assert_eq!(found.len(), 3);
}

fn tenant_of(t: &TestTenant) -> openclaw_domain::TenantId {
    t.id.parse().unwrap()
}

fn new_memory(content: &str) -> openclaw_store::NewMemory {
    openclaw_store::NewMemory {
        content: content.into(),
        tags: Vec::new(),
        kind: openclaw_domain::memory::MemoryKind::LongTerm,
        source: "api".into(),
        session: None,
        expires_at: None,
        embedding: None,
        embed_pending: false,
    }
}

#[tokio::test]
async fn a_memory_written_while_embedding_failed_gets_its_vector_later() {
    use openclaw_engine::memory::{Memory, MemoryConfig};
    use openclaw_store::MemoryFilter;
    let mock = MockLlm::start().await;
    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Free).await;
    let tenant = tenant_of(&t);
    // As `Memory::add` leaves it when the embedding model does not answer: no vector, one owed.
    let owed = app
        .store
        .add_memory(
            tenant,
            openclaw_store::NewMemory {
                embed_pending: true,
                ..new_memory("The user's favourite colour is teal")
            },
            100,
        )
        .await
        .unwrap()
        .unwrap();
    let mut providers = openclaw_tests::mock_providers(&mock);
    providers.embedding_model = Some("openai/mock-embed".into());
    let providers = std::sync::Arc::new(openclaw_engine::Providers::new(providers).unwrap());
    let memory = Memory::new(app.store.clone(), providers, MemoryConfig::default());
    let filter = MemoryFilter::default();
    // No shared word and no vector yet: not found.
    let before = memory
        .search(tenant, "favorite color", &filter, 5, 0.0)
        .await
        .unwrap();
    assert!(before.is_empty(), "{before:?}");
    // What the workers run every 10 s: the vector is filled in once.
    assert_eq!(memory.embed_pending(10).await.unwrap(), 1);
    assert_eq!(memory.embed_pending(10).await.unwrap(), 0);
    let after = memory
        .search(tenant, "favorite color", &filter, 5, 0.0)
        .await
        .unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].memory.id, owed.id);
}

#[tokio::test]
async fn expired_short_term_memories_are_gone_at_once_and_purged_by_the_sweep() {
    // No in-process worker: its own sweep would race this test's and take the row first.
    let app = spawn_with(AppOptions {
        worker: None,
        ..Default::default()
    })
    .await;
    let t = app.create_tenant(Tier::Free).await;
    let expired = app
        .store
        .add_memory(
            tenant_of(&t),
            openclaw_store::NewMemory {
                kind: openclaw_domain::memory::MemoryKind::ShortTerm,
                expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
                ..new_memory("Buy milk on the way home")
            },
            100,
        )
        .await
        .unwrap()
        .unwrap();
    let id = openclaw_engine::memory::memory_wire_id(expired.id);
    expect_no_memory(&app, &t, Method::GET, &id).await;
    assert_eq!(app.get_json("/v1/memory", &t.key).await["total"], 0);
    assert!(search(&app, &t, json!({"query": "milk"})).await.is_empty());
    // Counted until the sweep deletes it (docs/api.md says so), then not.
    assert_eq!(stats(&app, &t).await["wal"]["entries"], 1);
    assert_eq!(app.store.purge_expired_memories(100).await.unwrap(), 1);
    assert_eq!(stats(&app, &t).await["wal"]["entries"], 0);
}
